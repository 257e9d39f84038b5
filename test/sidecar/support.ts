// Shared test helpers for the sidecar suites: a recording stand-in for ProxyWasmPlugin, scripted upstream servers
// on 127.0.0.1:0 and a small HTTP client.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpStream, LocalReply, LogInfo, ProxyWasmPlugin, StreamProps } from '../../filter/host/index.ts';
import type { SidecarPlugin } from '../../filter/host/sidecar/index.ts';

export interface RecordedStream {
  worker: number;
  props: StreamProps;
  requestHeaders?: [string, string][];
  requestEndOfStream?: boolean;
  responseHeaders?: [string, string][];
  log?: LogInfo;
}

export type RequestDecision =
  | { action: 'continue'; headers?: [string, string][] }
  | { action: 'localReply'; reply: LocalReply }
  | { action: 'failed' };

/** Records every stream; `onRequestHeaders` plays the filter (mutating headers or replying locally). */
export class RecordingPlugin implements SidecarPlugin {
  readonly streams: RecordedStream[] = [];
  onRequestHeaders: (headers: [string, string][]) => RequestDecision = () => ({ action: 'continue' });
  failResponses = false;
  flushes = 0;
  prometheusText = '# TYPE meshlens_requests_total counter\nmeshlens_requests_total{} 1\n';
  private logWaiters: ((info: LogInfo) => void)[] = [];
  private flushWaiters: (() => void)[] = [];

  nextFlush(): Promise<void> {
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  constructor(readonly workerCount = 4) {}

  readonly stats = {
    renderPrometheus: () => this.prometheusText,
    renderText: () => 'meshlens_requests_total: 1\n',
    flushHistograms: () => {
      this.flushes++;
      for (const waiter of this.flushWaiters.splice(0)) waiter();
    },
  };

  async close(): Promise<void> {}

  openStream(worker: number, props: StreamProps): HttpStream {
    const record: RecordedStream = { worker, props };
    this.streams.push(record);
    let forwarded: [string, string][] = [];
    return {
      requestHeaders: (headers, endOfStream) => {
        record.requestHeaders = headers.map(([k, v]) => [k, v]);
        record.requestEndOfStream = endOfStream;
        const decision = this.onRequestHeaders(headers);
        if (decision.action === 'continue') forwarded = decision.headers ?? headers;
        return decision.action === 'continue' ? { action: 'continue' } : decision;
      },
      forwardedRequestHeaders: () => forwarded,
      responseHeaders: (headers) => {
        record.responseHeaders = headers;
        return { action: this.failResponses ? 'failed' : 'continue' };
      },
      log: (info) => {
        record.log = info;
        this.logWaiters.shift()?.(info);
      },
    };
  }

  /** Resolves with the next on_log; call before the request so the log cannot be missed. */
  nextLog(): Promise<LogInfo> {
    return new Promise((resolve) => this.logWaiters.push(resolve));
  }
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  remotePort: number;
}

export interface ScriptedUpstream {
  port: number;
  address: string;
  seen: SeenRequest[];
  connections: number;
  close(): Promise<void>;
}

/** An upstream on 127.0.0.1:0; `handler` answers each request (it may destroy the socket to simulate a reset). */
export async function startUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void = (_req, res) => res.end('ok'),
): Promise<ScriptedUpstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, remotePort: req.socket.remotePort ?? 0 });
    req.resume();
    req.on('end', () => handler(req, res, seen.length - 1));
  });
  const upstream: ScriptedUpstream = {
    port: 0,
    address: '',
    seen,
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.port = (server.address() as AddressInfo).port;
  upstream.address = `127.0.0.1:${upstream.port}`;
  return upstream;
}

/** A port that refuses connections: bound, then closed. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  localPort: number;
}

export function request(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  opts: { agent?: http.Agent | false; method?: string; body?: string } = {},
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers, agent: opts.agent ?? false },
      (res) => {
        const localPort = res.socket.localPort ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, localPort }));
        res.on('error', () => {});
        res.on('close', () => {
          if (!res.complete) reject(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' }));
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface ObservedStream {
  props: StreamProps;
  forwarded: [string, string][];
  log?: LogInfo;
}

/** Delegates to the real plugin, keeping what the filter forwarded and what on_log received for every stream. */
export class ObservedPlugin implements SidecarPlugin {
  readonly streams: ObservedStream[] = [];
  private logWaiters: ((info: LogInfo) => void)[] = [];
  constructor(readonly inner: ProxyWasmPlugin) {}
  get workerCount() {
    return this.inner.workerCount;
  }
  get stats() {
    return this.inner.stats;
  }
  close() {
    return this.inner.close();
  }
  openStream(worker: number, props: StreamProps): HttpStream {
    const stream = this.inner.openStream(worker, props);
    const observed: ObservedStream = { props, forwarded: [] };
    this.streams.push(observed);
    return {
      requestHeaders: (h, eos) => {
        const decision = stream.requestHeaders(h, eos);
        if (decision.action === 'continue') observed.forwarded = stream.forwardedRequestHeaders();
        return decision;
      },
      forwardedRequestHeaders: () => stream.forwardedRequestHeaders(),
      responseHeaders: (h, eos) => stream.responseHeaders(h, eos),
      forwardedResponseHeaders: () => stream.forwardedResponseHeaders?.() ?? [],
      whenResumed: () => stream.whenResumed!(),
      log: (info) => {
        stream.log(info);
        observed.log = info;
        this.logWaiters.shift()?.(info);
      },
    };
  }
  /** Call before the request so the on_log cannot be missed. */
  nextLog(): Promise<LogInfo> {
    return new Promise((resolve) => this.logWaiters.push(resolve));
  }
  last(): ObservedStream {
    return this.streams.at(-1)!;
  }
}
