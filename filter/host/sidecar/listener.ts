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
import { StreamedBody } from './request-body.ts';
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

/**
 * Envoy's HTTP/1 defaults (HttpConnectionManager.max_request_headers_kb 60, HttpProtocolOptions.max_headers_count
 * 100; envoy v1.36.0 63ee0dc79d api/envoy/config/core/v3/protocol.proto, http_connection_manager.proto). With the
 * default Balsa parser the 60 KiB bound covers the whole header block, request line included
 * (source/common/http/http1/codec_impl.cc: BalsaParser(type, this, max_headers_kb_ * 1024, ...)), which is what
 * Node's maxHeaderSize bounds too.
 */
export const MAX_REQUEST_HEADERS_BYTES = 60 * 1024;
export const MAX_HEADERS_COUNT = 100;

/** A protocol error Envoy's HTTP/1 codec answers itself (sendProtocolError) before any filter saw request headers. */
interface CodecError { status: number; details: string }

// Node's parser error codes → Envoy's codec answer (codec_impl.cc dispatchSlice: "headers size exceeds limit" is
// 431 http1.headers_too_large, every other parser error 400 http1.codec_error).
function codecErrorOf(err: NodeJS.ErrnoException): CodecError {
  return err.code === 'HPE_HEADER_OVERFLOW'
    ? { status: 431, details: 'http1.headers_too_large' }
    : { status: 400, details: 'http1.codec_error' };
}

/** The status line text Envoy's codec errors use as their body (CodeUtility::toString). */
function codeText(status: number): string {
  return http.STATUS_CODES[status] ?? 'Unknown';
}

interface Target { authority: string; path: string; scheme: string }

/**
 * The request target as Envoy's HTTP/1 codec turns it into :authority/:path (codec_impl.cc handlePath, v1.36.0):
 * origin-form keeps Host; absolute-form replaces Host with the URI's authority (RFC 9112 §3.2.2; allow_absolute_url
 * defaults to true, source/common/http/http1/settings.cc) and keeps path and query; CONNECT's authority-form has no :path; anything else is
 * http1.invalid_url. Repeated Host lines join with "," as Envoy's header map appends inline headers
 * (header_map_impl.cc insertByKey); the result is then judged by HeaderUtility::authorityIsValid, which allows ",".
 */
function requestTarget(req: http.IncomingMessage, connect: boolean): Target | CodecError {
  const url = req.url ?? '';
  const hosts: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') hosts.push(req.rawHeaders[i + 1]!);
  const host = hosts.join(',');
  if (connect) return { authority: url, path: '', scheme: '' };
  if (url.startsWith('/') || (req.method === 'OPTIONS' && url.startsWith('*'))) return { authority: host, path: url, scheme: 'http' };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { status: 400, details: 'http1.invalid_url' };
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { status: 400, details: 'http1.invalid_scheme' };
  if (parsed.host === '') return { status: 400, details: 'http1.invalid_url' };
  return { authority: parsed.host, path: `${parsed.pathname}${parsed.search}`, scheme };
}

/** HeaderUtility::authorityIsValid (envoy v1.36.0 source/common/http/header_utility.cc): its character table. */
const AUTHORITY_CHARS = /^[!$%&'()*+,\-.0-9:;=@A-Z[\]_a-z~]*$/;

/** The request header map Envoy's HCM hands to the filter chain. */
function downstreamHeaders(req: http.IncomingMessage, target: Target): [string, string][] {
  const headers: [string, string][] = [[':authority', target.authority]];
  if (target.path !== '') headers.push([':path', target.path]);
  headers.push([':method', req.method ?? 'GET']);
  if (target.scheme !== '') headers.push([':scheme', target.scheme]);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name !== 'host') headers.push([name, req.rawHeaders[i + 1]!]);
  }
  if (!headers.some(([k]) => k === 'x-forwarded-proto')) headers.push(['x-forwarded-proto', 'http']);
  if (!headers.some(([k]) => k === 'x-request-id')) headers.push(['x-request-id', randomUUID()]);
  return headers;
}

/** A request in flight on a connection: a parser error mid-body is reported to it. */
interface ActiveRequest { protocolError(error: CodecError): void }

/** The listener with its HTTP connection manager's live stream count (Envoy's downstream_rq_active). */
export interface Listener extends http.Server {
  downstreamRqActive(): number;
}

export function createListener(options: ListenerOptions): Listener {
  let rqActive = 0;
  const connectionIds = new WeakMap<Socket, number>();
  const active = new WeakMap<Socket, ActiveRequest>();
  let nextConnectionId = 0;
  const run = (req: http.IncomingMessage, res: http.ServerResponse, how: { connect?: boolean; codecError?: CodecError } = {}): void => {
    handle(req, res, how).catch((err: unknown) => {
      // A bug here must not take the process down; the client sees a reset like a crashed worker would give.
      process.stderr.write(`sidecar: request failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      res.destroy();
    });
  };
  // requireHostHeader off: a missing Host is Envoy's HCM's 400 missing_host_header, answered through the filter chain.
  const server = Object.assign(
    http.createServer({ keepAlive: true, maxHeaderSize: MAX_REQUEST_HEADERS_BYTES, requireHostHeader: false }, (req, res) => run(req, res)),
    { downstreamRqActive: () => rqActive },
  );
  // One over Envoy's limit: Node drops headers past its count silently, so the count check below can see the excess.
  server.maxHeadersCount = MAX_HEADERS_COUNT + 1;
  server.on('connection', (socket: Socket) => {
    connectionIds.set(socket, nextConnectionId++);
  });
  // Node hands CONNECT over as a raw socket; Envoy runs it through the HCM like any request (and its HTTP/1 codec
  // half-closes the connection after a non-2xx answer), so it gets a response on a response object bound to it.
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    run(req, res, { connect: true });
  });
  // Parser errors. Mid-request (a malformed body) the stream in flight answers or resets; before a request exists
  // (oversized or garbled headers) Envoy's codec still creates a stream and sends its local reply through the
  // filter chain "to ensure access logging" (filter_manager.cc sendLocalReplyViaFilterChain), so the filter logs it.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // The peer closed or reset the connection (mid-headers or mid-body): not a protocol error but the downstream
    // going away; a stream in flight sees the close and ends with DC, and before a request no stream began.
    if (!err.code?.startsWith('HPE_') || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const current = active.get(socket);
    if (current) {
      current.protocolError(codecErrorOf(err));
      return;
    }
    const req = new http.IncomingMessage(socket);
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.httpVersion = '1.1';
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => socket.destroySoon());
    run(req, res, { codecError: codecErrorOf(err) });
  });
  server.keepAliveTimeout = 60_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, how: { connect?: boolean; codecError?: CodecError }): Promise<void> {
    const startedAt = performance.now();
    const socket = req.socket;
    const connectionId = connectionIds.get(socket) ?? 0;
    // Envoy's codec rejects these before the HCM sees headers (codec_impl.cc completeCurrentHeader,
    // onHeadersCompleteBase → handlePath, checkProtocolVersion: accept_http_10 defaults off, so any HTTP/1.0 request
    // is 426 low_version, whether or not it has a Host).
    let codecError = how.codecError;
    const target = codecError ? { authority: '', path: '', scheme: '' } : requestTarget(req, how.connect === true);
    if (!codecError) {
      if (req.rawHeaders.length / 2 > MAX_HEADERS_COUNT) codecError = { status: 431, details: 'http1.too_many_headers' };
      else if ('status' in target) codecError = target;
      else if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) codecError = { status: 426, details: 'low_version' };
    }
    const authority = 'status' in target ? '' : target.authority;
    const path = 'status' in target ? '' : target.path;
    const route = codecError ? undefined : matchRoute(options.routes, authority, path);
    // Envoy pins a downstream connection to one worker for its whole life; connections are spread round-robin.
    const stream = options.host.openStream(connectionId % options.host.workerCount, {
      cluster: route?.cluster ?? '',
      protocol: `HTTP/${req.httpVersion}`,
      sourceAddress: address(socket.remoteAddress, socket.remotePort),
      destinationAddress: address(socket.localAddress, socket.localPort),
      connectionId,
    });
    rqActive++;
    const flags = new ResponseFlags();
    let requestBytes = 0;
    let responseBytes = 0;
    let logged = false;
    const downstream = new AbortController();
    let body: StreamedBody | undefined;
    const finish = (info: Omit<LogInfo, 'durationMs' | 'responseFlags'>, upstream: UpstreamSide = {}): void => {
      if (logged) return;
      logged = true;
      rqActive--;
      active.delete(socket);
      downstream.abort();
      if (body) {
        requestBytes = body.received;
        body.abort();
      }
      const { flags: routerFlags, ...upstreamInfo } = upstream;
      if (routerFlags) flags.merge(routerFlags);
      stream.log({ ...info, ...upstreamInfo, requestBytes, responseBytes, responseFlags: flags.format(), durationMs: performance.now() - startedAt });
    };
    let resetByProxy = false;
    // Registered first, so it runs before the response paths' own close handlers. The downstream went away (Envoy:
    // remote close → DownstreamConnectionTermination, DC): the stream ends now, wherever it was (waiting for the
    // filter, the body or the upstream); once a response started, those paths log it with the status already sent.
    res.on('close', () => {
      if (res.writableFinished || resetByProxy) return;
      flags.set('DC');
      if (!res.headersSent) finish({ responseCode: 0 });
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
      // HTTP/1: a response that ends before the request body did closes the connection (the HCM resets the
      // unfinished request stream and drains an HTTP/1 connection, conn_manager_impl.cc doEndStream).
      if (body && body.state !== 'complete') res.shouldKeepAlive = false;
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
      if (logged || res.headersSent) return;
      const head = localReplyHead(reply, grpc);
      const encoded = encode(head, (head.body ?? '') === '');
      if (encoded === 'reset') reset(upstream);
      else sendHead(encoded, upstream);
    };
    /**
     * Envoy's codec error (sendProtocolError): its local reply goes through the filter chain when no response has
     * started, then handleCodecError closes the connection and marks the stream DownstreamProtocolError (DPE,
     * conn_manager_impl.cc resetAllStreams). A response already on the wire is cut instead.
     */
    const protocolError = (error: CodecError): void => {
      if (logged) return;
      flags.set('DPE');
      body?.abort();
      downstream.abort();
      res.shouldKeepAlive = false;
      if (res.headersSent) {
        // The response paths' close handlers log it with the status already sent.
        resetByProxy = true;
        res.destroy();
        return;
      }
      res.once('finish', () => socket.destroySoon());
      sendLocalReply({ status: error.status, body: codeText(error.status), details: error.details, headers: [] }, {});
    };
    // The HCM learns a request is gRPC from decoded headers, which a codec error never produced.
    const grpc = !codecError && isGrpcRequest([['content-type', String(req.headers['content-type'] ?? '')]]);

    if (codecError) return protocolError(codecError);
    active.set(socket, { protocolError });
    const requestHeaders = downstreamHeaders(req, target as Target);
    // HCM decodeHeaders (conn_manager_impl.cc, v1.36.0): a missing Host is 400 missing_host_header; an authority
    // outside HeaderUtility::authorityIsValid's table is 400 and a codec error (DPE) as well.
    if (authority === '') return sendLocalReply({ status: 400, body: '', details: 'missing_host_header', headers: [] }, {});
    if (!AUTHORITY_CHARS.test(authority)) return protocolError({ status: 400, details: 'http.invalid_authority' });

    const contentLength = req.headers['content-length'];
    const hasBody = !how.connect && (contentLength !== undefined ? contentLength !== '0' : req.headers['transfer-encoding'] !== undefined);
    if (hasBody) body = new StreamedBody(req, contentLength !== undefined ? Number(contentLength) : undefined);
    let decision = stream.requestHeaders(requestHeaders, !hasBody);
    if (decision.action === 'paused') decision = stream.whenResumed ? await stream.whenResumed() : { action: 'continue' };
    if (logged) return;
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
      // CONNECT has no :path, so only a CONNECT route could match it (envoy config_impl.cc ConnectRouteEntryImpl);
      // without one it is the router's 404 route_not_found like any unrouted request.
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
        path: pseudo(':path') ?? path,
        authority: pseudo(':authority') ?? authority,
        headers: forwarded.filter(([k]) => !k.startsWith(':') && !HOP_BY_HOP.has(k)),
        body: body ?? Buffer.alloc(0),
        signal: downstream.signal,
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
    if (logged || res.headersSent) {
      if (outcome.kind === 'upstream') outcome.response.body.destroy();
      return;
    }
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
      if (!flags.has('DC') && !flags.has('DPE')) outcome.flags.set('UC');
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
