// The release filter through the Envoy-like Node host: exposition, workers, caps, host-call budget.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { readWasm } from './support.ts';
import { assertConfigRefused } from './raw-host.ts';

const wasm = readWasm('meshlens.wasm');
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
const USERS = 'outbound|9090||users.default.svc.cluster.local';
// Envoy's bootstrap node as Istio writes it: the filter labels every series with its workload and namespace.
const NODE = { id: 'sidecar~10.0.0.9~checkout-1.shop~shop.svc.cluster.local', metadata: { WORKLOAD_NAME: 'checkout', NAMESPACE: 'shop' } };
const SRC = 'reporter="source",source_workload="checkout",source_workload_namespace="shop"';
const DEST_ORDERS = 'destination_service="orders.default.svc.cluster.local",destination_service_name="orders",destination_service_namespace="default"';
const DEST_USERS = 'destination_service="users.default.svc.cluster.local",destination_service_name="users",destination_service_namespace="default"';

function headers(method: string, path: string, extra: [string, string][] = []): [string, string][] {
  return [[':method', method], [':path', path], [':authority', 'orders'], [':scheme', 'http'], ...extra];
}

async function plugin(configuration: object, workers = 4): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({ wasm, configuration: JSON.stringify(configuration), workers, clock: new ManualClock(0), node: NODE });
}

function family(exposition: string, name: string): string[] {
  return exposition.split('\n').filter((l) => l.startsWith(name + '{') || l === `# TYPE ${name} counter` || l === `# TYPE ${name} histogram`).sort();
}

const exposition = suite('plugin: /stats/prometheus for a known request mix');
exposition('counters and histograms carry the proxy, destination service, cluster, path template, method, code and tenant', async () => {
  const p = await plugin({ paths: { templates: ['/api/orders/{id}', '/api/orders/{id}/items/{item}'] } });
  try {
    p.request(0, { cluster: ORDERS, requestHeaders: headers('GET', '/api/orders/123?x=1', [['x-tenant-id', 'Acme']]), response: { responseCode: 200, durationMs: 12 } });
    p.request(1, { cluster: ORDERS, requestHeaders: headers('GET', '/api/orders/456', [['x-tenant-id', 'acme']]), response: { responseCode: 200, durationMs: 30 } });
    p.request(2, { cluster: ORDERS, requestHeaders: headers('POST', '/api/orders/7/items/9', [['x-tenant-id', 'globex']]), response: { responseCode: 503, durationMs: 1200 } });
    p.request(3, { cluster: USERS, requestHeaders: headers('GET', '/users/42/cart'), response: { responseCode: 404, durationMs: 3 } });
    p.request(0, { cluster: USERS, requestHeaders: headers('BREW', '/coffee', [['x-tenant-id', 'bad tenant']]), response: { responseCode: 418, durationMs: 0 } });
    p.stats.flushHistograms();
    const text = p.stats.renderPrometheus();
    assert.equal(family(text, 'meshlens_requests_total'), [
      '# TYPE meshlens_requests_total counter',
      `meshlens_requests_total{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",method="GET",response_code="200",tenant="acme"} 2`,
      `meshlens_requests_total{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}/items/{item}",method="POST",response_code="503",tenant="globex"} 1`,
      `meshlens_requests_total{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/coffee",method="~other",response_code="418",tenant="unknown"} 1`,
      `meshlens_requests_total{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/users/{id}/cart",method="GET",response_code="404",tenant="unknown"} 1`,
    ].sort());
    const counts = text.split('\n').filter((l) => l.startsWith('meshlens_request_duration_milliseconds_count') || l.startsWith('meshlens_request_duration_milliseconds_sum')).sort();
    assert.equal(counts, [
      `meshlens_request_duration_milliseconds_count{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",tenant="acme"} 2`,
      `meshlens_request_duration_milliseconds_count{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}/items/{item}",tenant="globex"} 1`,
      `meshlens_request_duration_milliseconds_count{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/coffee",tenant="unknown"} 1`,
      `meshlens_request_duration_milliseconds_count{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/users/{id}/cart",tenant="unknown"} 1`,
      `meshlens_request_duration_milliseconds_sum{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",tenant="acme"} 42`,
      `meshlens_request_duration_milliseconds_sum{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}/items/{item}",tenant="globex"} 1200`,
      `meshlens_request_duration_milliseconds_sum{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/coffee",tenant="unknown"} 0`,
      `meshlens_request_duration_milliseconds_sum{${SRC},${DEST_USERS},upstream_cluster="${USERS}",path="/users/{id}/cart",tenant="unknown"} 3`,
    ].sort());
    assert.ok(text.includes(`meshlens_request_duration_milliseconds_bucket{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",tenant="acme",le="10"} 0`));
    assert.ok(text.includes(`meshlens_request_duration_milliseconds_bucket{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",tenant="acme",le="25"} 1`));
    assert.ok(text.includes(`meshlens_request_duration_milliseconds_bucket{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/api/orders/{id}",tenant="acme",le="50"} 2`));
    assert.not.ok(text.includes('~other",path="~other"'), 'no overflow series while under every cap');
    assert.equal(p.failedVms(), []);
  } finally { await p.close(); }
});
exposition('the tenant header list is honoured in order and the allow-list folds the rest', async () => {
  const p = await plugin({ tenant: { headers: ['x-org', 'x-tenant-id'], allowed: ['acme'] } }, 1);
  try {
    p.request(0, { cluster: ORDERS, requestHeaders: headers('GET', '/a', [['x-tenant-id', 'globex'], ['x-org', 'ACME']]), response: { responseCode: 200, durationMs: 1 } });
    p.request(0, { cluster: ORDERS, requestHeaders: headers('GET', '/a', [['x-tenant-id', 'globex']]), response: { responseCode: 200, durationMs: 1 } });
    assert.is(p.stats.counter('meshlens_requests_total', { upstream_cluster: ORDERS, path: '/a', method: 'GET', response_code: '200', tenant: 'acme' }), 1);
    assert.is(p.stats.counter('meshlens_requests_total', { upstream_cluster: ORDERS, path: '/a', method: 'GET', response_code: '200', tenant: '~other' }), 1);
  } finally { await p.close(); }
});
exposition.run();

const workers = suite('plugin: workers share the process-wide counters');
workers('four worker VMs incrementing one label set add up exactly', async () => {
  const p = await plugin({}, 4);
  try {
    for (let i = 0; i < 4000; i++) {
      p.request(i % 4, { cluster: ORDERS, requestHeaders: headers('GET', `/orders/${i}`, [['x-tenant-id', 't1']]), response: { responseCode: 200, durationMs: i % 7 } });
    }
    assert.is(p.stats.counter('meshlens_requests_total', { upstream_cluster: ORDERS, path: '/orders/{id}', method: 'GET', response_code: '200', tenant: 't1' }), 4000);
    p.stats.flushHistograms();
    assert.match(p.stats.renderPrometheus(), `meshlens_request_duration_milliseconds_count{${SRC},${DEST_ORDERS},upstream_cluster="${ORDERS}",path="/orders/{id}",tenant="t1"} 4000`);
    assert.is(p.memoryBytes().length, 5, 'main + four workers');
  } finally { await p.close(); }
});
workers.run();

const bounded = suite('plugin: caps hold across workers under hostile traffic');
bounded('100,000 requests with 10,000 tenants and 100,000 raw paths: exact totals, bounded series, no trap', async () => {
  const maxSeries = 300;
  const p = await plugin({ metrics: { maxSeries }, tenant: { maxTenants: 50 }, paths: { maxPerCluster: 100 } }, 4);
  try {
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      p.request(i % 4, {
        cluster: ORDERS,
        requestHeaders: headers(i % 7 === 0 ? 'PROPFIND' : 'GET', `/p/${i.toString(36)}x/${'k'.repeat(i % 30)}${i}?q=${i}`, [['x-tenant-id', `tenant-${i % 10_000}`]]),
        response: { responseCode: 200 + (i % 3), durationMs: 1 },
      });
    }
    assert.equal(p.failedVms(), []);
    const lines = p.stats.renderPrometheus().split('\n').filter((l) => l.startsWith('meshlens_requests_total{'));
    const sum = lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    assert.is(sum, N);
    // maxSeries holds for the whole process, not per worker VM; the overflow series is shared by all.
    assert.ok(lines.length <= maxSeries + 1, `${lines.length} requests_total series`);
    assert.ok(lines.some((l) => l.includes('tenant="~other"')), 'tenant cap reached');
    assert.ok(lines.some((l) => l.includes('path="~other"')), 'path cap reached');
    assert.ok(Math.max(...p.memoryBytes()) <= 4 * 1024 * 1024, `linear memory ${Math.max(...p.memoryBytes())}`);
  } finally { await p.close(); }
});
bounded.run();

const budget = suite('plugin: host-call budget');
budget('a warm request makes at most 14 host calls', async () => {
  const p = await plugin({}, 1);
  try {
    const request = () => p.request(0, { cluster: ORDERS, requestHeaders: headers('GET', '/orders/1', [['x-tenant-id', 't']]), response: { responseCode: 200, durationMs: 5 } });
    request();
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    const before = total(p.callCounts());
    for (let i = 0; i < 100; i++) request();
    const perRequest = (total(p.callCounts()) - before) / 100;
    console.log(`host calls per request: ${perRequest}`);
    assert.ok(perRequest <= 14, `${perRequest} host calls per request`);
    assert.ok(perRequest >= 4, 'the filter must at least read headers, cluster, code and record');
  } finally { await p.close(); }
});
budget.run();

const rejection = suite('plugin: bad configurations refuse the plugin with one critical line');
const badConfigs: [string, string][] = [
  ['{"tenant":{"maxTenants":0}}', 'tenant.maxTenants must be an integer in [1, 10000]'],
  ['{"paths":{"templates":["no-slash"]}}', 'paths.templates[0] must start with "/"'],
  ['{"surprise":true}', 'surprise must not be present (unknown key; known: tenant, paths, metrics, tickMs, reportIntervalMs, controlPlane, node, defaultPolicy)'],
  ['not json', 'configuration must be valid JSON (unexpected character at offset 0)'],
];
for (const [configuration, message] of badConfigs) {
  rejection(message, () => assertConfigRefused(wasm, configuration, 'invalid filter config: ' + message));
}
rejection.run();
