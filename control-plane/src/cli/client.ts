// The CLI's HTTP(S) client of the admin API (/v1/...). Errors say what an operator can act on: which token was used
// (flag, environment variable or file) when the server answers 401, where a token file was expected and how to get
// one, which address could not be reached.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath, join } from 'node:path';
import { DEFAULT_DATA_DIR, DEFAULT_HTTP_PORT } from '../defaults.ts';
import { UsageError, type Context } from './framework.ts';

/** A request that failed (exit code 1); `status` is the HTTP status when the server answered. */
export class RequestError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

interface Token { value: string; source: string }

/**
 * The first admin token of a token file ({"admin": {"<identity>": "<token>"}, "proxy": "..."}, auth.ts). Read here
 * rather than through auth.ts's parseTokenFile: that module pulls in @grpc/grpc-js (through errors.ts), which costs
 * the CLI ~100 ms of start-up on every call for a lookup this small.
 */
function tokenFromFile(path: string): Token {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new RequestError(`no admin token: the token file ${path} does not exist. The control plane writes tokens.json into its ` +
        `data directory on first start (npm start and meshlens serve: ./.meshlens/, or --data-dir); pass --token-file FILE or ` +
        `--data-dir DIR, or the token itself with --token or MESHLENS_TOKEN`);
    }
    throw new RequestError(`cannot read the token file ${path}: ${code === 'EACCES' ? 'permission denied (it is written 0600 for the user running the control plane)' : (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RequestError(`invalid token file ${path}: content must be JSON {"admin": {"<identity>": "<token>"}, "proxy": "<token>"}`);
  }
  const admin = (parsed as { admin?: unknown } | null)?.admin;
  const first = admin && typeof admin === 'object' ? Object.entries(admin as Record<string, unknown>)[0] : undefined;
  if (!first || typeof first[1] !== 'string' || first[1].length === 0) {
    throw new RequestError(`invalid token file ${path}: admin must map at least one identity to a token`);
  }
  return { value: first[1], source: `the token file ${path} (identity "${first[0]}")` };
}

function adminToken(ctx: Context): Token {
  const { flags, io } = ctx;
  if (typeof flags.token === 'string') return { value: flags.token, source: 'the --token flag' };
  if (io.env.MESHLENS_TOKEN) return { value: io.env.MESHLENS_TOKEN, source: 'the environment variable MESHLENS_TOKEN' };
  const file = (flags['token-file'] as string | undefined) ?? io.env.MESHLENS_TOKEN_FILE
    ?? join((flags['data-dir'] as string | undefined) ?? io.env.MESHLENS_DATA_DIR ?? DEFAULT_DATA_DIR, 'tokens.json');
  return tokenFromFile(resolvePath(file));
}

function baseUrl(ctx: Context): URL {
  const text = (ctx.flags.url as string | undefined) ?? ctx.io.env.MESHLENS_URL ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid flag: --url must be an http:// or https:// URL, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`invalid flag: --url must be an http:// or https:// URL, got "${text}"`);
  return url;
}

function caBundle(ctx: Context): Buffer | undefined {
  const file = (ctx.flags.ca as string | undefined) ?? ctx.io.env.MESHLENS_CA;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new RequestError(`cannot read the CA file ${file}: ${(error as Error).message}`);
  }
}

const TIMEOUT_MS = 30_000;

/** Calls the admin API and returns the parsed JSON answer; anything but 2xx becomes a RequestError. */
export async function call<T = unknown>(ctx: Context, method: string, path: string, body?: unknown): Promise<T> {
  const base = baseUrl(ctx);
  const url = new URL(path, base);
  const token = adminToken(ctx);
  const ca = caBundle(ctx);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization: `Bearer ${token.value}`, accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  // node:https only when needed: loading TLS is start-up time a plain-HTTP call should not pay.
  const transport = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const answer = await new Promise<{ status: number; text: string }>((done, fail) => {
    const request = transport.request(url, { method, headers, ...(ca ? { ca } : {}), timeout: TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', fail);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', fail);
    request.end(payload);
  }).catch((error: Error) => {
    throw new RequestError(`cannot reach the control plane at ${url.origin}: ${error.message}`);
  });
  let parsed: { code?: string; message?: string } | undefined;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    parsed = undefined;
  }
  if (answer.status >= 200 && answer.status < 300 && parsed !== undefined) return parsed as T;
  const reason = parsed?.code ? `${parsed.code}: ${parsed.message}` : `non-JSON answer: ${answer.text.slice(0, 200)}`;
  if (answer.status === 401) {
    throw new RequestError(`${answer.status} ${reason} (the admin token came from ${token.source}; is it this control plane's?)`, 401);
  }
  throw new RequestError(`${answer.status} ${reason}`, answer.status);
}
