// The shipped release filter through the Envoy-like Node host: four worker VMs share one breaker through shared
// data, reject with Envoy's local reply, and set/strip retry headers. Time is a ManualClock; ticks fire as it moves.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { readWasm } from '../filter/support.ts';
import { assertConfigRefused } from '../filter/raw-host.ts';

const wasm = readWasm('meshlens.wasm');
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
const TICK_MS = 200;

function headers(method: string, path: string, extra: [string, string][] = []): [string, string][] {
  return [[':method', method], [':path', path], [':authority', 'orders'], [':scheme', 'http'], ...extra];
}

// Scopes are per tenant unless a policy says otherwise; these suites exercise one breaker per cluster.
const CLUSTER_WIDE = { perTenant: false };

async function plugin(defaultPolicy: object, clock: ManualClock, workers = 4): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({
    wasm, clock, workers,
    configuration: JSON.stringify({ tickMs: TICK_MS, tenant: { headers: ['x-tenant-id'] }, paths: { templates: ['/orders/{id}'] }, defaultPolicy }),
  });
}

function send(p: ProxyWasmPlugin, worker: number, code: number, tenant = 'acme', extra: [string, string][] = []) {
  return p.request(worker, {
    cluster: ORDERS,
    requestHeaders: headers('GET', '/orders/42', [['x-tenant-id', tenant], ...extra]),
    response: { responseCode: code, durationMs: 5, attemptCount: 1, ...(code >= 500 ? { responseFlags: 'URX' } : {}) },
  });
}

const shared = suite('filter: one breaker for every worker VM');

shared('failures spread over four workers trip one breaker; every worker rejects within one tick of the trip', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE, breaker: { minRequests: 20, openMs: 30000 } }, clock);
  try {
    for (let w = 0; w < 4; w++) for (let i = 0; i < 5; i++) assert.is(send(p, w, 503).localReply, undefined);
    // No worker saw minRequests on its own: nothing is rejected before the windows are merged.
    for (let w = 0; w < 4; w++) assert.is(send(p, w, 503).localReply, undefined);
    clock.advance(TICK_MS); // every VM merges; the one that completes the count commits Open
    assert.is(p.stats.counter('meshlens_breaker_transitions_total', { upstream_cluster: ORDERS, tenant: '~all', to_state: 'Open' }), 1);
    clock.advance(TICK_MS); // ... and the others adopt it at their next tick
    for (let w = 0; w < 4; w++) {
      const reply = send(p, w, 200).localReply;
      assert.ok(reply, `worker ${w} must reject`);
      assert.is(reply!.status, 503);
      assert.is(reply!.details, 'meshlens_breaker_open');
      assert.ok(reply!.headers.some(([k, v]) => k === 'x-meshlens-breaker' && v === 'open'));
    }
    assert.is(p.stats.counter('meshlens_breaker_rejected_total', { upstream_cluster: ORDERS, tenant: 'acme' }), 4);
    assert.is(p.stats.counter('meshlens_breaker_transitions_total', { upstream_cluster: ORDERS, tenant: '~all', to_state: 'Open' }), 1,
      'one transition process-wide, however many workers');
    assert.equal(p.failedVms(), []);
  } finally { await p.close(); }
});

shared('after openMs a bounded number of probes run; their successes close the breaker everywhere', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE, breaker: { minRequests: 4, openMs: 1000, halfOpenProbes: 2, halfOpenSuccesses: 2 } }, clock);
  try {
    for (let i = 0; i < 4; i++) send(p, 0, 503);
    assert.ok(send(p, 0, 200).localReply, 'the worker that saw the failures rejects at once');
    clock.advance(1000 + TICK_MS);
    // Streams are synchronous here, so probes finish before the next is admitted: two probes, both succeed.
    assert.is(send(p, 1, 200).localReply, undefined);
    assert.is(send(p, 2, 200).localReply, undefined);
    clock.advance(TICK_MS);
    for (let w = 0; w < 4; w++) assert.is(send(p, w, 200).localReply, undefined);
    for (const to of ['Open', 'HalfOpen', 'Closed']) {
      assert.is(p.stats.counter('meshlens_breaker_transitions_total', { upstream_cluster: ORDERS, tenant: '~all', to_state: to }), 1, to);
    }
  } finally { await p.close(); }
});

shared.run();

const tenants = suite('filter: per-tenant breakers');

tenants('tenant A at 100 % errors is rejected on every worker while tenant B flows', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: { cluster: '*', perTenant: true }, breaker: { minRequests: 20 } }, clock);
  try {
    for (let i = 0; i < 40; i++) {
      send(p, i % 4, 503, 'tenant-a');
      send(p, i % 4, 200, 'tenant-b');
    }
    clock.advance(2 * TICK_MS);
    for (let w = 0; w < 4; w++) {
      assert.ok(send(p, w, 200, 'tenant-a').localReply, `tenant-a on worker ${w}`);
      assert.is(send(p, w, 200, 'tenant-b').localReply, undefined, `tenant-b on worker ${w}`);
    }
    assert.is(p.stats.counter('meshlens_breaker_transitions_total', { upstream_cluster: ORDERS, tenant: 'tenant-a', to_state: 'Open' }), 1);
    assert.is(p.stats.counter('meshlens_breaker_transitions_total', { upstream_cluster: ORDERS, tenant: 'tenant-b', to_state: 'Open' }), undefined);
  } finally { await p.close(); }
});

tenants('series stay exact when clusters and tenants interleave beyond the filter\'s intern tables and memos', async () => {
  // 20 tenants exceed the 16 recent values kept per tenant header, so the same tenant keeps arriving as a new
  // string: identity-keyed memos (scopes, metric ids, label sets) must miss and fall back, never mix series up.
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: { cluster: '*', perTenant: true } }, clock, 1);
  const USERS = 'outbound|9090||users.default.svc.cluster.local';
  const tenantIds = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
  try {
    for (let round = 0; round < 3; round++) {
      for (const tenant of tenantIds) {
        for (const cluster of [ORDERS, USERS]) {
          const code = cluster === USERS && tenant === 'tenant-7' ? 503 : 200;
          p.request(0, { cluster, requestHeaders: headers('GET', '/orders/42', [['x-tenant-id', tenant]]),
            response: { responseCode: code, durationMs: 5, attemptCount: 1 } });
        }
      }
    }
    for (const tenant of tenantIds) {
      for (const cluster of [ORDERS, USERS]) {
        const code = cluster === USERS && tenant === 'tenant-7' ? '503' : '200';
        assert.is(p.stats.counter('meshlens_requests_total', { upstream_cluster: cluster, tenant, response_code: code, method: 'GET' }), 3, `${cluster} ${tenant}`);
        assert.is(p.stats.counter('meshlens_retry_decisions_total', { upstream_cluster: cluster, tenant, decision: 'granted' }), 3, `${cluster} ${tenant}`);
      }
    }
  } finally { await p.close(); }
});

tenants.run();

const retries = suite('filter: retry headers');

retries('caller retry headers are replaced by the policy decision', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE }, clock, 1);
  try {
    const result = send(p, 0, 200, 'acme', [['x-envoy-max-retries', '50'], ['x-envoy-retry-on', '4xx'], ['x-envoy-retriable-status-codes', '400']]);
    const forwarded = result.forwardedRequestHeaders.filter(([k]) => k.startsWith('x-envoy-'));
    assert.equal(forwarded.sort(), [
      ['x-envoy-max-retries', '2'],
      ['x-envoy-retry-on', '5xx,gateway-error,connect-failure,reset'],
    ]);
    const post = p.request(0, { cluster: ORDERS, requestHeaders: headers('POST', '/orders', [['x-envoy-max-retries', '5']]), response: { responseCode: 200, durationMs: 1 } });
    assert.equal(post.forwardedRequestHeaders.filter(([k]) => k.startsWith('x-envoy-')).sort(), [
      ['x-envoy-max-retries', '1'], ['x-envoy-retry-on', 'connect-failure'],
    ]);
    assert.is(p.stats.counter('meshlens_retry_decisions_total', { upstream_cluster: ORDERS, tenant: 'acme', decision: 'granted' }), 1);
  } finally { await p.close(); }
});

retries('default policy: a gRPC call (POST) is retried on UNAVAILABLE up to 3 times, with connect-failure', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE }, clock, 1);
  try {
    const grpc = p.request(0, {
      cluster: ORDERS,
      requestHeaders: headers('POST', '/orders.v1.Orders/Get', [['content-type', 'application/grpc'], ['x-envoy-retry-grpc-on', 'internal']]),
      response: { responseCode: 200, grpcStatus: 0, durationMs: 1 },
    });
    assert.equal(grpc.forwardedRequestHeaders.filter(([k]) => k.startsWith('x-envoy-')).sort(), [
      ['x-envoy-max-retries', '3'], ['x-envoy-retry-grpc-on', 'unavailable'], ['x-envoy-retry-on', 'connect-failure'],
    ]);
  } finally { await p.close(); }
});

retries('an exhausted budget forwards x-envoy-max-retries: 0, overriding any route retry policy', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE, retry: { budgetRatio: 0, minRetriesPerSecond: 0 } }, clock, 1);
  try {
    const result = send(p, 0, 200, 'acme', [['x-envoy-max-retries', '7'], ['x-envoy-retry-on', '5xx']]);
    assert.equal(result.forwardedRequestHeaders.filter(([k]) => k.startsWith('x-envoy-')), [['x-envoy-max-retries', '0']]);
    assert.is(p.stats.counter('meshlens_retry_decisions_total', { upstream_cluster: ORDERS, tenant: 'acme', decision: 'budget_exhausted' }), 1);
  } finally { await p.close(); }
});

retries('gRPC calls rejected by an Open breaker get UNAVAILABLE', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await plugin({ target: CLUSTER_WIDE, breaker: { minRequests: 2 } }, clock, 1);
  try {
    send(p, 0, 503);
    send(p, 0, 503);
    const reply = p.request(0, { cluster: ORDERS, requestHeaders: headers('POST', '/orders.v1.Orders/Get', [['content-type', 'application/grpc']]) }).localReply;
    assert.ok(reply);
    assert.is(reply!.grpcStatus, 14);
  } finally { await p.close(); }
});

retries.run();

const config = suite('filter: defaultPolicy validation');

config('an invalid defaultPolicy refuses the plugin with one critical line naming the field', () =>
  assertConfigRefused(wasm, JSON.stringify({ defaultPolicy: { breaker: { errorRateThreshold: 0 } } }),
    'invalid filter config: defaultPolicy.breaker.errorRateThreshold must be in (0, 1]'));

config.run();
