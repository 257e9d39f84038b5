// gRPC clusters are reached over HTTP/2 like Envoy does: multiplexed connection, REFUSED_STREAM and other stream
// resets with Envoy's retry semantics, grpc-status from headers or trailers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { RecordingPlugin, closedPort, request } from './support.ts';

interface H2Upstream {
  address: string;
  streams: { path: string; remotePort: number; headers: http2.IncomingHttpHeaders }[];
  sessions: number;
  close(): Promise<void>;
}

async function startH2Upstream(handler: (stream: http2.ServerHttp2Stream, index: number) => void): Promise<H2Upstream> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const upstream: H2Upstream = {
    address: '',
    streams: [],
    sessions: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (session) => {
    upstream.sessions++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    upstream.streams.push({ path: String(headers[':path']), remotePort: stream.session!.socket.remotePort!, headers });
    stream.on('error', () => {}); // resets the handler provokes are the point of these tests
    stream.resume();
    stream.on('end', () => handler(stream, upstream.streams.length - 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}

const GRPC = { 'content-type': 'application/grpc' };
const grpcOk = (stream: http2.ServerHttp2Stream) => {
  stream.respond({ ':status': 200, ...GRPC }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
};

const h2 = suite('HTTP/2 upstream for gRPC clusters');
let upstream: H2Upstream;
let plugin: RecordingPlugin;
let sidecar: SidecarWith<RecordingPlugin>;

async function start(handler: (stream: http2.ServerHttp2Stream, index: number) => void): Promise<void> {
  upstream = await startH2Upstream(handler);
  plugin = new RecordingPlugin();
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { grpc: { endpoints: [upstream.address], kind: 'grpc' } },
    routes: [{ cluster: 'grpc' }],
    router: { sleep: async () => {} },
  });
}
h2.after.each(async () => {
  await sidecar.close();
  await upstream.close();
});

h2('requests share one HTTP/2 connection; trailers reach the client and on_log', async () => {
  await start(grpcOk);
  const locals: (string | undefined)[] = [];
  for (let i = 0; i < 3; i++) {
    const logged = plugin.nextLog();
    const response = await request(sidecar.listenerPort, '/pkg.Svc/Call', GRPC, { method: 'POST', body: '\0\0\0\0\0' });
    const log = await logged;
    assert.is(response.status, 200);
    assert.is(log.grpcStatus, 0);
    assert.equal(log.responseTrailers, [['grpc-status', '0']]);
    locals.push(log.upstreamLocalAddress);
  }
  assert.is(upstream.sessions, 1);
  assert.equal(locals, Array(3).fill(`127.0.0.1:${upstream.streams[0]!.remotePort}`));
  assert.is(upstream.streams[0]!.headers[':authority'], `127.0.0.1:${sidecar.listenerPort}`);
  assert.is(upstream.streams[0]!.headers['content-type'], 'application/grpc');
});

h2('refused-stream retries REFUSED_STREAM resets; exhausted → 503 with UR,URX', async () => {
  await start((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/pkg.Svc/Call', { ...GRPC, 'x-envoy-retry-on': 'refused-stream', 'x-envoy-max-retries': '2' }, { method: 'POST' });
  const log = await logged;
  assert.is(upstream.streams.length, 3);
  assert.is(log.responseFlags, 'UR,URX');
  assert.is(log.attemptCount, 3);
  assert.is(response.status, 200, 'a gRPC request gets a trailers-only local reply');
  assert.is(response.headers['grpc-status'], '14');
});

h2('refused-stream does not retry other stream resets; reset does', async () => {
  await start((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  await request(sidecar.listenerPort, '/p', { 'x-envoy-retry-on': 'refused-stream' }, { method: 'POST' });
  assert.is(upstream.streams.length, 1);
  const logged = plugin.nextLog();
  await request(sidecar.listenerPort, '/p', { 'x-envoy-retry-on': 'reset' }, { method: 'POST' });
  const log = await logged;
  assert.is(upstream.streams.length, 3);
  assert.is(log.responseFlags, 'UR,URX');
});

h2('grpc-on retries a trailers-only UNAVAILABLE and succeeds on the next attempt', async () => {
  await start((stream, i) => {
    if (i === 0) stream.respond({ ':status': 200, ...GRPC, 'grpc-status': '14', 'grpc-message': 'try later' }, { endStream: true });
    else grpcOk(stream);
  });
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/pkg.Svc/Call', { ...GRPC, 'x-envoy-retry-grpc-on': 'unavailable' }, { method: 'POST', body: '\0\0\0\0\0' });
  const log = await logged;
  assert.is(response.status, 200);
  assert.is(upstream.streams.length, 2);
  assert.is(log.attemptCount, 2);
  assert.is(log.grpcStatus, 0);
  assert.is(log.responseFlags, undefined);
});

h2.run();

const h2Connect = suite('HTTP/2 connect failure');

h2Connect('a refused HTTP/2 connection is UF and retried under connect-failure', async () => {
  const port = await closedPort();
  const p = new RecordingPlugin();
  const sc = await startSidecarWith(p, {
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { grpc: { endpoints: [`127.0.0.1:${port}`], kind: 'grpc' } },
    routes: [{ cluster: 'grpc' }],
    router: { sleep: async () => {} },
  });
  try {
    const logged = p.nextLog();
    const response = await request(sc.listenerPort, '/x', { 'x-envoy-retry-on': 'connect-failure' });
    const log = await logged;
    assert.is(response.status, 503);
    assert.is(log.responseFlags, 'UF,URX');
    assert.is(log.attemptCount, 2);
  } finally {
    await sc.close();
  }
});

h2Connect.run();

const grpcJs = suite('a real @grpc/grpc-js server behind the sidecar');

grpcJs('UNAVAILABLE from grpc-js is retried under x-envoy-retry-grpc-on and the second call succeeds', async () => {
  const grpc = await import('@grpc/grpc-js');
  const identity = (b: Buffer) => b;
  const definition = {
    Call: { path: '/meshlens.test.Echo/Call', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  };
  let calls = 0;
  const server = new grpc.Server();
  server.addService(definition as unknown as import('@grpc/grpc-js').ServiceDefinition, {
    Call: (call: import('@grpc/grpc-js').ServerUnaryCall<Buffer, Buffer>, callback: import('@grpc/grpc-js').sendUnaryData<Buffer>) => {
      calls++;
      if (calls === 1) callback({ code: grpc.status.UNAVAILABLE, details: 'warming up' });
      else callback(null, Buffer.concat([Buffer.from('echo:'), call.request]));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const p = new RecordingPlugin();
  const sc = await startSidecarWith(p, {
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { echo: { endpoints: [`127.0.0.1:${port}`], kind: 'grpc' } },
    routes: [{ prefix: '/meshlens.test.Echo/', cluster: 'echo' }],
    router: { sleep: async () => {} },
  });
  try {
    const payload = Buffer.from('ping');
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
    const logged = p.nextLog();
    const response = await request(sc.listenerPort, '/meshlens.test.Echo/Call', { ...GRPC, te: 'trailers', 'x-envoy-retry-grpc-on': 'unavailable' }, { method: 'POST', body: frame.toString('latin1') });
    const log = await logged;
    assert.is(calls, 2);
    assert.is(response.status, 200);
    assert.ok(response.body.endsWith('echo:ping'), JSON.stringify(response.body));
    assert.is(log.attemptCount, 2);
    assert.is(log.grpcStatus, 0);
  } finally {
    await sc.close();
    server.forceShutdown();
  }
});

grpcJs.run();
