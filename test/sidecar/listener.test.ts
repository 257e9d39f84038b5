// The listener's request lifecycle against a recording plugin: what the filter sees, what goes upstream and
// downstream, and what on_log receives.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { RecordingPlugin, request, startUpstream, type ScriptedUpstream } from './support.ts';

const lifecycle = suite('listener lifecycle');
let plugin: RecordingPlugin;
let upstream: ScriptedUpstream;
let sidecar: SidecarWith<RecordingPlugin>;

lifecycle.before.each(async () => {
  plugin = new RecordingPlugin(3);
  upstream = await startUpstream((req, res) => {
    if (req.url === '/slow-body/die') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1-', () => setTimeout(() => res.socket?.destroy(), 10));
      return;
    }
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1-');
      setTimeout(() => res.end('part2'), 20);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
    res.end(JSON.stringify({ url: req.url }));
  });
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { orders: { endpoints: [upstream.address] }, other: { endpoints: [upstream.address] } },
    routes: [
      { authority: 'other.local', cluster: 'other' },
      { prefix: '/api/', cluster: 'orders' },
      { prefix: '/slow-body', cluster: 'orders' },
    ],
  });
});
lifecycle.after.each(async () => {
  await sidecar.close();
  await upstream.close();
});

lifecycle('the filter sees Envoy-shaped request headers and the route cluster', async () => {
  const logged = plugin.nextLog();
  await request(sidecar.listenerPort, '/api/orders/7?x=1', { 'x-tenant': 'acme', host: 'orders.local:80' });
  await logged;
  const stream = plugin.streams[0]!;
  assert.is(stream.props.cluster, 'orders');
  assert.is(stream.props.protocol, 'HTTP/1.1');
  assert.match(stream.props.sourceAddress!, /^127\.0\.0\.1:\d+$/);
  assert.is(stream.props.destinationAddress, `127.0.0.1:${sidecar.listenerPort}`);
  const headers = new Map(stream.requestHeaders);
  assert.is(headers.get(':path'), '/api/orders/7?x=1');
  assert.is(headers.get(':method'), 'GET');
  assert.is(headers.get(':authority'), 'orders.local:80');
  assert.is(headers.get(':scheme'), 'http');
  assert.is(headers.get('x-tenant'), 'acme');
  assert.is(headers.get('x-forwarded-proto'), 'http');
  assert.match(headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  assert.not.ok(headers.has('host'));
});

lifecycle('routes match authority first-wins, then prefix; no route is 404 NR without touching the upstream', async () => {
  let logged = plugin.nextLog();
  await request(sidecar.listenerPort, '/api/x', { host: 'other.local' });
  await logged;
  assert.is(plugin.streams[0]!.props.cluster, 'other');
  logged = plugin.nextLog();
  const missing = await request(sidecar.listenerPort, '/nothing');
  const log = await logged;
  assert.is(missing.status, 404);
  assert.is(log.responseFlags, 'NR');
  assert.is(log.attemptCount, undefined);
  assert.is(upstream.seen.length, 1);
  assert.is(plugin.streams[1]!.props.cluster, '');
  assert.is(plugin.streams[1]!.responseHeaders?.[0]?.[1], '404', 'the filter encodes the router reply too');
});

lifecycle('headers the filter adds or removes are what the upstream receives', async () => {
  plugin.onRequestHeaders = (headers) => ({
    action: 'continue',
    headers: headers.filter(([k]) => k !== 'x-secret').concat([['x-meshlens-tenant', 'acme']]),
  });
  await request(sidecar.listenerPort, '/api/a', { 'x-secret': 's' });
  const seen = upstream.seen[0]!.headers;
  assert.is(seen['x-meshlens-tenant'], 'acme');
  assert.is(seen['x-secret'], undefined);
  assert.is(seen.host, `127.0.0.1:${sidecar.listenerPort}`);
});

lifecycle('a filter local reply is sent as-is and nothing goes upstream', async () => {
  plugin.onRequestHeaders = () => ({
    action: 'localReply',
    reply: { status: 503, details: 'meshlens_breaker_open', body: 'breaker open', headers: [['content-length', '12'], ['content-type', 'text/plain'], ['x-meshlens-breaker', 'open']] },
  });
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/api/a');
  const log = await logged;
  assert.is(response.status, 503);
  assert.is(response.body, 'breaker open');
  assert.is(response.headers['x-meshlens-breaker'], 'open');
  assert.is(upstream.seen.length, 0);
  assert.is(log.responseCode, 503);
  assert.is(log.responseFlags, undefined);
  assert.is(log.upstreamAddress, undefined);
});

lifecycle('a failed VM answers 503 with an empty body (fail closed)', async () => {
  plugin.onRequestHeaders = () => ({ action: 'failed' });
  const response = await request(sidecar.listenerPort, '/api/a');
  assert.is(response.status, 503);
  assert.is(response.body, '');
  assert.is(upstream.seen.length, 0);
});

lifecycle('a failed VM on response headers replaces the upstream response with 503', async () => {
  plugin.failResponses = true;
  const response = await request(sidecar.listenerPort, '/api/a');
  assert.is(response.status, 503);
  assert.is(upstream.seen.length, 1);
});

lifecycle('upstream response: filter sees :status and x-envoy-upstream-service-time; client gets body; on_log gets the real socket', async () => {
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/api/orders/9');
  const log = await logged;
  assert.is(response.status, 200);
  assert.equal(JSON.parse(response.body), { url: '/api/orders/9' });
  assert.is(response.headers['x-upstream'], 'yes');
  const seenByFilter = new Map(plugin.streams[0]!.responseHeaders);
  assert.is(seenByFilter.get(':status'), '200');
  assert.match(seenByFilter.get('x-envoy-upstream-service-time')!, /^\d+$/);
  assert.is(log.responseCode, 200);
  assert.is(log.attemptCount, 1);
  assert.is(log.upstreamAddress, upstream.address);
  assert.is(log.upstreamLocalAddress, `127.0.0.1:${upstream.seen[0]!.remotePort}`);
  assert.is(log.responseBytes, Buffer.byteLength(response.body));
  assert.ok(log.durationMs >= 0);
});

lifecycle('on_log waits for the end of a streamed body', async () => {
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/slow-body');
  const log = await logged;
  assert.is(response.body, 'part1-part2');
  assert.ok(log.durationMs >= 15, `duration ${log.durationMs}`);
  assert.is(log.responseBytes, 11);
});

lifecycle('upstream connections are pooled: sequential requests reuse one socket, reported as upstream.local_address', async () => {
  const locals: (string | undefined)[] = [];
  for (let i = 0; i < 4; i++) {
    const logged = plugin.nextLog();
    await request(sidecar.listenerPort, `/api/${i}`);
    locals.push((await logged).upstreamLocalAddress);
  }
  assert.is(upstream.connections, 1);
  assert.is(new Set(upstream.seen.map((s) => s.remotePort)).size, 1);
  assert.equal(locals, Array(4).fill(`127.0.0.1:${upstream.seen[0]!.remotePort}`));
});

lifecycle('downstream keep-alive: one client connection stays on one worker; new connections rotate workers', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await request(sidecar.listenerPort, '/api/1', {}, { agent });
    const second = await request(sidecar.listenerPort, '/api/2', {}, { agent });
    assert.is(first.localPort, second.localPort, 'same downstream connection');
  } finally {
    agent.destroy();
  }
  await request(sidecar.listenerPort, '/api/3');
  await request(sidecar.listenerPort, '/api/4');
  const workers = plugin.streams.map((s) => s.worker);
  assert.is(workers[0], workers[1]);
  assert.equal(new Set(workers.slice(1)).size, 3, `workers ${workers}`);
});

lifecycle('request bodies are forwarded with their length', async () => {
  const logged = plugin.nextLog();
  await request(sidecar.listenerPort, '/api/post', { 'content-type': 'application/json' }, { method: 'POST', body: '{"a":1}' });
  const log = await logged;
  assert.is(upstream.seen[0]!.method, 'POST');
  assert.is(upstream.seen[0]!.headers['content-length'], '7');
  assert.is(log.requestBytes, 7);
  assert.is(plugin.streams[0]!.requestEndOfStream, false, 'headers with a body are not end of stream');
  await request(sidecar.listenerPort, '/api/get');
  assert.is(plugin.streams[1]!.requestEndOfStream, true);
});

lifecycle('the server header is overwritten with envoy, as the HCM does by default', async () => {
  const response = await request(sidecar.listenerPort, '/api/a');
  assert.is(response.headers.server, 'envoy');
});

lifecycle('a client that disconnects mid-body is logged with DC', async () => {
  const logged = plugin.nextLog();
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: sidecar.listenerPort, path: '/slow-body', agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
  });
  const log = await logged;
  assert.is(log.responseCode, 200);
  assert.is(log.responseFlags, 'DC');
});

lifecycle('an upstream that dies mid-body is logged with UC and the client sees a reset', async () => {
  const logged = plugin.nextLog();
  const outcome = await request(sidecar.listenerPort, '/slow-body/die').then(
    (r) => `completed ${r.body}`,
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
  const log = await logged;
  assert.is.not(outcome, 'completed part1-', 'the truncated body must not look complete');
  assert.is(log.responseFlags, 'UC');
});

lifecycle.run();
