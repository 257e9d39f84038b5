// The release filter's metrics as Prometheus scrapes them from Envoy under each supported Istio's bootstrap
// stats_tags with the shipped extraStatTags: every meshlens_* family comes out under its own name with exactly the
// documented labels (meshlens-metrics.ts), whatever the Istio version, and a cluster whose name contains text of
// Istio's unanchored specifiers (`cache.`) gets no label of theirs. Without response_code in extraStatTags the
// counter would be renamed `response_code___200___meshlens_requests_total` (checked as the negative).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ENVOY_PROFILES, ManualClock, ProxyWasmPlugin, istioBootstrapStatsTags, type EnvoyProfile,
} from '../../filter/host/index.ts';
import { REPO_ROOT, envoyFilterPluginConfigText, meshExtraStatTags } from './manifests.ts';
import { MESHLENS_METRICS, baseMetric } from './meshlens-metrics.ts';
import { readFilterModule } from '../support/release-filter.ts';

const wasm = readFilterModule('meshlens.wasm');
const REDIS = 'outbound|6379||redis-cache.default.svc.cluster.local';
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
const NODE = { id: 'sidecar~10.4.0.17~checkout-1.shop~shop.svc.cluster.local', metadata: { WORKLOAD_NAME: 'checkout', NAMESPACE: 'shop' } };
const TICK_MS = 200;

/** The shipped plugin config without the control plane, its default breaker tripping after 5 requests. */
function configuration(): string {
  const config = JSON.parse(envoyFilterPluginConfigText());
  delete config.controlPlane;
  config.tickMs = TICK_MS;
  config.defaultPolicy.breaker.minRequests = 5;
  return JSON.stringify(config);
}

interface Series { name: string; labels: Record<string, string> }
/** Series of a Prometheus exposition with Prometheus' reading of it: an empty label value is no label. */
function scrape(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} \S+$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) if (v !== '') labels[k] = v;
    out.push({ name: m[1], labels });
  }
  return out;
}

async function traffic(profile: EnvoyProfile, extraStatTags: string[], delimitedStatsTags = true): Promise<Series[]> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const plugin = await ProxyWasmPlugin.create({
    wasm, configuration: configuration(), workers: 2, clock, node: NODE, envoy: profile.envoy,
    statsTags: istioBootstrapStatsTags(profile.istio, extraStatTags, { delimitedStatsTags }),
  });
  try {
    const request = (cluster: string, code: number) => plugin.request(0, {
      cluster, requestHeaders: [[':method', 'GET'], [':path', '/orders/17'], [':authority', 'x'], [':scheme', 'http'], ['x-tenant-id', 'acme']],
      response: { responseCode: code, durationMs: 4, attemptCount: 1 },
    });
    for (let i = 0; i < 3; i++) request(ORDERS, 200);
    // One request Envoy retried once, for meshlens_retries_total.
    plugin.request(0, {
      cluster: ORDERS, requestHeaders: [[':method', 'GET'], [':path', '/orders/17'], [':authority', 'x'], [':scheme', 'http'], ['x-tenant-id', 'acme']],
      response: { responseCode: 200, durationMs: 4, attemptCount: 2 },
    });
    for (let i = 0; i < 10; i++) request(REDIS, 503);
    for (let t = 0; t < 5; t++) clock.advance(TICK_MS);
    const rejected = request(REDIS, 200);
    assert.is(rejected.localReply?.status, 503, 'the breaker opened, so the rejected/transition families exist too');
    plugin.stats.flushHistograms();
    return scrape(plugin.stats.renderPrometheus());
  } finally { await plugin.close(); }
}

const test = suite('meshlens metrics under every supported Istio bootstrap');

// 1.24 and 1.25 also render the pre-delimited cluster_name/http_conn_manager_prefix regexes when
// ENABLE_DELIMITED_STATS_TAG_REGEX=false.
const variants = [
  ...ENVOY_PROFILES.map((profile) => ({ profile, delimited: true })),
  ...ENVOY_PROFILES.filter((p) => p.istio === '1.24' || p.istio === '1.25').map((profile) => ({ profile, delimited: false })),
];
for (const { profile, delimited } of variants) {
  const variant = delimited ? '' : ', ENABLE_DELIMITED_STATS_TAG_REGEX=false';
  test(`Istio ${profile.istio} (Envoy ${profile.envoy}${variant}): every family, its documented labels, no spurious label`, async () => {
    // Envoy's own Wasm stats for the plugin (envoy_wasm_meshlens_vm_reload…) are Envoy's, not the filter's; a
    // mis-extracted filter stat never starts with envoy_ (it starts with a tag name, as response_code___200___…).
    const series = (await traffic(profile, meshExtraStatTags(), delimited))
      .filter((s) => s.name.includes('meshlens') && !s.name.startsWith('envoy_'));
    const families = new Set<string>();
    for (const s of series) {
      const metric = baseMetric(s.name);
      assert.ok(metric, `unexpected series name ${s.name}`);
      families.add(metric!);
      const { le, ...labels } = s.labels;
      assert.equal(Object.keys(labels).sort(), [...MESHLENS_METRICS[metric!].labels].sort(), `${s.name} ${JSON.stringify(s.labels)}`);
      assert.is(labels.reporter, 'source');
      assert.is(labels.source_workload, 'checkout');
      assert.is(labels.source_workload_namespace, 'shop');
    }
    assert.equal([...families].sort(), Object.keys(MESHLENS_METRICS).sort(), 'every documented family was produced');
    const redis = series.filter((s) => s.labels.upstream_cluster === REDIS);
    assert.ok(redis.length > 0);
    for (const s of redis) {
      assert.is(s.labels.destination_service, 'redis-cache.default.svc.cluster.local');
      assert.is(s.labels.destination_service_name, 'redis-cache');
      assert.is(s.labels.destination_service_namespace, 'default');
    }
    const orders = series.find((s) => s.name === 'meshlens_requests_total' && s.labels.upstream_cluster === ORDERS);
    assert.equal(orders?.labels, {
      reporter: 'source', source_workload: 'checkout', source_workload_namespace: 'shop',
      destination_service: 'orders.default.svc.cluster.local', destination_service_name: 'orders', destination_service_namespace: 'default',
      upstream_cluster: ORDERS, path: '/orders/{id}', method: 'GET', response_code: '200', tenant: 'acme',
    });
  });
}

test('negative: with extraStatTags as shipped before (no response_code, no guards) the counter loses its name and gains `cache`', async () => {
  const before = ['upstream_cluster', 'path', 'method', 'tenant', 'to_state', 'decision'];
  const series = await traffic(ENVOY_PROFILES[ENVOY_PROFILES.length - 1], before);
  const names = new Set(series.map((s) => s.name));
  assert.not.ok(names.has('meshlens_requests_total'));
  assert.ok([...names].some((n) => n.startsWith('reporter___source___') && n.includes('response_code___200___')), [...names].join(' '));
  assert.ok(series.some((s) => s.labels.cache === 'default'), 'Istio\'s (cache\\.(.+?)\\.) split redis-cache.default.…');
});

test.run();
