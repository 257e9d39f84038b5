import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterPool, UpstreamFailure, parseEndpoint } from '../../filter/host/sidecar/upstream-pool.ts';
import { closedPort, startUpstream } from './support.ts';

const picking = suite('endpoint selection');

picking('round robin over the endpoints in order', () => {
  const pool = new ClusterPool('c', { endpoints: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] });
  assert.equal([1, 2, 3, 4].map(() => pool.pickEndpoint()), ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:1']);
});

picking('the host predicate re-picks up to the limit, then keeps the last pick', () => {
  const pool = new ClusterPool('c', { endpoints: ['127.0.0.1:1', '127.0.0.1:2'] });
  const tried = new Set(['127.0.0.1:1']);
  assert.is(pool.pickEndpoint((a) => tried.has(a), 5), '127.0.0.1:2');
  assert.is(pool.pickEndpoint((a) => tried.has(a), 5), '127.0.0.1:2', 'skips :1 that the round robin offers first');
  const all = new Set(['127.0.0.1:1', '127.0.0.1:2']);
  assert.ok(all.has(pool.pickEndpoint((a) => all.has(a), 3)!), 'every host rejected: the last pick is used');
  assert.is(new ClusterPool('empty', { endpoints: [] }).pickEndpoint(), undefined);
});

picking('endpoint parsing', () => {
  assert.equal(parseEndpoint('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.equal(parseEndpoint('[::1]:80'), { host: '::1', port: 80 });
  assert.throws(() => parseEndpoint('127.0.0.1:0'), /must be host:port/);
  assert.throws(() => new ClusterPool('c', { endpoints: [], connectTimeoutMs: 0 }), /invalid cluster: c\.connectTimeoutMs must be > 0/);
});

picking.run();

const sending = suite('sending attempts');

sending('keep-alive: the second request reuses the first socket, and the local address names it', async () => {
  const upstream = await startUpstream();
  const pool = new ClusterPool('c', { endpoints: [upstream.address] });
  try {
    const send = async () => {
      const response = await pool.send(upstream.address, { method: 'GET', path: '/', headers: [['host', 'x']], body: Buffer.alloc(0) }).response;
      response.body.resume();
      await new Promise((resolve) => response.body.on('end', resolve));
      return response.upstreamLocalAddress;
    };
    const first = await send();
    const second = await send();
    assert.is(first, second);
    assert.is(first, `127.0.0.1:${upstream.seen[0]!.remotePort}`);
    assert.is(upstream.connections, 1);
    assert.is(pool.endpointStats()[0]!.cxActive, 1);
  } finally {
    pool.close();
    await upstream.close();
  }
});

sending('a refused connection is a remote connection failure without a local address', async () => {
  const port = await closedPort();
  const pool = new ClusterPool('c', { endpoints: [`127.0.0.1:${port}`] });
  const failure = await pool.send(`127.0.0.1:${port}`, { method: 'GET', path: '/', headers: [['host', 'x']], body: Buffer.alloc(0) }).response.catch((e) => e);
  assert.instance(failure, UpstreamFailure);
  assert.is(failure.reason, 'remote connection failure');
  assert.is(failure.transportFailureReason, 'delayed connect error: ECONNREFUSED');
  assert.is(failure.upstreamLocalAddress, undefined);
  assert.is(pool.endpointStats()[0]!.cxConnectFail, 1);
  pool.close();
});

sending('a reset after connect is a connection termination; our own reset is a local reset', async () => {
  let secondArrived!: () => void;
  const arrived = new Promise<void>((resolve) => (secondArrived = resolve));
  const upstream = await startUpstream((req, _res, i) => (i === 0 ? req.socket.destroy() : secondArrived()));
  const pool = new ClusterPool('c', { endpoints: [upstream.address] });
  try {
    const terminated = await pool.send(upstream.address, { method: 'GET', path: '/', headers: [['host', 'x']], body: Buffer.alloc(0) }).response.catch((e) => e);
    assert.is(terminated.reason, 'connection termination');
    assert.match(terminated.upstreamLocalAddress, /^127\.0\.0\.1:\d+$/);
    const attempt = pool.send(upstream.address, { method: 'GET', path: '/', headers: [['host', 'x']], body: Buffer.alloc(0) });
    await arrived;
    attempt.reset();
    const local = await attempt.response.catch((e) => e);
    assert.is(local.reason, 'local reset');
  } finally {
    pool.close();
    await upstream.close();
  }
});

sending.run();
