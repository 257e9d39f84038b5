// The gRPC port, listened on here instead of by grpc-js: @grpc/grpc-js 1.14 binds with http2Server.listen(address)
// (src/server.ts bindOneAddress), i.e. Node's default backlog of 511 pending connections. After a restart every
// filter VM reconnects within the filter's backoff cap; measured with 1,000 VMs, the accept queue overflowed
// (TcpExtListenOverflows) while the event loop set up the first sessions, and every dropped connection came back
// only after TCP's handshake retransmission (1 s, then 3 s, 7 s), which was most of the reconvergence tail. So the
// socket listens with LIMITS.grpcListenBacklog and each connection is handed to grpc-js through its connection
// injector, which serves it exactly as a port it bound itself (same credentials, TLS included, same sessions).
import type * as grpc from '@grpc/grpc-js';
import { createServer, type Server, type Socket } from 'node:net';

const ACCEPTS_PER_TURN = 16;
import { LIMITS } from './limits.ts';

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
  backlog: number = LIMITS.grpcListenBacklog): Promise<GrpcListener> {
  const injector = server.createConnectionInjector(credentials);
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
