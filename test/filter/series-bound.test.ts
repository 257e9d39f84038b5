// The true series bound (metrics.maxSeries counts every exported meshlens_ series, a histogram as 22), the breaker
// state gauge, the retries counter and the fixed shared-data key set, through the release filter and the Node host
// directly (no HTTP), parsing /stats/prometheus as Prometheus would.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin, SharedData } from '../../filter/host/index.ts';
import { readWasm } from './support.ts';

const wasm = readWasm('meshlens.wasm');
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
const TICK_MS = 200;
// filter/assembly/contexts/shared-admission.ts ADMIT_SLOTS.
const ADMIT_SLOTS = 256;

interface Line { name: string; labels: Record<string, string>; value: number }
function scrape(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function request(p: ProxyWasmPlugin, worker: number, tenant: string, path: string, code: number, attemptCount = 1) {
  return p.request(worker, {
    cluster: ORDERS,
    requestHeaders: [[':method', 'GET'], [':path', path], [':authority', 'orders'], [':scheme', 'http'], ['x-tenant-id', tenant]],
    response: { responseCode: code, durationMs: 3, attemptCount },
  });
}

const bound = suite('series bound: cross-product traffic');
bound('100 tenants × 10,000 paths × 5 codes over 2 workers: ≤ maxSeries meshlens_ series, folds counted exactly, < 2 MB', async () => {
  const maxSeries = 5000; // the default
  const p = await ProxyWasmPlugin.create({
    wasm, workers: 2, clock: new ManualClock(0), sharedData: new SharedData(),
    configuration: JSON.stringify({ tenant: { maxTenants: 100 }, paths: { maxPerCluster: 10000 } }),
  });
  try {
    const codes = [200, 201, 404, 500, 503];
    const N = 60_000;
    // Strides coprime to 100, 10,000 and 5 walk through the cross product rather than along one axis.
    for (let i = 0; i < N; i++) {
      request(p, i % 2, `tenant-${(i * 37) % 100}`, `/items/v${((i * 7919) % 10000).toString(36)}x`, codes[(i * 3) % 5]);
    }
    assert.equal(p.failedVms(), []);
    p.stats.flushHistograms();
    const text = await p.stats.renderPrometheusAsync();
    assert.is(text, p.stats.renderPrometheus(), 'the incremental rendering is the same text');
    const lines = scrape(text).filter((l) => l.name.startsWith('meshlens_'));
    assert.ok(lines.length <= maxSeries, `${lines.length} meshlens_ series exported`);
    assert.ok(lines.length >= maxSeries - 40, `${lines.length}: the budget is used, not refused early`);
    assert.ok(Buffer.byteLength(text) < 2 * 1024 * 1024, `${Buffer.byteLength(text)} bytes scraped`);
    const requests = lines.filter((l) => l.name === 'meshlens_requests_total');
    assert.is(requests.reduce((n, l) => n + l.value, 0), N, 'every request counted once');
    const folded = (l: Line) => l.labels.upstream_cluster === '~other';
    const foldedRequests = requests.filter(folded).reduce((n, l) => n + l.value, 0);
    const foldedDurations = lines.filter((l) => l.name === 'meshlens_request_duration_milliseconds_count' && folded(l))
      .reduce((n, l) => n + l.value, 0);
    const foldedOther = lines.filter((l) => folded(l) && !l.name.startsWith('meshlens_request')).reduce((n, l) => n + l.value, 0);
    assert.ok(foldedRequests > 0 && foldedDurations > 0, 'the bound was reached');
    const counter = lines.find((l) => l.name === 'meshlens_series_overflow_total')!.value;
    assert.is(counter, foldedRequests + foldedDurations + foldedOther, 'the fold counter counts what went to ~other');
  } finally { await p.close(); }
});
bound('a scrape yields to the event loop between pieces, and concurrent scrapes share one rendering', async () => {
  const p = await ProxyWasmPlugin.create({
    wasm, workers: 1, clock: new ManualClock(0), sharedData: new SharedData(),
    configuration: JSON.stringify({ paths: { maxPerCluster: 2000 } }),
  });
  try {
    for (let i = 0; i < 3000; i++) request(p, 0, 'acme', `/a/v${i.toString(36)}x`, 200);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const [a, b] = await Promise.all([p.stats.renderPrometheusAsync(50), p.stats.renderPrometheusAsync(50)]);
    clearInterval(timer);
    assert.ok(a === b);
    assert.ok(ticks > 0, 'timers ran while the scrape rendered');
    // A later scrape renders afresh (a settled rendering is not served again), also when it fits one piece.
    request(p, 0, 'acme', '/a/later', 200);
    const later = await p.stats.renderPrometheusAsync();
    assert.ok(later !== a && later === p.stats.renderPrometheus(), 'the next scrape sees the new request');
    assert.is(await p.stats.renderPrometheusAsync(1e9), p.stats.renderPrometheus());
    request(p, 0, 'acme', '/a/later2', 200);
    assert.is(await p.stats.renderPrometheusAsync(1e9), p.stats.renderPrometheus());
  } finally { await p.close(); }
});
bound.run();

const state = suite('breaker state gauge and retries');
state('meshlens_breaker_state follows a scope Closed → Open → HalfOpen → Closed; retries attempted are counted', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const p = await ProxyWasmPlugin.create({
    wasm, clock, workers: 2, sharedData: new SharedData(),
    configuration: JSON.stringify({
      tickMs: TICK_MS, defaultPolicy: { target: { perTenant: true }, breaker: { minRequests: 10, openMs: 5000, halfOpenProbes: 2, halfOpenSuccesses: 2 } },
    }),
  });
  const gauge = (tenant: string) => scrape(p.stats.renderPrometheus())
    .filter((l) => l.name === 'meshlens_breaker_state' && l.labels.tenant === tenant && l.labels.upstream_cluster === ORDERS);
  try {
    request(p, 0, 'acme', '/orders', 200, 3);
    request(p, 1, 'globex', '/orders', 200);
    const closed = gauge('acme');
    assert.is(closed.length, 1);
    assert.is(closed[0].value, 0);
    assert.is(closed[0].labels.path, '~all');
    for (let i = 0; i < 12; i++) request(p, i % 2, 'acme', '/orders', 503);
    clock.advance(TICK_MS);
    assert.is(gauge('acme')[0].value, 1, 'Open');
    assert.is(gauge('globex')[0].value, 0, 'another tenant stays Closed');
    clock.advance(TICK_MS); // every worker has adopted the trip
    for (let w = 0; w < 2; w++) assert.is(request(p, w, 'acme', '/orders', 200).localReply?.status, 503);
    assert.is(gauge('acme')[0].value, 1, 'still Open');
    clock.advance(5000 + TICK_MS);
    request(p, 0, 'acme', '/orders', 200); // first probe: HalfOpen until enough succeed
    assert.is(gauge('acme')[0].value, 2, 'HalfOpen');
    request(p, 1, 'acme', '/orders', 200);
    clock.advance(TICK_MS);
    request(p, 0, 'acme', '/orders', 200);
    assert.is(gauge('acme')[0].value, 0, 'Closed again');
    const retries = scrape(p.stats.renderPrometheus()).filter((l) => l.name === 'meshlens_retries_total');
    assert.equal(retries.map((l) => [l.labels.tenant, l.value]), [['acme', 2]], 'attempt count 3 = 2 retries');
  } finally { await p.close(); }
});
state.run();

const keys = suite('shared data: a fixed key set');
keys('40,000 requests over 4,000 tenant × path combinations and 2 workers: keys ≤ slots + counts + scopes', async () => {
  const sharedData = new SharedData();
  const maxTenants = 100;
  const p = await ProxyWasmPlugin.create({
    wasm, workers: 2, clock: new ManualClock(0), sharedData,
    configuration: JSON.stringify({ tenant: { maxTenants }, paths: { maxPerCluster: 10000 }, defaultPolicy: { target: { perTenant: true } } }),
  });
  try {
    const usage: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 10_000; i++) {
        const n = round * 10_000 + i;
        request(p, n % 2, `t${(n * 13) % 200}`, `/k/v${((n * 7) % 20 + round * 20).toString(36)}x`, 200);
      }
      usage.push(sharedData.usage('meshlens').keys);
    }
    // Slot keys appear as hashes first land in them, so the count creeps up to the bound but never past it.
    assert.equal(p.failedVms(), []);
    // Admission slots, one count key per namespace (tenant, cluster, series, this cluster's paths), one breaker record
    // per scope: a per-tenant scope per admitted tenant plus "~other".
    const fixed = ADMIT_SLOTS + 4 + maxTenants + 1;
    for (const n of usage) assert.ok(n <= fixed, `${usage} keys (bound ${fixed})`);
  } finally { await p.close(); }
});
keys.run();
