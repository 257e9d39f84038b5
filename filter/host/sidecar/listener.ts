// The downstream side: an HTTP/1.1 listener that runs each request through one worker's filter VM and the router,
// in Envoy's order (filter on_request_headers → router → filter on_response_headers → body → on_log).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { FAIL_STREAM_REPLY, type HttpStream, type LocalReply, type LogInfo, type StreamProps } from '../index.ts';
import { httpToGrpcStatus } from '../properties.ts';
import { ResponseFlags } from './response-flags.ts';
import { matchRoute, type RouteConfig } from './route-table.ts';
import { DEFAULT_ROUTE_TIMEOUT_MS, forwardRequest, type RouterOptions } from './router.ts';
import type { ClusterPool } from './upstream-pool.ts';

/** The part of ProxyWasmPlugin the listener drives. */
export interface StreamHost {
  readonly workerCount: number;
  openStream(worker: number, props: StreamProps): HttpStream;
}

export interface ListenerOptions {
  host: StreamHost;
  clusters: ReadonlyMap<string, ClusterPool>;
  routes: readonly RouteConfig[];
  router?: RouterOptions;
}

// Connection-level headers never cross a proxy (RFC 9110 §7.6.1); Envoy's HTTP/1 codec regenerates framing.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'content-length']);

/** What the router knew about the upstream side when the response was decided. */
interface UpstreamSide {
  upstreamAddress?: string;
  upstreamLocalAddress?: string;
  upstreamTransportFailureReason?: string;
  attemptCount?: number;
  flags?: ResponseFlags;
}

/** A response about to be written downstream: status, headers (with :status) and, for local replies, a body. */
interface Head {
  headers: [string, string][];
  body?: string;
}

function isGrpcRequest(headers: readonly [string, string][]): boolean {
  return headers.some(([k, v]) => k === 'content-type' && v.startsWith('application/grpc'));
}

/** Headers of an Envoy local reply (Http::Utility::sendLocalReply); gRPC requests get a trailers-only response. */
export function localReplyHead(reply: LocalReply, grpc: boolean): Head {
  if (grpc) {
    const headers: [string, string][] = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', String(reply.grpcStatus ?? httpToGrpcStatus(reply.status))],
    ];
    if (reply.body) headers.push(['grpc-message', encodeURIComponent(reply.body)]);
    return { headers: headers.concat(reply.headers), body: '' };
  }
  const headers: [string, string][] = [[':status', String(reply.status)]];
  if (reply.body) headers.push(['content-length', String(Buffer.byteLength(reply.body))], ['content-type', 'text/plain']);
  return { headers: headers.concat(reply.headers), body: reply.body };
}

/** A reply the filter issued: the host already ran on_response_headers and returns the final headers. */
function filterReplyHead(reply: LocalReply, grpc: boolean): Head {
  return { headers: [[':status', grpc ? '200' : String(reply.status)], ...reply.headers], body: grpc ? '' : reply.body };
}

function statusOf(headers: readonly [string, string][]): number {
  return Number(headers.find(([k]) => k === ':status')?.[1] ?? 0);
}

function grpcStatusOf(headers: readonly [string, string][] | undefined): number | undefined {
  const value = headers?.find(([k]) => k === 'grpc-status')?.[1];
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

function address(ip: string | undefined, port: number | undefined): string | undefined {
  if (ip === undefined || port === undefined) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request header map Envoy's HCM hands to the filter chain. */
function downstreamHeaders(req: http.IncomingMessage): [string, string][] {
  const headers: [string, string][] = [
    [':authority', req.headers.host ?? ''],
    [':path', req.url ?? '/'],
    [':method', req.method ?? 'GET'],
    [':scheme', 'http'],
  ];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name !== 'host') headers.push([name, req.rawHeaders[i + 1]!]);
  }
  if (!headers.some(([k]) => k === 'x-forwarded-proto')) headers.push(['x-forwarded-proto', 'http']);
  if (!headers.some(([k]) => k === 'x-request-id')) headers.push(['x-request-id', randomUUID()]);
  return headers;
}

export function createListener(options: ListenerOptions): http.Server {
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 0;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug here must not take the process down; the client sees a reset like a crashed worker would give.
      process.stderr.write(`sidecar: request failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    connectionIds.set(socket, nextConnectionId++);
  });
  server.keepAliveTimeout = 60_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const connectionId = connectionIds.get(req.socket) ?? 0;
    const requestHeaders = downstreamHeaders(req);
    const grpc = isGrpcRequest(requestHeaders);
    const authority = req.headers.host ?? '';
    const route = matchRoute(options.routes, authority, req.url ?? '/');
    // Envoy pins a downstream connection to one worker for its whole life; connections are spread round-robin.
    const stream = options.host.openStream(connectionId % options.host.workerCount, {
      cluster: route?.cluster ?? '',
      protocol: `HTTP/${req.httpVersion}`,
      sourceAddress: address(req.socket.remoteAddress, req.socket.remotePort),
      destinationAddress: address(req.socket.localAddress, req.socket.localPort),
      connectionId,
    });
    const flags = new ResponseFlags();
    let requestBytes = 0;
    let responseBytes = 0;
    let logged = false;
    const finish = (info: Omit<LogInfo, 'durationMs' | 'responseFlags'>, upstream: UpstreamSide = {}): void => {
      if (logged) return;
      logged = true;
      const { flags: routerFlags, ...upstreamInfo } = upstream;
      if (routerFlags) flags.merge(routerFlags);
      stream.log({ ...info, ...upstreamInfo, requestBytes, responseBytes, responseFlags: flags.format(), durationMs: performance.now() - startedAt });
    };
    let resetByProxy = false;
    res.on('close', () => {
      if (!res.writableFinished && !resetByProxy) flags.set('DC');
    });
    const reset = (upstream: UpstreamSide = {}): void => {
      resetByProxy = true;
      res.destroy();
      finish({ responseCode: 0 }, upstream);
    };

    const writeHead = (headers: readonly [string, string][]): void => {
      const flat: string[] = [];
      for (const [k, v] of headers) {
        if (!k.startsWith(':') && k !== 'server' && !(HOP_BY_HOP.has(k) && k !== 'content-length')) flat.push(k, v);
      }
      // The HCM's default server_header_transformation OVERWRITE, applied after the filter chain.
      flat.push('server', 'envoy');
      res.writeHead(statusOf(headers), flat);
    };
    const sendHead = (head: Head, upstream: UpstreamSide = {}): void => {
      writeHead(head.headers);
      responseBytes = Buffer.byteLength(head.body ?? '');
      res.end(head.body ?? '');
      const done = () => finish({ responseCode: statusOf(head.headers), grpcStatus: grpcStatusOf(head.headers), responseHeaders: head.headers }, upstream);
      // on_log once the last byte is handed to the connection (Envoy's stream completion), or on an abort.
      if (res.writableFinished) done();
      else {
        res.once('finish', done);
        res.once('close', done);
      }
    };
    /**
     * Runs on_response_headers (Envoy's encoder chain sees router local replies too) and returns what goes
     * downstream: the headers the filter left, the filter's own local reply, or the fail-closed 503.
     */
    const encode = (head: Head, endOfStream: boolean): Head | 'reset' => {
      const outcome = stream.responseHeaders(head.headers, endOfStream);
      switch (outcome.action) {
        case 'failed':
          return localReplyHead({ ...FAIL_STREAM_REPLY, headers: [] }, grpc);
        case 'localReply':
          return filterReplyHead(outcome.reply, grpc);
        case 'reset':
          return 'reset';
        default:
          // 'paused' response headers are not resumable through this host API; they continue unchanged.
          return { headers: stream.forwardedResponseHeaders?.() ?? head.headers, body: head.body };
      }
    };
    const sendLocalReply = (reply: LocalReply, upstream: UpstreamSide): void => {
      const head = localReplyHead(reply, grpc);
      const encoded = encode(head, (head.body ?? '') === '');
      if (encoded === 'reset') reset(upstream);
      else sendHead(encoded, upstream);
    };

    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let decision = stream.requestHeaders(requestHeaders, !hasBody);
    const body = await readBody(req);
    requestBytes = body.length;
    if (decision.action === 'paused') decision = stream.whenResumed ? await stream.whenResumed() : { action: 'continue' };
    switch (decision.action) {
      case 'localReply':
        return sendHead(filterReplyHead(decision.reply, grpc));
      case 'failed':
        return sendHead(localReplyHead({ ...FAIL_STREAM_REPLY, headers: [] }, grpc));
      case 'reset':
        return reset();
      default:
        break;
    }

    const forwarded = stream.forwardedRequestHeaders();
    const cluster = route && options.clusters.get(route.cluster);
    if (!route || !cluster) {
      const noRoute = new ResponseFlags();
      noRoute.set(route ? 'NC' : 'NR');
      const details = route ? 'cluster_not_found' : 'route_not_found';
      return sendLocalReply({ status: route ? 503 : 404, body: '', details, headers: [] }, { flags: noRoute });
    }
    const pseudo = (name: string) => forwarded.find(([k]) => k === name)?.[1];
    const outcome = await forwardRequest(
      cluster,
      {
        method: pseudo(':method') ?? req.method ?? 'GET',
        path: pseudo(':path') ?? req.url ?? '/',
        authority: pseudo(':authority') ?? authority,
        headers: forwarded.filter(([k]) => !k.startsWith(':') && !HOP_BY_HOP.has(k)),
        body,
      },
      route.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS,
      options.router,
    );
    const upstreamSide: UpstreamSide = {
      upstreamAddress: outcome.upstreamAddress,
      upstreamLocalAddress: outcome.upstreamLocalAddress || undefined,
      attemptCount: outcome.attemptCount,
      flags: outcome.flags,
    };
    if (outcome.kind === 'localReply') {
      upstreamSide.upstreamTransportFailureReason = outcome.transportFailureReason;
      return sendLocalReply({ status: outcome.status, body: outcome.body, details: outcome.details, headers: [] }, upstreamSide);
    }

    const upstream = outcome.response;
    const upstreamHead: Head = {
      headers: [[':status', String(upstream.status)], ...upstream.headers, ['x-envoy-upstream-service-time', String(outcome.upstreamServiceTimeMs)]],
    };
    const bodyless = upstream.status === 204 || upstream.status === 304 || req.method === 'HEAD' ||
      upstream.headers.some(([k, v]) => k === 'content-length' && v.trim() === '0');
    const encoded = encode(upstreamHead, bodyless);
    if (encoded === 'reset' || encoded.body !== undefined) {
      upstream.body.destroy();
      return encoded === 'reset' ? reset(upstreamSide) : sendHead(encoded, upstreamSide);
    }
    writeHead(encoded.headers);
    upstream.body.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
    // The upstream dying mid-body is UC, unless we cut it because the client went away first (DC).
    upstream.body.on('error', () => {});
    upstream.body.on('close', () => {
      if (upstream.isComplete()) return;
      if (!flags.has('DC')) outcome.flags.set('UC');
      resetByProxy = true;
      res.destroy();
    });
    // Trailers (gRPC's grpc-status) are relayed in the chunked HTTP/1.1 response when the upstream sends them.
    upstream.body.on('end', () => {
      const trailers = upstream.trailers();
      if (trailers.length > 0) res.addTrailers(trailers);
      res.end();
    });
    const complete = () => {
      if (!upstream.isComplete()) upstream.body.destroy();
      const trailers = upstream.trailers();
      finish(
        {
          responseCode: upstream.status,
          grpcStatus: grpcStatusOf(trailers) ?? grpcStatusOf(upstream.headers),
          responseHeaders: encoded.headers,
          responseTrailers: trailers.length > 0 ? trailers : undefined,
        },
        upstreamSide,
      );
    };
    res.once('finish', complete);
    res.once('close', complete);
    upstream.body.pipe(res, { end: false });
  }

  return server;
}
