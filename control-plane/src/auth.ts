// Bearer-token authentication. Admin tokens carry an identity (recorded in the audit trail); proxies (filters and
// node agents) share one token. The token file is JSON {"admin": {"<identity>": "<token>"}, "proxy": "<token>"};
// on first start it is generated into the data directory (mode 0600) and the caller prints the tokens once.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { invalidArgument, unauthenticated } from './errors.ts';

export interface TokenFile {
  admin: Record<string, string>;
  proxy: string;
}

// The kind prefix makes a leaked token recognisable (and greppable by secret scanners), and it keeps a token from
// starting with '-': 1 in 64 bare base64url tokens did, and `meshlens --token <it>` then read it as an option.
export function generateToken(kind: 'admin' | 'proxy'): string {
  return `meshlens_${kind}_${randomBytes(24).toString('base64url')}`;
}

export function generateTokenFile(): TokenFile {
  return { admin: { admin: generateToken('admin') }, proxy: generateToken('proxy') };
}

/** Loads the token file, creating it when absent. `created` tells the caller to print the tokens once. */
export function loadOrCreateTokens(path: string): { tokens: TokenFile; created: boolean } {
  if (!existsSync(path)) {
    const tokens = generateTokenFile();
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return { tokens, created: true };
  }
  return { tokens: parseTokenFile(JSON.parse(readFileSync(path, 'utf8'))), created: false };
}

export function parseTokenFile(value: unknown): TokenFile {
  const file = value as Partial<TokenFile> | null;
  if (!file || typeof file !== 'object') throw invalidArgument('invalid token file: root must be an object');
  if (!file.admin || typeof file.admin !== 'object' || Object.keys(file.admin).length === 0) {
    throw invalidArgument('invalid token file: admin must map at least one identity to a token');
  }
  for (const [identity, token] of Object.entries(file.admin)) {
    if (typeof token !== 'string' || token.length < 16) {
      throw invalidArgument(`invalid token file: admin.${identity} must be a string of at least 16 characters`);
    }
  }
  if (typeof file.proxy !== 'string' || file.proxy.length < 16) {
    throw invalidArgument('invalid token file: proxy must be a string of at least 16 characters');
  }
  return { admin: { ...file.admin }, proxy: file.proxy };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares tokens in constant time (over their digests, so lengths do not leak either). */
export class Authenticator {
  readonly #admin: { identity: string; digest: Buffer }[];
  readonly #proxy: Buffer;

  constructor(tokens: TokenFile) {
    this.#admin = Object.entries(tokens.admin).map(([identity, token]) => ({ identity, digest: digest(token) }));
    this.#proxy = digest(tokens.proxy);
  }

  /** Returns the identity of an admin `authorization` header value or throws UNAUTHENTICATED. */
  admin(authorization: string | undefined): string {
    const presented = bearer(authorization);
    let identity: string | undefined;
    for (const entry of this.#admin) if (timingSafeEqual(entry.digest, presented) && identity === undefined) identity = entry.identity;
    if (identity === undefined) throw unauthenticated('unauthenticated: authorization must carry a valid admin bearer token');
    return identity;
  }

  /** Accepts the shared proxy token (filters, node agents) or throws UNAUTHENTICATED. */
  proxy(authorization: string | undefined): void {
    if (!timingSafeEqual(this.#proxy, bearer(authorization))) {
      throw unauthenticated('unauthenticated: authorization must carry the proxy bearer token');
    }
  }
}

function bearer(authorization: string | undefined): Buffer {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw unauthenticated('unauthenticated: authorization must be "Bearer <token>"');
  return digest(match[1]);
}

/** First `authorization` metadata value of a gRPC call, as a string. */
export function authorizationOf(metadata: { get(key: string): (string | Buffer)[] }): string | undefined {
  const value = metadata.get('authorization')[0];
  return value === undefined ? undefined : String(value);
}
