// Label caps are process-wide: with Envoy's one VM per worker (plus main), an operator's tenant.maxTenants,
// paths.maxPerCluster and metrics.maxClusters bound the whole process, and every worker gives a value the same label.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { readWasm } from './support.ts';

const wasm = readWasm('meshlens.wasm');
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
const WORKERS = 4;

async function plugin(configuration: object): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({ wasm, configuration: JSON.stringify(configuration), workers: WORKERS, clock: new ManualClock(0) });
}

function send(p: ProxyWasmPlugin, worker: number, cluster: string, path: string, tenant?: string): void {
  const headers: [string, string][] = [[':method', 'GET'], [':path', path], [':authority', 'orders'], [':scheme', 'http']];
  if (tenant !== undefined) headers.push(['x-tenant-id', tenant]);
  p.request(worker, { cluster, requestHeaders: headers, response: { responseCode: 200, durationMs: 1 } });
}

// Distinct values of one label across meshlens_requests_total in /stats/prometheus.
function labelValues(p: ProxyWasmPlugin, label: string, filter: (line: string) => boolean = () => true): Set<string> {
  const values = new Set<string>();
  const pattern = new RegExp(`[{,]${label}="([^"]*)"`);
  for (const line of p.stats.renderPrometheus().split('\n')) {
    if (!line.startsWith('meshlens_requests_total{') || !filter(line)) continue;
    const match = pattern.exec(line);
    if (match) values.add(match[1]);
  }
  return values;
}

function requestsTotal(p: ProxyWasmPlugin): number {
  return p.stats.renderPrometheus().split('\n').filter((l) => l.startsWith('meshlens_requests_total{'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const tenants = suite('label caps: tenant.maxTenants holds for the whole process');
tenants('300 tenants round-robin over 4 workers with maxTenants 100: exactly 100 names plus ~other', async () => {
  const p = await plugin({ tenant: { maxTenants: 100 } });
  try {
    for (let i = 0; i < 300; i++) send(p, i % WORKERS, ORDERS, '/orders', `tenant-${i}`);
    const labels = labelValues(p, 'tenant');
    assert.ok(labels.has('~other'), 'tenants beyond the cap fold into ~other');
    labels.delete('~other');
    assert.is(labels.size, 100, `${labels.size} tenant labels`);
    // First come, first admitted: the first 100 tenants, whichever worker met them.
    for (let i = 0; i < 100; i++) assert.ok(labels.has(`tenant-${i}`), `tenant-${i} admitted`);
    assert.is(requestsTotal(p), 300);
    assert.equal(p.failedVms(), []);
  } finally { await p.close(); }
});
tenants('a tenant admitted on one worker keeps its label on every worker, even after the cap is reached', async () => {
  const p = await plugin({ tenant: { maxTenants: 10 } });
  try {
    for (let i = 0; i < 10; i++) send(p, 0, ORDERS, '/orders', `early-${i}`);
    for (let i = 0; i < 50; i++) send(p, 1 + (i % 3), ORDERS, '/orders', `late-${i}`);
    for (let w = 0; w < WORKERS; w++) send(p, w, ORDERS, '/orders', 'EARLY-3');
    const count = (tenant: string) => p.stats.counter('meshlens_requests_total',
      { upstream_cluster: ORDERS, path: '/orders', method: 'GET', response_code: '200', tenant });
    assert.is(count('early-3'), 1 + WORKERS, 'workers 1-3 honour the admission made on worker 0');
    assert.is(count('~other'), 50, 'every late tenant folds on every worker');
    const labels = labelValues(p, 'tenant');
    assert.is(labels.size, 11);
  } finally { await p.close(); }
});
tenants('a refused tenant stays refused: repeats on any worker cost no shared-data calls', async () => {
  const p = await plugin({ tenant: { maxTenants: 2 } });
  try {
    for (let i = 0; i < 3; i++) send(p, i % WORKERS, ORDERS, '/orders', `t${i}`);
    for (let w = 0; w < WORKERS; w++) {
      send(p, w, ORDERS, '/orders', 'rejected');
      send(p, w, ORDERS, '/orders', 't0');
    }
    const shared = () => { const c = p.callCounts(); return (c.proxy_get_shared_data ?? 0) + (c.proxy_set_shared_data ?? 0); };
    const before = shared();
    for (let i = 0; i < 200; i++) send(p, i % WORKERS, ORDERS, '/orders', i % 2 === 0 ? 'rejected' : 't0');
    assert.is(shared() - before, 0, 'answers are remembered per VM');
    assert.equal(labelValues(p, 'tenant'), new Set(['t0', 't1', '~other']));
  } finally { await p.close(); }
});
tenants('a hostile stream of distinct tenants costs at most one shared-data call each once the cap is full', async () => {
  const p = await plugin({ tenant: { maxTenants: 5 } });
  try {
    for (let i = 0; i < 5 + 2 * WORKERS; i++) send(p, i % WORKERS, ORDERS, '/orders', `warm-${i}`);
    const shared = () => { const c = p.callCounts(); return (c.proxy_get_shared_data ?? 0) + (c.proxy_set_shared_data ?? 0); };
    const before = shared();
    const N = 2000;
    for (let i = 0; i < N; i++) send(p, i % WORKERS, ORDERS, '/orders', `hostile-${i}`);
    assert.ok(shared() - before <= N, `${shared() - before} shared-data calls for ${N} new tenants`);
    assert.is(labelValues(p, 'tenant').size, 6);
    assert.ok(Math.max(...p.memoryBytes()) <= 4 * 1024 * 1024);
  } finally { await p.close(); }
});
tenants.run();

const paths = suite('label caps: paths.maxPerCluster and metrics.maxClusters hold for the whole process');
paths('300 templates round-robin over 4 workers with maxPerCluster 100: exactly 100 per cluster plus ~other', async () => {
  const USERS = 'outbound|9090||users.default.svc.cluster.local';
  const p = await plugin({ paths: { maxPerCluster: 100 } });
  try {
    for (let i = 0; i < 300; i++) {
      send(p, i % WORKERS, ORDERS, `/orders/route-${i}`);
      send(p, (i + 1) % WORKERS, USERS, `/users/route-${i}`);
    }
    for (const cluster of [ORDERS, USERS]) {
      const labels = labelValues(p, 'path', (l) => l.includes(`upstream_cluster="${cluster}"`));
      assert.ok(labels.has('~other'));
      labels.delete('~other');
      assert.is(labels.size, 100, `${cluster}: ${labels.size} path labels`);
    }
    // A template admitted by worker 0 keeps its label on the others.
    for (let w = 0; w < WORKERS; w++) send(p, w, ORDERS, '/orders/route-0');
    assert.is(p.stats.counter('meshlens_requests_total',
      { upstream_cluster: ORDERS, path: '/orders/route-0', method: 'GET', response_code: '200', tenant: 'unknown' }), 1 + WORKERS);
    assert.is(requestsTotal(p), 600 + WORKERS);
  } finally { await p.close(); }
});
paths('clusters beyond metrics.maxClusters fold into ~other paths on every worker', async () => {
  const p = await plugin({ metrics: { maxClusters: 3 } });
  try {
    for (let i = 0; i < 12; i++) send(p, i % WORKERS, `cluster-${i}`, '/a');
    for (let w = 0; w < WORKERS; w++) send(p, w, 'cluster-1', '/a');
    const withPath = labelValues(p, 'upstream_cluster', (l) => l.includes('path="/a"'));
    assert.equal(withPath, new Set(['cluster-0', 'cluster-1', 'cluster-2']));
    assert.is(p.stats.counter('meshlens_requests_total',
      { upstream_cluster: 'cluster-1', path: '/a', method: 'GET', response_code: '200', tenant: 'unknown' }), 1 + WORKERS);
    assert.is(labelValues(p, 'upstream_cluster', (l) => l.includes('path="~other"')).size, 9);
  } finally { await p.close(); }
});
paths.run();

const series = suite('label caps: metrics.maxSeries holds for the whole process');
series('4 workers defining 400 distinct series under maxSeries 100: 100 exported series with the folds, totals exact', async () => {
  const maxSeries = 100;
  const p = await plugin({ metrics: { maxSeries, durationHistogram: false } });
  try {
    for (let i = 0; i < 400; i++) send(p, i % WORKERS, ORDERS, `/s${i}`);
    const text = p.stats.renderPrometheus();
    const lines = text.split('\n').filter((l) => l.startsWith('meshlens_requests_total{'));
    const regular = lines.filter((l) => !l.includes('upstream_cluster="~other"'));
    // maxSeries bounds every exported meshlens_ series, the 12 reserved for folds included (1 requests ~other, the
    // fold counter, 10 resilience folds; no histogram here), so the request series get what the breaker's own
    // series (its state gauge, its retry decisions) leave of maxSeries − 12, and not one more.
    const exported = text.split('\n').filter((l) => l.startsWith('meshlens_'));
    // Folds are the series whose cluster is "~other"; a breaker scope's tenant="~other" (the scope that requests
    // with no tenant share with those beyond the tenant cap) is a series of its own.
    const own = exported.filter((l) => !l.includes('upstream_cluster="~other"') && !l.startsWith('meshlens_series_overflow_total'));
    assert.ok(exported.length <= maxSeries, `${exported.length} meshlens_ series exported`);
    assert.is(own.length, maxSeries - 12, `${own.length} own series`);
    assert.ok(regular.length >= maxSeries - 12 - 4, `${regular.length} regular series`);
    assert.is(requestsTotal(p), 400);
    assert.is(p.stats.counter('meshlens_series_overflow_total'), 400 - regular.length);
    // An admitted series is the same series on every worker, not an overflow on the others.
    for (let w = 0; w < WORKERS; w++) send(p, w, ORDERS, '/s0');
    assert.is(p.stats.counter('meshlens_requests_total',
      { upstream_cluster: ORDERS, path: '/s0', method: 'GET', response_code: '200', tenant: 'unknown' }), 1 + WORKERS);
    assert.is(p.stats.counter('meshlens_series_overflow_total'), 400 - regular.length);
  } finally { await p.close(); }
});
series.run();
