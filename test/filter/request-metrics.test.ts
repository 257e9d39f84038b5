import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicyHarness, repoRoot } from './support.ts';

const harness = await loadPolicyHarness();
const tags: { tag: string; regex: string }[] = JSON.parse(readFileSync(join(repoRoot, 'filter', 'stats-tags.json'), 'utf8'));

// Envoy's TagExtractor: first capture group is removed from the name, the second is the value.
function extract(name: string): { name: string; tags: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const { tag, regex } of tags) {
    const match = new RegExp(regex).exec(name);
    if (!match) continue;
    out[tag] = match[2];
    name = name.slice(0, match.index) + name.slice(match.index + match[1].length);
  }
  return { name, tags: out };
}

const encoding = suite('request-metrics: Istio-style name encoding');
encoding('requests_total encodes the five tags in order, then the metric name', () => {
  assert.is(harness.str('metricRequestsName', 'outbound|80||orders.default.svc.cluster.local', '/api/orders/{id}', 'GET', '200', 'acme'),
    'upstream_cluster=.=outbound|80||orders.default.svc.cluster.local;.;path=.=/api/orders/{id};.;method=.=GET;.;' +
    'response_code=.=200;.;tenant=.=acme;.;meshlens_requests_total');
  assert.is(harness.str('metricDurationName', 'c', '/p', 't'),
    'upstream_cluster=.=c;.;path=.=/p;.;tenant=.=t;.;meshlens_request_duration_milliseconds');
});
encoding('the stats-tags regexes recover every value and leave the bare metric name', () => {
  const name = harness.str('metricRequestsName', 'outbound|8080||a.b', '/users/{id}/cart', 'POST', '503', 'team-7.eu');
  assert.equal(extract(name), { name: 'meshlens_requests_total', tags: {
    upstream_cluster: 'outbound|8080||a.b', path: '/users/{id}/cart', method: 'POST', response_code: '503', tenant: 'team-7.eu' } });
});
encoding('values containing separators or escapes cannot break the encoding', () => {
  const hostile = ['a;.;b', 'x=.=y', 'new\nline', 'quo"te', 'back\\slash', 'sp ace', 'ü', ';.;tenant=.=evil;.;'];
  for (const value of hostile) {
    const name = harness.str('metricRequestsName', value, value, 'GET', '200', value);
    const { name: bare, tags: found } = extract(name);
    assert.is(bare, 'meshlens_requests_total', `value ${JSON.stringify(value)}`);
    const clean = harness.str('metricSanitize', value);
    assert.match(clean, /^[A-Za-z0-9\-._~/{}|:@+]*$/);
    assert.is(clean.length, value.length);
    assert.equal(found, { upstream_cluster: clean, path: clean, method: 'GET', response_code: '200', tenant: clean });
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
