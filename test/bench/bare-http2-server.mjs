// The floor under failover_ms: a bare node:http2 server (no grpc-js, no authentication, no policy), the same Node as
// the control plane, that answers each gRPC stream with one empty message. bench:control-plane connects as many
// streams to it, each on its own connection, as a killed replica moves to a survivor, and reads this process's CPU:
// what accepting those connections and setting up their sessions costs in Node before any meshlens code runs.
// Plain JavaScript, started without tsx, so its CPU is the server's alone. Prints its port once listening.
import http2 from 'node:http2';

const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);   // gRPC framing: uncompressed, length 0
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
  stream.write(EMPTY_MESSAGE);
});
server.on('sessionError', () => {});
server.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, () => process.stdout.write(`${server.address().port}\n`));
