// The admin operations as JSON over HTTP (/v1/...), plus /metrics, /healthz and /readyz. Errors use the same codes
// and messages as gRPC through toHttpStatus(). Bodies are limited in size and checked for unknown top-level fields.
// With `tls` it serves HTTPS with the gRPC listener's certificate options (client certificates required when a CA
// is given). /metrics, /healthz and /readyz need no token: they carry no secrets, every metric label set is
// bounded, and Istio's metrics merging and kubelet probes cannot present one (documented in the README).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { AdminOperations } from './admin-operations.ts';
import type { CommitConfirmed } from './commit-confirmed.ts';
import type { Authenticator } from './auth.ts';
import { asControlPlaneError, invalidArgument, notFound, resourceExhausted, toHttpStatus, ControlPlaneError } from './errors.ts';
import { LIMITS, quote } from './limits.ts';
import type { Logger } from './logging.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import { serveConsole } from '../ui/serve.ts';

export interface HttpApiOptions {
  operations: AdminOperations;
  confirmations: CommitConfirmed;        // commit-confirmed writes and GET /v1/confirmations
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  ready: () => boolean;
  notReadyReason?: () => string;         // said in /readyz's 503 body (e.g. why the store does not answer)
  maxBodyBytes?: number;                 // default LIMITS.maxHttpBodyBytes
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

type Handler = (ctx: { actor: string; params: string[]; body: Record<string, unknown>; query: URLSearchParams }) => unknown;

interface Route { method: string; pattern: RegExp; operation: string; bodyFields?: string[]; handler: Handler }

export function createHttpApi(options: HttpApiOptions): Server {
  const ops = options.operations;
  const { confirmations } = options;
  const routes: Route[] = [
    { method: 'GET', pattern: /^\/v1\/policies$/, operation: 'ListPolicies', handler: () => ops.list() },
    { method: 'GET', pattern: /^\/v1\/policies\/([^/]+)$/, operation: 'GetPolicy', handler: ({ params }) => ops.get(params[0]) },
    {
      method: 'PUT', pattern: /^\/v1\/policies\/([^/]+)$/, operation: 'SetPolicy', bodyFields: ['expectedVersion', 'policy', 'confirm'],
      handler: ({ actor, params, body }) => (body.confirm === undefined || body.confirm === null
        ? ops.set(actor, params[0], body.expectedVersion, body.policy)
        : confirmations.apply(actor, params[0], body.expectedVersion, body.policy, body.confirm)),
    },
    {
      method: 'DELETE', pattern: /^\/v1\/policies\/([^/]+)$/, operation: 'DeletePolicy',
      handler: ({ actor, params, query }) => ops.delete(actor, params[0], query.get('expectedVersion') ?? undefined),
    },
    {
      method: 'GET', pattern: /^\/v1\/policies\/([^/]+)\/history$/, operation: 'GetHistory',
      handler: async ({ params }) => ({ entries: await ops.history(params[0]) }),
    },
    {
      method: 'POST', pattern: /^\/v1\/policies\/([^/]+)\/rollback$/, operation: 'Rollback', bodyFields: ['toVersion', 'expectedVersion'],
      handler: ({ actor, params, body }) => ops.rollback(actor, params[0], body.toVersion, body.expectedVersion),
    },
    {
      method: 'GET', pattern: /^\/v1\/rollout$/, operation: 'GetRolloutStatus',
      handler: ({ query }) => ops.rolloutStatus(query.get('pageSize') ?? undefined, query.get('pageToken') ?? undefined),
    },
    {
      method: 'POST', pattern: /^\/v1\/dry-run$/, operation: 'DryRun', bodyFields: ['policy', 'windowMinutes'],
      handler: ({ body }) => ops.dryRun(body.policy, body.windowMinutes),
    },
    // Rollout totals per control-plane replica (Admin.ListReplicas over gRPC).
    { method: 'GET', pattern: /^\/v1\/replicas$/, operation: 'ListReplicas', handler: () => ops.replicas() },
    // The correlation state a joining replica takes from a peer (Admin.GetCorrelatorState over gRPC).
    { method: 'GET', pattern: /^\/v1\/correlator-state$/, operation: 'GetCorrelatorState', handler: () => ops.correlatorState() },
    { method: 'GET', pattern: /^\/v1\/correlations$/, operation: 'ListCorrelations', handler: () => ops.correlationReport() },
    { method: 'GET', pattern: /^\/v1\/endpoints$/, operation: 'ListEndpoints', handler: () => ops.endpoints() },
    { method: 'GET', pattern: /^\/v1\/breakers$/, operation: 'ListBreakers', handler: () => ops.breakers() },
    {
      method: 'GET', pattern: /^\/v1\/confirmations$/, operation: 'ListConfirmations',
      handler: async ({ query }) => ({ confirmations: await confirmations.list(query.get('all') === 'true') }),
    },
  ];

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => {
      options.logger.error('http handler crashed', { error: String(error) });
      if (!res.headersSent) send(res, 500, { code: 'INTERNAL', message: 'internal error' });
    });
  };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined }, listener)
    : createServer(listener);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const text = await options.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    // The console's static files (no data in them); its API calls go through the authenticated routes below.
    if (req.method === 'GET' && serveConsole(url.pathname, res)) return;
    if (req.method === 'GET' && url.pathname === '/readyz') {
      return options.ready() ? send(res, 200, { status: 'ready' }) : send(res, 503, { status: 'not ready', reason: options.notReadyReason?.() ?? '' });
    }
    const started = performance.now();
    let operation = 'unknown';
    let code = 'OK';
    try {
      const pathMatches = routes.filter((route) => route.pattern.test(url.pathname));
      if (pathMatches.length === 0) throw notFound(`no route for ${quote(url.pathname)}`);
      const route = pathMatches.find((candidate) => candidate.method === req.method);
      if (!route) throw new ControlPlaneError('INVALID_ARGUMENT', `invalid request: method must be one of ${pathMatches.map((r) => r.method).join(', ')}`);
      operation = route.operation;
      const actor = options.auth.admin(req.headers.authorization);
      const params = route.pattern.exec(url.pathname)!.slice(1).map(decodeParam);
      const body = route.bodyFields ? await readJsonBody(req, options.maxBodyBytes ?? LIMITS.maxHttpBodyBytes, route.bodyFields) : {};
      const result = await route.handler({ actor, params, body, query: url.searchParams });
      send(res, 200, result);
    } catch (error) {
      const { status, body } = toHttpStatus(error);
      code = asControlPlaneError(error).code;
      if (status === 500) options.logger.error('admin operation failed', { operation, error: body.message });
      send(res, status, body);
    } finally {
      options.metrics.adminRequestDuration.observe({ transport: 'http', operation, code }, (performance.now() - started) / 1000);
    }
  }

  return server;
}

/** A malformed %-escape is the client's mistake (400), not ours (decodeURIComponent throws URIError). */
function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalidArgument('invalid request: path must use valid percent-encoding');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage, maxBytes: number, allowed: string[]): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    throw resourceExhausted(`invalid request: body must be at most ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw resourceExhausted(`invalid request: body must be at most ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw invalidArgument('invalid request: body must be valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidArgument('invalid request: body must be a JSON object');
  }
  for (const key of Object.keys(parsed)) {
    if (!allowed.includes(key)) throw invalidArgument(`invalid request: ${key} must not be present (allowed: ${allowed.join(', ')})`);
  }
  return parsed as Record<string, unknown>;
}
