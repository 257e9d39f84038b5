// The gRPC port's listener (control-plane/src/grpc-listener.ts). libuv accepts one connection per event-loop turn,
// so connections are taken off the kernel's accept queue (which drops handshakes when full) into the listener's own,
// bounded, and set up as HTTP/2 sessions only in turns that accepted nothing. Checked with real sockets: a burst
// larger than the bound waits there, the excess is reset at once and counted, and every waiting connection whose
// client did not give up is served.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { listenGrpc, type GrpcListener } from '../../control-plane/src/grpc-listener.ts';
import { within } from './helpers.ts';

const PATH = '/test.Listener/Ping';
const test = suite('gRPC listener');

/** One HTTP/2 session and one call on it: 'served' with the answer, or how it failed. */
function call(port: number, onSocket?: (session: http2.ClientHttp2Session) => void): Promise<'served' | 'reset' | 'closed'> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    let done = false;
    const finish = (outcome: 'served' | 'reset' | 'closed') => { if (!done) { done = true; session.destroy(); resolve(outcome); } };
    session.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? 'reset' : 'closed'));
    session.on('close', () => finish('closed'));
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    stream.on('response', (headers) => finish(headers['grpc-status'] === '0' ? 'served' : 'closed'));
    stream.end();
    onSocket?.(session);
  });
}

test('a burst past maxPending: the excess is reset on arrival and counted, the waiting connections are all served', async () => {
  const server = new grpc.Server();
  const waitingCounts: number[] = [];
  let shed = 0;
  const raw = new Map([[PATH, (stream: http2.ServerHttp2Stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
  }]]);
  const listener: GrpcListener = await listenGrpc(server, grpc.ServerCredentials.createInsecure(), '127.0.0.1', 0, {
    raw, maxPending: 5, pending: (count) => waitingCounts.push(count), shed: () => shed++,
  });
  try {
    // 40 connections opened at once (net.connect issues each connect(2) on the next tick), then this process's
    // event loop is held for 200 ms: every handshake completes in the kernel's accept queue before the listener
    // takes the first one, as in a reconnect storm, and it then accepts them one per turn. The first two clients
    // give up (RST) in the first turn, while they wait: they hold a place in the queue but are not served.
    const calls = Array.from({ length: 40 }, (_, i) =>
      call(listener.port, i < 2 ? (session) => setImmediate(() => (session.socket as Socket).resetAndDestroy()) : undefined));
    process.nextTick(() => { const until = Date.now() + 200; while (Date.now() < until); });
    const outcomes = await within(Promise.all(calls), 15_000, 'every call to end');
    const count = (o: string) => outcomes.filter((x) => x === o).length;
    assert.is(shed, 35, 'connections reset because 5 were waiting');
    assert.is(count('reset'), 35, `the reset clients saw ECONNRESET: ${JSON.stringify(outcomes)}`);
    assert.is(count('served'), 3, 'the 3 waiting clients that did not give up were served');
    assert.is(Math.max(...waitingCounts), 5, 'never more than maxPending waiting');
    assert.is(waitingCounts.at(-1), 0, 'none left waiting');
    // The listener takes new connections after the burst, one at a time as usual.
    assert.is(await within(call(listener.port), 5000, 'a later call'), 'served');
  } finally {
    listener.close();
    server.forceShutdown();
  }
});

test.run();
