// Issue 3 end to end: the release filter (filter/build/meshlens.wasm) decides retries per policy, the sidecar's
// Envoy-like router carries them out against real failing upstreams on 127.0.0.1:0 (HTTP/1.1, and a real
// @grpc/grpc-js server over HTTP/2 for the gRPC row).
//
// What is observed where: the upstream counts the attempts it really received and shows which headers reached it;
// the filter's output (the x-envoy-* headers the router consumes and strips) is read from the stream's
// forwardedRequestHeaders(); the router's attempt count and response flags are what on_log received. The sidecar is
// built with startSidecarWith around a real ProxyWasmPlugin (exactly what startSidecar does) so those two hooks can
// be observed. Backoff sleeps are injected as no-ops; the decision logic is untouched.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import { ProxyWasmPlugin } from '../../filter/host/index.ts';
import { startSidecarWith, type ClusterConfig, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { defaultPolicy, type ResiliencePolicy } from '../../control-plane/src/policy-model.ts';
import { releaseFilter } from '../host/support.ts';
import { ObservedPlugin, closedPort, request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';

const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const DEAD = 'outbound|8080||dead.default.svc.cluster.local';
const GRPC_CLUSTER = 'outbound|9090||inventory.default.svc.cluster.local';
const ROUTER_HEADERS = ['x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-retriable-status-codes'];

type Kind = keyof ResiliencePolicy['retry']['on'];

/** The default policy with every retry row at 0 except `rows`, so one failure kind is exercised on its own. */
function onlyRows(rows: Partial<Record<Kind, number>>): ResiliencePolicy {
  const policy = defaultPolicy();
  for (const kind of Object.keys(policy.retry.on) as Kind[]) policy.retry.on[kind].maxRetries = rows[kind] ?? 0;
  return policy;
}

interface Mesh {
  plugin: ObservedPlugin;
  sidecar: SidecarWith<ObservedPlugin>;
  close(): Promise<void>;
}

async function startMesh(clusters: Record<string, ClusterConfig>, policy?: ResiliencePolicy, workers = 2): Promise<Mesh> {
  const inner = await ProxyWasmPlugin.create({
    wasm: releaseFilter(),
    configuration: JSON.stringify({ paths: { templates: ['/api/orders/{id}'] }, ...(policy ? { defaultPolicy: policy } : {}) }),
    workers,
  });
  const plugin = new ObservedPlugin(inner);
  const sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters,
    routes: Object.keys(clusters).map((name) => ({ authority: name.split('||')[1]!.split('.')[0]!, cluster: name })),
    router: { random: () => 0.5, sleep: () => Promise.resolve() },
  });
  return { plugin, sidecar, close: () => sidecar.close() };
}

function header(headers: readonly [string, string][], name: string): string | undefined {
  return headers.find(([k]) => k === name)?.[1];
}

function tokens(value: string | undefined): string[] {
  return (value ?? '').split(',').filter((t) => t.length > 0);
}

async function metric(mesh: Mesh, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await request(mesh.sidecar.adminPort, '/stats/prometheus')).body;
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function statusUpstream(status: number): Promise<ScriptedUpstream> {
  return startUpstream((_req, res) => {
    res.writeHead(status, { 'content-length': '4' });
    res.end('fail');
  });
}

async function get(mesh: Mesh, authority: string, path = '/api/orders/7', opts: { method?: string; body?: string } = {}) {
  const logged = mesh.plugin.nextLog();
  const response = await request(mesh.sidecar.listenerPort, path, { host: authority, 'x-tenant-id': 'acme' }, opts);
  const log = await logged;
  return { response, log, forwarded: mesh.plugin.last().forwarded };
}

function assertStripped(upstream: ScriptedUpstream): void {
  for (const seen of upstream.seen) {
    for (const name of ROUTER_HEADERS) assert.is(seen.headers[name], undefined, `the router consumes ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
const table = suite('default retry table, end to end');
let mesh: Mesh | undefined;
let upstream: ScriptedUpstream | undefined;
table.after.each(async () => {
  await mesh?.close();
  await upstream?.close();
  mesh = undefined;
  upstream = undefined;
});

table('5xx: a 503 upstream is tried 3 times (x-envoy-retry-on 5xx, max-retries 2)', async () => {
  upstream = await statusUpstream(503);
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } });
  const { response, log, forwarded } = await get(mesh, 'orders');
  assert.ok(tokens(header(forwarded, 'x-envoy-retry-on')).includes('5xx'));
  assert.is(header(forwarded, 'x-envoy-max-retries'), '2');
  assert.is(upstream.seen.length, 3, 'attempts the upstream received');
  assert.is(log.attemptCount, 3, 'attempt count on_log read');
  assert.is(log.responseFlags, 'URX');
  assert.is(response.status, 503);
  assertStripped(upstream);
  assert.is(await metric(mesh, 'meshlens_retry_decisions_total', { decision: 'granted' }), 1);
});

table('gateway-error: a 502 is retried under gateway-error alone, a 500 is not', async () => {
  upstream = await statusUpstream(502);
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, onlyRows({ 'gateway-error': 2 }));
  const { log, forwarded } = await get(mesh, 'orders');
  assert.equal(tokens(header(forwarded, 'x-envoy-retry-on')), ['gateway-error']);
  assert.is(header(forwarded, 'x-envoy-max-retries'), '2');
  assert.is(upstream.seen.length, 3);
  assert.is(log.attemptCount, 3);
  await upstream.close();
  await mesh.close();

  upstream = await statusUpstream(500);
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, onlyRows({ 'gateway-error': 2 }));
  const plain500 = await get(mesh, 'orders');
  assert.is(upstream.seen.length, 1, '500 is not a gateway error');
  assert.is(plain500.log.attemptCount, 1);
  assertStripped(upstream);
});

table('connect-failure: a closed port gets 1 retry (2 connect attempts, UF,URX)', async () => {
  const port = await closedPort();
  const endpoint = `127.0.0.1:${port}`;
  // POST: with idempotentOnly only connect-failure applies, so its own row (1) is x-envoy-max-retries.
  mesh = await startMesh({ [DEAD]: { endpoints: [endpoint], connectTimeoutMs: 1000 } });
  const { response, log, forwarded } = await get(mesh, 'dead', '/api/orders/7', { method: 'POST', body: '{}' });
  assert.equal(tokens(header(forwarded, 'x-envoy-retry-on')), ['connect-failure']);
  assert.is(header(forwarded, 'x-envoy-max-retries'), '1');
  assert.is(response.status, 503);
  assert.is(log.attemptCount, 2);
  assert.is(log.responseFlags, 'UF,URX');
  const clusters = (await request(mesh.sidecar.adminPort, '/clusters')).body;
  assert.ok(clusters.includes(`${DEAD}::${endpoint}::cx_connect_fail::2\n`), clusters);
});

table('connect-failure under GET: Envoy has one retry counter, so the largest row (5xx: 2) bounds it', async () => {
  // Documented in retry-decision.ts: x-envoy-max-retries is the largest row among the kinds a request can hit.
  const port = await closedPort();
  mesh = await startMesh({ [DEAD]: { endpoints: [`127.0.0.1:${port}`] } });
  const { log, forwarded } = await get(mesh, 'dead');
  assert.ok(tokens(header(forwarded, 'x-envoy-retry-on')).includes('connect-failure'));
  assert.is(header(forwarded, 'x-envoy-max-retries'), '2');
  assert.is(log.attemptCount, 3);
  assert.is(log.responseFlags, 'UF,URX');
});

table('reset: an upstream that destroys the socket gets its row (1 retry → 2 attempts, UC,URX)', async () => {
  upstream = await startUpstream((req) => req.socket.destroy());
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, onlyRows({ reset: 1 }));
  const { response, log, forwarded } = await get(mesh, 'orders');
  assert.equal(tokens(header(forwarded, 'x-envoy-retry-on')), ['reset']);
  assert.is(header(forwarded, 'x-envoy-max-retries'), '1');
  assert.is(upstream.seen.length, 2);
  assert.is(log.attemptCount, 2);
  assert.is(log.responseFlags, 'UC,URX');
  assert.is(response.status, 503);
  assertStripped(upstream);
});

table('reset under the default policy is retried like 5xx (3 attempts)', async () => {
  upstream = await startUpstream((req) => req.socket.destroy());
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } });
  const { log, forwarded } = await get(mesh, 'orders');
  assert.ok(tokens(header(forwarded, 'x-envoy-retry-on')).includes('reset'));
  assert.is(upstream.seen.length, 3);
  assert.is(log.attemptCount, 3);
});

table('retriable-4xx: 409 is not retried by default (row 0), and is when the row allows it', async () => {
  upstream = await statusUpstream(409);
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } });
  const byDefault = await get(mesh, 'orders');
  assert.not.ok(tokens(header(byDefault.forwarded, 'x-envoy-retry-on')).includes('retriable-4xx'));
  assert.is(upstream.seen.length, 1);
  assert.is(byDefault.log.attemptCount, 1);
  assert.is(byDefault.response.status, 409);
  await mesh.close();

  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, onlyRows({ 'retriable-4xx': 1 }));
  const allowed = await get(mesh, 'orders');
  assert.equal(tokens(header(allowed.forwarded, 'x-envoy-retry-on')), ['retriable-4xx']);
  assert.is(upstream.seen.length, 3, 'one more original and one retry');
  assert.is(allowed.log.attemptCount, 2);
});

const UNARY = {
  path: '/meshlens.test.Inventory/Reserve', requestStream: false, responseStream: false,
  requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
} as const;

/** A real grpc-js server whose one method always answers UNAVAILABLE. */
async function startUnavailableGrpc(): Promise<{ address: string; calls: () => number; metadataKeys: Set<string>; close(): Promise<void> }> {
  let calls = 0;
  const metadataKeys = new Set<string>();
  const server = new grpc.Server();
  server.addService({ Reserve: UNARY }, {
    Reserve: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      calls++;
      for (const key of Object.keys(call.metadata.getMap())) metadataKeys.add(key);
      callback({ code: grpc.status.UNAVAILABLE, details: 'inventory down' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    address: `127.0.0.1:${port}`,
    calls: () => calls,
    metadataKeys,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A gRPC unary call over HTTP/1.1 to the listener (which speaks HTTP/1.1 downstream); returns grpc-status. */
function grpcCall(port: number, authority: string): Promise<{ status: number; grpcStatus: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: UNARY.path, agent: false,
        headers: { host: authority, 'content-type': 'application/grpc', te: 'trailers', 'x-tenant-id': 'acme' } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.headers['grpc-status'] ?? res.trailers['grpc-status'];
          resolve({ status: res.statusCode ?? 0, grpcStatus: Array.isArray(status) ? status[0] : status });
        });
      },
    );
    req.on('error', reject);
    req.end(Buffer.from([0, 0, 0, 0, 0])); // one empty length-prefixed message
  });
}

table('gRPC UNAVAILABLE: a real grpc-js server is called 4 times (retry-grpc-on unavailable, 3 retries)', async () => {
  const server = await startUnavailableGrpc();
  try {
    mesh = await startMesh({ [GRPC_CLUSTER]: { endpoints: [server.address], kind: 'grpc' } });
    const logged = mesh.plugin.nextLog();
    const result = await grpcCall(mesh.sidecar.listenerPort, 'inventory');
    const log = await logged;
    const forwarded = mesh.plugin.last().forwarded;
    assert.ok(tokens(header(forwarded, 'x-envoy-retry-grpc-on')).includes('unavailable'), JSON.stringify(forwarded));
    assert.is(header(forwarded, 'x-envoy-max-retries'), '3');
    assert.is(server.calls(), 4, 'calls the gRPC server handled');
    assert.is(log.attemptCount, 4);
    assert.is(result.grpcStatus, String(grpc.status.UNAVAILABLE));
    assert.ok(server.metadataKeys.has('x-tenant-id'), 'request metadata reaches the server');
    for (const name of ROUTER_HEADERS) assert.not.ok(server.metadataKeys.has(name), `the router consumes ${name}`);
  } finally {
    await server.close();
  }
});

table('non-idempotent POST on 503: 1 attempt; not_idempotent when no row applies to it', async () => {
  upstream = await statusUpstream(503);
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } });
  const post = await get(mesh, 'orders', '/api/orders/7', { method: 'POST', body: '{"qty":1}' });
  assert.not.ok(tokens(header(post.forwarded, 'x-envoy-retry-on')).includes('5xx'), 'POST is never retried on 5xx');
  assert.is(upstream.seen.length, 1);
  assert.is(post.log.attemptCount, 1);
  await mesh.close();

  // With the connect-failure row at 0 nothing may retry a POST: the filter refuses and pins max-retries to 0.
  const policy = defaultPolicy();
  policy.retry.on['connect-failure'].maxRetries = 0;
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, policy);
  const refused = await get(mesh, 'orders', '/api/orders/7', { method: 'POST', body: '{"qty":1}' });
  assert.is(header(refused.forwarded, 'x-envoy-max-retries'), '0');
  assert.is(header(refused.forwarded, 'x-envoy-retry-on'), undefined);
  assert.is(upstream.seen.length, 2);
  assert.is(refused.log.attemptCount, 1);
  assert.is(await metric(mesh, 'meshlens_retry_decisions_total', { decision: 'not_idempotent' }), 1);
  assertStripped(upstream);
});

table('breaker Open: no more upstream attempts, a 503 local reply with x-meshlens-breaker: open', async () => {
  upstream = await statusUpstream(503);
  const policy = defaultPolicy();
  policy.breaker.minRequests = 4;
  policy.breaker.errorRateThreshold = 0.5;
  mesh = await startMesh({ [CLUSTER]: { endpoints: [upstream.address] } }, policy, 1);
  for (let i = 0; i < 4; i++) assert.is((await get(mesh, 'orders')).response.status, 503);
  assert.is(upstream.seen.length, 12, '4 requests × 3 attempts while Closed');
  const rejected = await get(mesh, 'orders');
  assert.is(rejected.response.status, 503);
  assert.is(rejected.response.headers['x-meshlens-breaker'], 'open');
  assert.is(upstream.seen.length, 12, 'the Open breaker sends nothing upstream, and nothing is retried');
  assert.is(rejected.log.attemptCount, undefined, 'the router never ran');
  assert.is(await metric(mesh, 'meshlens_breaker_rejected_total', {}), 1);
});

table.run();

// ---------------------------------------------------------------------------------------------------------------
const budget = suite('retry budget against a 100 % failing upstream');

/**
 * Drives `connections` keep-alive connections (Envoy pins each to one worker) as fast as they go for runMs, every
 * request failing with 503, and checks attempts ≤ (1 + budgetRatio) × requests + minRetriesPerSecond × elapsed.
 */
async function budgetRun(workers: number, connections: number): Promise<void> {
  const failing = await statusUpstream(503);
  const policy = defaultPolicy();
  policy.breaker.enabled = false; // the budget alone bounds the attempts
  policy.breaker.windowMs = 1000; // the budget's sliding window; the run spans several of them
  policy.retry.budgetRatio = 0.2;
  policy.retry.minRetriesPerSecond = 5;
  const run = await startMesh({ [CLUSTER]: { endpoints: [failing.address] } }, policy, workers);
  const agents = Array.from({ length: connections }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    const RUN_MS = 2500;
    const started = performance.now();
    let requests = 0;
    await Promise.all(agents.map(async (agent) => {
      while (performance.now() - started < RUN_MS) {
        const response = await request(run.sidecar.listenerPort, `/api/orders/${requests}`, { host: 'orders', 'x-tenant-id': 'acme' }, { agent });
        assert.is(response.status, 503);
        requests++;
      }
    }));
    const elapsedSeconds = (performance.now() - started) / 1000;
    const attempts = failing.seen.length;
    const floor = policy.retry.minRetriesPerSecond * elapsedSeconds;
    const bound = (1 + policy.retry.budgetRatio) * requests + floor;
    process.stdout.write(`  budget (${workers} workers): ${requests} requests, ${attempts} attempts ` +
      `(${((attempts / requests - 1) * 100).toFixed(1)} % retries), bound ${bound.toFixed(1)}, ${elapsedSeconds.toFixed(2)} s\n`);
    assert.ok(attempts > requests, `retries happened (${attempts} attempts for ${requests} requests)`);
    assert.ok(attempts <= bound, `${attempts} attempts must be ≤ ${bound.toFixed(1)} for ${requests} requests`);
    assert.ok(await metric(run, 'meshlens_retry_decisions_total', { decision: 'budget_exhausted' }) > 0);
  } finally {
    agents.forEach((a) => a.destroy());
    await run.close();
    await failing.close();
  }
}

budget('one worker: attempts stay within the budget bound, and retries happen', () => budgetRun(1, 4));

// Each worker decides from its own view of the shared window (merged every MERGE_INTERVAL_MS), so concurrent
// workers can each spend the same remaining budget; this asserts the same bound with Envoy's usual 4 workers.
budget('four workers: attempts stay within the same bound', () => budgetRun(4, 4));

budget.run();
