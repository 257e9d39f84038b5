// An HTTP/2 host pool (prior knowledge, as Envoy talks to gRPC clusters): one multiplexed connection per host,
// reopened when it closes. Stream resets map to Envoy's reasons, REFUSED_STREAM included, so refused-stream retries
// and the UR flag behave as with Envoy's HTTP/2 codec.
import http2 from 'node:http2';
import {
  UpstreamFailure, emptyStats, parseEndpoint, socketAddress, writeBody,
  type Endpoint, type EndpointStats, type PendingAttempt, type UpstreamRequest, type UpstreamResponse,
} from './upstream-endpoint.ts';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

// Connection-specific headers are illegal in HTTP/2 (RFC 9113 §8.2.2); :authority replaces host.
const NOT_IN_HTTP2 = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'content-length']);

function pairsOf(headers: http2.IncomingHttpHeaders): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name, String(v)]);
  }
  return pairs;
}

export class Http2Endpoint implements Endpoint {
  readonly stats: EndpointStats;
  private readonly authority: string;
  private session: http2.ClientHttp2Session | undefined;
  private ready: Promise<http2.ClientHttp2Session> | undefined;

  constructor(readonly address: string, private readonly connectTimeoutMs: number) {
    const { host, port } = parseEndpoint(address);
    this.authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.stats = emptyStats(address);
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    if (this.ready && this.session && !this.session.closed && !this.session.destroyed) return this.ready;
    const session = http2.connect(this.authority);
    this.session = session;
    this.stats.cxTotal++;
    this.stats.cxActive++;
    session.once('close', () => {
      this.stats.cxActive--;
      if (this.session === session) {
        this.session = undefined;
        this.ready = undefined;
      }
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stats.cxConnectFail++;
        reject(new UpstreamFailure('connection timeout', '', this.address, undefined));
        session.destroy();
      }, this.connectTimeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        resolve(session);
      });
      session.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (session.connecting) this.stats.cxConnectFail++;
        reject(new UpstreamFailure('remote connection failure', `delayed connect error: ${err.code ?? err.message}`, this.address, undefined));
      });
    });
    this.ready.catch(() => {});
    return this.ready;
  }

  send(request: UpstreamRequest): PendingAttempt {
    this.stats.rqTotal++;
    let stream: http2.ClientHttp2Stream | undefined;
    let resetLocally = false;
    const response = this.connect().then(
      (session) =>
        new Promise<UpstreamResponse>((resolve, reject) => {
          const localAddress = socketAddress(session.socket.localAddress, session.socket.localPort);
          const headers: http2.OutgoingHttpHeaders = {
            ':method': request.method,
            ':path': request.path,
            ':scheme': 'http',
            ':authority': request.headers.find(([k]) => k === 'host')?.[1] ?? this.address,
          };
          for (const [name, value] of request.headers) {
            if (NOT_IN_HTTP2.has(name)) continue;
            const existing = headers[name];
            headers[name] = existing === undefined ? value : ([] as string[]).concat(existing as string | string[], value);
          }
          if (resetLocally) {
            reject(new UpstreamFailure('local reset', '', this.address, localAddress));
            return;
          }
          const s = session.request(headers);
          stream = s;
          let responded = false;
          let complete = false;
          let trailers: [string, string][] = [];
          s.on('response', (h) => {
            responded = true;
            const status = Number(h[':status']);
            if (status >= 500) this.stats.rqError++;
            else this.stats.rqSuccess++;
            resolve({
              status,
              headers: pairsOf(h),
              body: s,
              isComplete: () => complete,
              trailers: () => trailers,
              upstreamAddress: this.address,
              upstreamLocalAddress: localAddress ?? '',
            });
          });
          s.on('trailers', (t) => (trailers = pairsOf(t)));
          s.on('end', () => (complete = true));
          s.on('error', () => {});
          s.on('close', () => {
            if (responded) return;
            this.stats.rqError++;
            const reason = resetLocally
              ? 'local reset'
              : s.rstCode === NGHTTP2_REFUSED_STREAM
                ? 'remote refused stream reset'
                : session.destroyed || session.closed
                  ? 'connection termination'
                  : 'remote reset';
            reject(new UpstreamFailure(reason, '', this.address, localAddress));
          });
          writeBody(request.body, s);
        }),
    );
    return {
      response,
      reset: () => {
        resetLocally = true;
        stream?.close(NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.session?.destroy();
  }
}
