import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnvoyStats } from '../../filter/host/index.ts';
import { MAX_INTERVAL_SAMPLES } from '../../filter/host/stats.ts';

const ISTIO_TAGS = [
  { tag: 'reporter', regex: '(reporter=\\.=(.*?);\\.;)' },
  { tag: 'response_code', regex: '(response_code=\\.=(.*?);\\.;)' },
];

const exposition = suite('stats: Envoy exposition formats');

exposition('worked example of proxy-wasm-envoy.md §7, byte for byte', () => {
  const stats = new EnvoyStats({ statsTags: ISTIO_TAGS });
  stats.add(stats.wasmMetric('counter', 'reporter=.=destination;.;response_code=.=200;.;myfilter_requests_total'), 42);
  stats.add(stats.wasmMetric('counter', 'myfilter_errors_total'), 3);
  const h = stats.wasmMetric('histogram', 'myfilter_latency_ms');
  stats.record(h, 3);
  stats.record(h, 700);
  stats.flushHistograms();
  const buckets = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
  const expected =
    '# TYPE myfilter_errors_total counter\nmyfilter_errors_total{} 3\n' +
    '# TYPE myfilter_requests_total counter\nmyfilter_requests_total{reporter="destination",response_code="200"} 42\n' +
    '# TYPE myfilter_latency_ms histogram\n' +
    buckets.map((b) => `myfilter_latency_ms_bucket{le="${b}"} ${b >= 700 ? 2 : b >= 3 ? 1 : 0}\n`).join('') +
    'myfilter_latency_ms_bucket{le="+Inf"} 2\nmyfilter_latency_ms_sum{} 703\nmyfilter_latency_ms_count{} 2\n';
  assert.is(stats.renderPrometheus(), expected);
  assert.is(stats.counter('myfilter_requests_total', { reporter: 'destination' }), 42);
  assert.is(stats.counter('wasmcustom.myfilter_requests_total', { response_code: '200' }), 42);
  assert.is(stats.counter('myfilter_requests_total', { response_code: '500' }), undefined);
});

exposition('an uncovered tag stays in the name as _ noise; a digit-leading name is dropped; native stats get envoy_', () => {
  const stats = new EnvoyStats({ statsTags: [ISTIO_TAGS[0]] });
  stats.add(stats.wasmMetric('counter', 'reporter=.=source;.;tenant=.=a;.;x_total'), 1);
  stats.add(stats.wasmMetric('counter', '5xx_total'), 1);
  stats.add(stats.stat('counter', 'cluster.outbound.upstream_rq_total'), 2);
  assert.is(stats.renderPrometheus(),
    '# TYPE envoy_cluster_outbound_upstream_rq_total counter\nenvoy_cluster_outbound_upstream_rq_total{} 2\n' +
    '# TYPE tenant___a___x_total counter\ntenant___a___x_total{reporter="source"} 1\n');
});

exposition('tag regexes apply in order to the full name; values are escaped', () => {
  const stats = new EnvoyStats({ statsTags: [{ tag: 'b', regex: '(b=\\.=(.*?);\\.;)' }, { tag: 'a', regex: '(a=\\.=(.*?);\\.;)' }] });
  stats.set(stats.wasmMetric('gauge', 'a=.=x"y;.;b=.=2;.;g'), 4);
  assert.is(stats.renderPrometheus(), '# TYPE g gauge\ng{b="2",a="x\\"y"} 4\n');
});

exposition('/stats lists counters and gauges by name without the namespace, then histograms', () => {
  const stats = new EnvoyStats({ statsTags: [] });
  stats.add(stats.wasmMetric('counter', 'b_total'), 2);
  stats.set(stats.wasmMetric('gauge', 'a_gauge'), 1);
  stats.wasmMetric('histogram', 'c_ms');
  assert.is(stats.renderText(), 'a_gauge: 1\nb_total: 2\nc_ms: No recorded values\n');
});

exposition('gauges are process-wide last-writer-wins; histograms merge only at flush', () => {
  const stats = new EnvoyStats({ statsTags: [] });
  const g1 = stats.wasmMetric('gauge', 'g'), g2 = stats.wasmMetric('gauge', 'g');
  assert.is(g1, g2);
  stats.set(g1, 5); stats.set(g2, 9);
  assert.is(stats.gauge('g'), 9);
  const h = stats.wasmMetric('histogram', 'h');
  stats.record(h, 1);
  assert.equal(stats.histogram('h'), { count: 0, sum: 0 });
  stats.flushHistograms();
  stats.flushHistograms();
  assert.equal(stats.histogram('h'), { count: 1, sum: 1 });
});
exposition('a histogram holds bounded memory between flushes; count, sum, buckets and quantiles stay exact', () => {
  const stats = new EnvoyStats();
  const h = stats.wasmMetric('histogram', 'busy_ms');
  const samples = 50_000;
  for (let i = 1; i <= samples; i++) stats.record(h, i % 1000);        // 0..999, 50 times each
  assert.ok(h.pending.length <= MAX_INTERVAL_SAMPLES, `${h.pending.length} samples held`);
  assert.is(h.pendingCount, samples);
  stats.flushHistograms();
  assert.is(h.sampleCount, samples);
  assert.is(h.sampleSum, 50 * (999 * 1000) / 2);
  const text = stats.renderText();
  const line = text.split('\n').find((l) => l.startsWith('busy_ms:'))!;
  // Cumulative quantiles come from the buckets: P50 of 0..999 is 499 → bucket 500; P100 999 → 1000; P0 0 → 0.5.
  assert.match(line, /P0\([^,]+,0\.5\)/);
  assert.match(line, /P50\([^,]+,500\)/);
  assert.match(line, /P100\([^,]+,1000\)/);
  // Interval quantiles come from the reservoir: a uniform sample of 0..999 has its median near 500.
  const median = Number(/P50\(([^,]+),/.exec(line)![1]);
  assert.ok(median > 400 && median < 600, `interval median ${median}`);
});

exposition.run();

// Envoy's TagProducerImpl / TagExtractorStdRegexImpl (v1.36.x source/common/stats/tag_producer_impl.cc,
// tag_extractor_impl.cc) as the host models it.
const producer = suite('stats: tag extraction as Envoy\'s TagProducer');

producer('a tag name defined twice: the first specifier that matches produces it, the other is skipped', () => {
  const stats = new EnvoyStats({ statsTags: [
    { tag: 'response_code', regex: '_rq(_(\\d{3}))$' },
    { tag: 'response_code', regex: '(response_code=\\.=(.*?);\\.;)' },
  ] });
  const ours = stats.wasmMetric('counter', 'response_code=.=200;.;x_total');
  assert.equal([ours.tagExtractedName, ours.tags], ['wasmcustom.x_total', [['response_code', '200']]]);
  const both = stats.stat('counter', 'response_code=.=201;.;cluster.a.upstream_rq_503');
  assert.equal(both.tags, [['response_code', '503']], 'the first one matched, so the second is not even tried');
  assert.is(both.tagExtractedName, 'response_code=.=201;.;cluster.a.upstream_rq');
});

producer('specifiers without a ^token prefix run first, in order; prefixed ones only on names starting with it', () => {
  const stats = new EnvoyStats({ statsTags: [
    { tag: 'http_prefix', regex: '^http\\.((.*?)\\.)' },
    { tag: 'anywhere', regex: '(x\\.(.+?)\\.)' },
  ] });
  const s = stats.stat('counter', 'http.x.y.rq_total');
  assert.equal(s.tags, [['anywhere', 'y'], ['http_prefix', 'x']], 'unprefixed first although declared second');
  assert.is(s.tagExtractedName, 'http.rq_total', 'removed ranges are unioned over the original name');
  assert.equal(stats.stat('counter', 'tcp.http.x.total').tags, [], 'http_prefix never runs on a tcp. name');
});

producer('one group: it is both removed and the value; POSIX classes in brackets work as std::regex reads them', () => {
  const stats = new EnvoyStats({ statsTags: [
    { tag: 'port', regex: '^listener\\.(([_.[:digit:]]*)\\.)' },
    { tag: 'whole', regex: '(_suffix)$' },
  ] });
  const s = stats.stat('counter', 'listener.0.0.0.0_15001.cx_suffix');
  assert.equal(s.tags, [['whole', '_suffix'], ['port', '0.0.0.0_15001']]);
  assert.is(s.tagExtractedName, 'listener.cx');
});

producer.run();
