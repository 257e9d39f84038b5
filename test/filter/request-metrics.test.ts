import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnvoyStats, filterExtraStatTags, ISTIO_VERSIONS, istioBootstrapStatsTags } from '../../filter/host/index.ts';
import { loadPolicyHarness } from './support.ts';

const harness = await loadPolicyHarness();

// What Envoy makes of a filter stat name (in the wasmcustom namespace) under an Istio version's bootstrap stats_tags
// (the host's TagProducer).
function extract(name: string, istio: (typeof ISTIO_VERSIONS)[number] = '1.28'): { name: string; tags: Record<string, string> } {
  const stats = new EnvoyStats({ statsTags: istioBootstrapStatsTags(istio, filterExtraStatTags()) });
  const stat = stats.wasmMetric('counter', name);
  return { name: stat.tagExtractedName, tags: Object.fromEntries(stat.tags) };
}
/** Prometheus drops a label whose value is empty. */
function nonEmpty(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== ''));
}

const PROXY = { reporter: 'source', source_workload: 'checkout', source_workload_namespace: 'shop' };
harness.call('metricProxyLabels', 'source', 'checkout', 'shop');

const encoding = suite('request-metrics: Istio-style name encoding');
encoding('requests_total: proxy labels, the destination service derived from the cluster, the five tags, the name', () => {
  assert.is(harness.str('metricRequestsName', 'outbound|80||orders.default.svc.cluster.local', '/api/orders/{id}', 'GET', '200', 'acme'),
    'reporter=.=source;.;source_workload=.=checkout;.;source_workload_namespace=.=shop;.;' +
    'destination_service=.=orders.default.svc.cluster.local;.;destination_service_name=.=orders;.;' +
    'destination_service_namespace=.=default;.;upstream_cluster=.=outbound|80||orders.default.svc.cluster.local;.;' +
    'path=.=/api/orders/{id};.;method=.=GET;.;response_code=.=200;.;tenant=.=acme;.;meshlens_requests_total');
  assert.is(harness.str('metricDurationName', 'c', '/p', 't'),
    'reporter=.=source;.;source_workload=.=checkout;.;source_workload_namespace=.=shop;.;' +
    'destination_service=.=c;.;destination_service_name=.=c;.;destination_service_namespace=.=unknown;.;' +
    'upstream_cluster=.=c;.;path=.=/p;.;tenant=.=t;.;meshlens_request_duration_milliseconds');
});
encoding('destination_service, _name and _namespace are those of istio_requests_total for the cluster', () => {
  const cases: [string, string][] = [
    ['outbound|8080||orders.default.svc.cluster.local', 'orders.default.svc.cluster.local|orders|default'],
    ['outbound|9090|v2|payments.billing.svc.cluster.local', 'payments.billing.svc.cluster.local|payments|billing'],
    ['outbound|443||api.example.com', 'api.example.com|api.example.com|unknown'],
    ['inbound|8080||', 'unknown|unknown|unknown'],
    ['PassthroughCluster', 'PassthroughCluster|PassthroughCluster|unknown'],
    ['~other', '~other|~other|~other'],
  ];
  for (const [cluster, expected] of cases) assert.is(harness.str('metricDestination', cluster), expected, cluster);
});
for (const istio of ISTIO_VERSIONS) {
  encoding(`Istio ${istio} bootstrap tags recover every value and leave the bare metric name`, () => {
    const name = harness.str('metricRequestsName', 'outbound|8080||a.b.svc.cluster.local', '/users/{id}/cart', 'POST', '503', 'team-7.eu');
    assert.equal(extract(name, istio), { name: 'wasmcustom.meshlens_requests_total', tags: {
      ...PROXY, destination_service: 'a.b.svc.cluster.local', destination_service_name: 'a', destination_service_namespace: 'b',
      upstream_cluster: 'outbound|8080||a.b.svc.cluster.local', path: '/users/{id}/cart', method: 'POST', response_code: '503',
      tenant: 'team-7.eu' } });
  });
}
encoding('a value containing text of an unanchored Istio tag adds no label of it (cache., component., tag., rbac.…)', () => {
  const triggers = ['redis-cache.default.svc.cluster.local', 'component.x.y', 'tag.a;b', 'wasm_filter.z.q', 'rbac.allowed',
    'a.istio_dry_run_deny_b', 'x.shadow_denied'];
  for (const value of triggers) {
    const cluster = `outbound|6379||${value}`;
    const name = harness.str('metricRequestsName', cluster, '/p', 'GET', '200', value);
    const clean = harness.str('metricSanitize', value);
    for (const istio of ISTIO_VERSIONS) {
      const got = extract(name, istio);
      assert.is(got.name, 'wasmcustom.meshlens_requests_total', `${value} under Istio ${istio}`);
      const labels = nonEmpty(got.tags);
      assert.equal(Object.keys(labels).sort(), ['destination_service', 'destination_service_name', 'destination_service_namespace',
        'method', 'path', 'reporter', 'response_code', 'source_workload', 'source_workload_namespace', 'tenant', 'upstream_cluster'],
      `${value} under Istio ${istio}`);
      assert.is(labels.upstream_cluster, `outbound|6379||${clean}`);
      assert.is(labels.tenant, clean);
    }
  }
  const plain = harness.str('metricRequestsName', 'outbound|80||orders.default.svc.cluster.local', '/p', 'GET', '200', 'acme');
  assert.not.match(plain, /^(cache|component|tag|wasm_filter|authz_[a-z_]+)=/, 'a name without trigger text has no guard field');
});
encoding('values containing separators or escapes cannot break the encoding', () => {
  const hostile = ['a;.;b', 'x=.=y', 'new\nline', 'quo"te', 'back\\slash', 'sp ace', 'ü', ';.;tenant=.=evil;.;'];
  for (const value of hostile) {
    const name = harness.str('metricRequestsName', value, value, 'GET', '200', value);
    const { name: bare, tags: found } = extract(name);
    assert.is(bare, 'wasmcustom.meshlens_requests_total', `value ${JSON.stringify(value)}`);
    const clean = harness.str('metricSanitize', value);
    assert.match(clean, /^[A-Za-z0-9\-._~/{}|:@+]*$/);
    assert.is(clean.length, value.length);
    assert.equal(nonEmpty(found), { ...PROXY, destination_service: clean, destination_service_name: clean,
      destination_service_namespace: 'unknown', upstream_cluster: clean, path: clean, method: 'GET', response_code: '200', tenant: clean });
  }
  assert.is(harness.str('metricSanitize', 'x'.repeat(1000)).length, 256);
});
encoding.run();

const labels = suite('request-metrics: bounded label values');
labels('known methods pass, anything else is ~other (case-sensitive)', () => {
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) assert.is(harness.str('metricMethod', m), m);
  for (const m of ['get', 'PROPFIND', 'BREW', '', 'GET ']) assert.is(harness.str('metricMethod', m), '~other');
});
labels('response codes 0..999 print as numbers, others are ~other', () => {
  assert.is(harness.str('metricResponseCode', 200n), '200');
  assert.is(harness.str('metricResponseCode', 0n), '0');
  assert.is(harness.str('metricResponseCode', 1000n), '~other');
  assert.is(harness.str('metricResponseCode', -1n), '~other');
});
labels.run();
