// meshlens CLI: `serve` runs the control plane; every other command is a client of the HTTP admin API, so the CLI
// can never do what the API would refuse. USAGE below is the reference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTokenFile } from './auth.ts';
import { formatCorrelations, formatEndpoints } from './correlation-format.ts';
import { formatBreakers, formatOpenBreakers } from './breaker-format.ts';
import type { BreakersView } from './breaker-states.ts';
import type { CorrelationView, EndpointStatus, RouteView } from './correlator.ts';
import { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, startControlPlane } from './server.ts';

const USAGE = `usage: meshlens <command> [options]
  serve [--data-dir D] [--grpc-port N] [--http-port N] [--host H] [--token-file F]
        [--tls-cert F --tls-key F [--tls-ca F]]          run the control plane
  policy list | get <id> | history <id>
  policy set <id> --file policy.json|- [--expected-version N]   (N = the version replaced; 0 creates)
  policy delete <id> --expected-version N
  policy rollback <id> --to N --expected-version M
  rollout status                                        every filter VM's ACKed version and last NACK
  dry-run --file policy.json|- [--minutes N]            what a breaker would have done on recent telemetry
  endpoints [--json]                                    each upstream endpoint's verdict, signals vs baseline, history
  correlations [--json]                                 recent kernel flows joined to requests, retransmits per route
  breakers [--json]                                     breaker state per scope over the proxies, why, recent transitions
client options: --url U (env MESHLENS_URL, default http://127.0.0.1:${DEFAULT_HTTP_PORT})
                --token T (env MESHLENS_TOKEN) or --token-file F (default ./.meshlens/tokens.json)`;

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        'data-dir': { type: 'string' }, 'grpc-port': { type: 'string' }, 'http-port': { type: 'string' },
        host: { type: 'string' }, 'token-file': { type: 'string' }, 'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' }, url: { type: 'string' }, token: { type: 'string' },
        file: { type: 'string' }, json: { type: 'boolean' }, 'expected-version': { type: 'string' }, to: { type: 'string' }, minutes: { type: 'string' },
      },
    });
  } catch (error) {
    // parseArgs throws a TypeError with a stack; an operator needs the reason and the usage, nothing else.
    process.stderr.write(`meshlens: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

const { values: flags, positionals } = parseCommandLine();

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535) throw new Error(`invalid flag: --${flag} must be a port in [0, 65535]`);
  return number;
}

function integer(value: string | undefined, flag: string): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new Error(`invalid flag: --${flag} must be a non-negative integer`);
  return Number(value);
}

async function serve(): Promise<void> {
  const dataDir = flags['data-dir'] ?? DEFAULT_DATA_DIR;
  if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) throw new Error('invalid flag: --tls-cert and --tls-key must be given together');
  const plane = await startControlPlane({
    dataDir,
    grpcHost: flags.host, httpHost: flags.host,
    grpcPort: port(flags['grpc-port'], DEFAULT_GRPC_PORT, 'grpc-port'),
    httpPort: port(flags['http-port'], DEFAULT_HTTP_PORT, 'http-port'),
    tokenFile: flags['token-file'],
    tls: flags['tls-cert'] ? { certFile: flags['tls-cert'], keyFile: flags['tls-key']!, caFile: flags['tls-ca'] } : undefined,
    onTokensCreated: (_tokens, path) => {
      // Where, never what: stdout ends up in pod logs, and a token there is readable by whoever reads logs.
      process.stdout.write(`meshlens: generated the admin and proxy tokens in ${path} (mode 0600)\n`);
    },
  });
  process.stdout.write(JSON.stringify({ event: 'listening', grpcPort: plane.grpcPort, httpPort: plane.httpPort }) + '\n');
  const stop = () => { plane.close().then(() => process.exit(0), () => process.exit(1)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function adminToken(): string {
  if (flags.token) return flags.token;
  if (process.env.MESHLENS_TOKEN) return process.env.MESHLENS_TOKEN;
  const path = flags['token-file'] ?? join(flags['data-dir'] ?? DEFAULT_DATA_DIR, 'tokens.json');
  return Object.values(parseTokenFile(JSON.parse(readFileSync(path, 'utf8'))).admin)[0];
}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const base = flags.url ?? process.env.MESHLENS_URL ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`;
  const url = new URL(path, base);
  const headers = { authorization: `Bearer ${adminToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw new Error(`cannot reach the control plane at ${url.origin}: ${cause?.message ?? (error as Error).message}`);
  }
  const payload = await response.json().catch(() => ({ message: `non-JSON answer with HTTP ${response.status}` })) as { code?: string; message?: string };
  if (!response.ok) throw new Error(`${response.status} ${payload.code}: ${payload.message}`);
  return payload;
}

function readPolicyFile(): unknown {
  if (!flags.file) throw new Error('invalid flag: --file must name a JSON policy file (or - for stdin)');
  return JSON.parse(readFileSync(flags.file === '-' ? 0 : flags.file, 'utf8'));
}

function id(): string {
  const value = positionals[2];
  if (!value) throw new Error(`invalid command: ${positionals.slice(0, 2).join(' ')} needs a policy id`);
  return encodeURIComponent(value);
}

async function main(): Promise<void> {
  const [command, sub] = positionals;
  if (flags.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  let result: unknown;
  if (command === 'serve') return serve();
  if (command === 'policy' && sub === 'list') result = await call('GET', '/v1/policies');
  else if (command === 'policy' && sub === 'get') result = await call('GET', `/v1/policies/${id()}`);
  else if (command === 'policy' && sub === 'history') result = await call('GET', `/v1/policies/${id()}/history`);
  else if (command === 'policy' && sub === 'set') {
    result = await call('PUT', `/v1/policies/${id()}`, { expectedVersion: integer(flags['expected-version'] ?? '0', 'expected-version'), policy: readPolicyFile() });
  } else if (command === 'policy' && sub === 'delete') {
    result = await call('DELETE', `/v1/policies/${id()}?expectedVersion=${integer(flags['expected-version'], 'expected-version')}`);
  } else if (command === 'policy' && sub === 'rollback') {
    result = await call('POST', `/v1/policies/${id()}/rollback`, {
      toVersion: integer(flags.to, 'to'), expectedVersion: integer(flags['expected-version'], 'expected-version'),
    });
  } else if (command === 'rollout' && sub === 'status') result = await call('GET', '/v1/rollout');
  else if (command === 'dry-run') {
    result = await call('POST', '/v1/dry-run', { policy: readPolicyFile(), windowMinutes: flags.minutes === undefined ? undefined : integer(flags.minutes, 'minutes') });
  } else if (command === 'endpoints' && sub === undefined) {
    const answer = await call('GET', '/v1/endpoints') as { endpoints: EndpointStatus[] } & Partial<BreakersView>;
    if (!flags.json) return void process.stdout.write(formatEndpoints(answer.endpoints) + formatOpenBreakers(answer.breakers));
    result = answer;
  } else if (command === 'correlations' && sub === undefined) {
    const answer = await call('GET', '/v1/correlations') as { correlations: CorrelationView[]; routes: RouteView[] } & Partial<BreakersView>;
    if (!flags.json) return void process.stdout.write(formatCorrelations(answer.correlations, answer.routes) + formatOpenBreakers(answer.breakers));
    result = answer;
  } else if (command === 'breakers' && sub === undefined) {
    const answer = await call('GET', '/v1/breakers') as BreakersView;
    if (!flags.json) return void process.stdout.write(formatBreakers(answer.breakers, answer.transitions));
    result = answer;
  } else throw new Error(`unknown command "${positionals.join(' ')}"\n${USAGE}`);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((error: Error) => {
  process.stderr.write(`meshlens: ${error.message}\n`);
  process.exit(1);
});
