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

/** HTTP/2 sessions set up per event-loop turn (~0.5 ms each): admin requests and open streams get a turn between. */
const SETUPS_PER_TURN = 16;
/** Turns in a row that only accept while connections keep arriving, before one sets up sessions again. */
const ACCEPT_ONLY_TURNS = 64;

export type RawStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

export interface GrpcListener {
  port: number;
  /**
   * Stops accepting connections, closes those still waiting for a session and frees the port at once. Open sessions
   * are grpc-js's to end (Server.tryShutdown/forceShutdown); net.Server.close's callback would wait for them, i.e. for
   * the shutdown that follows this call.
   */
  close(): void;
}

export interface GrpcListenOptions {
  /** Paths served by their own handler on node:http2 instead of grpc-js. */
  raw?: ReadonlyMap<string, RawStreamHandler>;
  backlog?: number;
  /** Accepted connections waiting for their HTTP/2 session; one more is reset on arrival. */
  maxPending?: number;
  /** Told how many connections wait, whenever that changes. */
  pending?(count: number): void;
  /** Told of each connection reset on arrival because maxPending were waiting. */
  shed?(): void;
}

export async function listenGrpc(server: grpc.Server, credentials: grpc.ServerCredentials, host: string, port: number,
  options: GrpcListenOptions = {}): Promise<GrpcListener> {
  const { raw = new Map(), backlog = LIMITS.grpcListenBacklog, maxPending = LIMITS.maxPendingConnections } = options;
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
  // libuv accepts one connection per event-loop turn (since 1.45, libuv/libuv#3696 "unix: don't accept() connections
  // in a loop"; Node 20 ships 1.46). When every turn also set up HTTP/2 sessions (~0.5 ms each), connections were
  // accepted no faster than they were served: in a restart's reconnect storm the kernel's accept queue stayed full
  // (grpcListenBacklog, capped at net.core.somaxconn), the kernel dropped handshakes, and each dropped connection came
  // back only after TCP's 1 s / 3 s SYN retransmission, by when the loop had run out of work (10,000 VMs: 13,000-20,000
  // ListenOverflows a run, a third of the storm's second half idle). So a turn that accepted a connection sets up no
  // session and the next turn accepts again: the storm waits here, in arrival order, bounded by maxPending, and
  // sessions are set up, SETUPS_PER_TURN a turn, in turns that accepted nothing or after ACCEPT_ONLY_TURNS that did
  // (a steady arrival rate cannot starve them). Admin requests and open streams are served between turns.
  const waiting: Socket[] = [];
  let acceptedThisTurn = false, acceptOnlyTurns = 0, scheduled = false;
  const ignoreError = () => {};   // a waiting socket's error (its client reset) is the session's to meet, not an uncaught event
  const schedule = () => { if (!scheduled) { scheduled = true; setImmediate(setUp); } };
  const setUp = () => {
    scheduled = false;
    if (acceptedThisTurn && acceptOnlyTurns < ACCEPT_ONLY_TURNS) {
      acceptedThisTurn = false;
      acceptOnlyTurns++;
      schedule();
      return;
    }
    acceptedThisTurn = false;
    acceptOnlyTurns = 0;
    for (let i = 0; i < SETUPS_PER_TURN && waiting.length > 0; i++) {
      const socket = waiting.shift()!;
      socket.off('error', ignoreError);
      if (!socket.destroyed) injector.injectConnection(socket);
    }
    options.pending?.(waiting.length);
    if (waiting.length > 0) schedule();
  };
  const listener: Server = createServer({ noDelay: true }, (socket) => {
    acceptedThisTurn = true;                          // more may be queued behind it, shed or not
    schedule();
    if (waiting.length >= maxPending) {
      socket.resetAndDestroy();                       // RST: the client's backoff, not a wait for a session
      options.shed?.();
      return;
    }
    socket.on('error', ignoreError);
    waiting.push(socket);
    options.pending?.(waiting.length);
  });
  await new Promise<void>((done, fail) => {
    listener.once('error', fail);
    listener.listen({ host, port, backlog }, () => { listener.off('error', fail); done(); });
  });
  const address = listener.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => {
      listener.close();
      for (const socket of waiting.splice(0)) socket.destroy();
      options.pending?.(0);
    },
  };
}
