// The gRPC port, listened on here instead of by grpc-js: @grpc/grpc-js 1.14 binds with http2Server.listen(address)
// (src/server.ts bindOneAddress), i.e. Node's default backlog of 511 pending connections. After a restart every
// filter VM reconnects within the filter's backoff cap; measured with 1,000 VMs, the accept queue overflowed
// (TcpExtListenOverflows) while the event loop set up the first sessions, and every dropped connection came back
// only after TCP's handshake retransmission (1 s, then 3 s, 7 s), which was most of the reconvergence tail. So the
// socket listens with LIMITS.grpcListenBacklog and each connection is handed to grpc-js through its connection
// injector, which serves it exactly as a port it bound itself (same credentials, TLS included, same sessions).
//
// Streams of the paths in `raw` are served by their own handler on node:http2 (grpc-raw-call.ts), on the same
// sessions; every other path goes to grpc-js. grpc-js 1.14 offers no per-path hook, so the HTTP/2 server its
// connection injector creates (src/server.ts experimentalCreateConnectionInjectorWithChannelzRef → createHttp2Server,
// which installs exactly one 'stream' listener, _setupHandlers) is captured and that listener wrapped. The version is
// pinned in package-lock.json; if its internals change, start-up fails here, loudly, instead of serving without it.
import type * as grpc from '@grpc/grpc-js';
import type http2 from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { LIMITS } from './limits.ts';

const ACCEPTS_PER_TURN = 16;

export type RawStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

export interface GrpcListener {
  port: number;
  /**
   * Stops accepting connections and frees the port at once. Open sessions are grpc-js's to end
   * (Server.tryShutdown/forceShutdown); net.Server.close's callback would wait for them, i.e. for the shutdown that
   * follows this call.
   */
  close(): void;
}

export async function listenGrpc(server: grpc.Server, credentials: grpc.ServerCredentials, host: string, port: number,
  raw: ReadonlyMap<string, RawStreamHandler> = new Map(), backlog: number = LIMITS.grpcListenBacklog): Promise<GrpcListener> {
  const internals = server as unknown as { createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server };
  const createHttp2Server = internals.createHttp2Server;
  let http2Server: http2.Http2Server | undefined;
  if (typeof createHttp2Server !== 'function') throw new Error('@grpc/grpc-js changed: Server.createHttp2Server is gone (grpc-listener.ts)');
  internals.createHttp2Server = (c) => (http2Server = createHttp2Server.call(server, c));
  let injector: ReturnType<grpc.Server['createConnectionInjector']>;
  try {
    injector = server.createConnectionInjector(credentials);
  } finally {
    delete internals.createHttp2Server;                 // the prototype's again
  }
  const grpcStreamListeners = http2Server?.listeners('stream') ?? [];
  if (!http2Server || grpcStreamListeners.length !== 1) {
    throw new Error(`@grpc/grpc-js changed: its HTTP/2 server has ${grpcStreamListeners.length} 'stream' listeners, 1 expected (grpc-listener.ts)`);
  }
  const grpcStream = grpcStreamListeners[0] as (...args: unknown[]) => void;
  http2Server.removeAllListeners('stream');
  http2Server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    const handler = raw.get(headers[':path'] as string);
    if (handler) handler(stream, headers);
    else grpcStream(stream, headers, ...rest);
  });
  // Accepted connections are handed over ACCEPTS_PER_TURN per event-loop turn: a reconnect storm's HTTP/2 session
  // set-ups (~0.5 ms each) would otherwise run back to back and hold admin requests behind them.
  const accepted: Socket[] = [];
  let scheduled = false;
  const handOver = () => {
    scheduled = false;
    for (let i = 0; i < ACCEPTS_PER_TURN && accepted.length > 0; i++) {
      const socket = accepted.shift()!;
      if (!socket.destroyed) injector.injectConnection(socket);
    }
    if (accepted.length > 0 && !scheduled) { scheduled = true; setImmediate(handOver); }
  };
  const listener: Server = createServer({ noDelay: true }, (socket) => {
    accepted.push(socket);
    if (!scheduled) { scheduled = true; setImmediate(handOver); }
  });
  await new Promise<void>((done, fail) => {
    listener.once('error', fail);
    listener.listen({ host, port, backlog }, () => { listener.off('error', fail); done(); });
  });
  const address = listener.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => { listener.close(); },
  };
}
