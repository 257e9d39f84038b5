import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RESPONSE_FLAG_BITS } from '../../filter/host/abi-constants.ts';
import { GET, lines, only, probe } from './support.ts';

const UPSTREAM_503 = {
  responseCode: 503, responseFlags: 'UF,URX', durationMs: 12, upstreamAddress: '10.0.0.1:8080',
  upstreamLocalAddress: '10.0.0.2:41000', attemptCount: 3,
};

const maps = suite('vm: header maps and properties per callback');

maps('request headers are readable and writable in on_request_headers, properties encoded as Envoy does', async () => {
  const { plugin } = await probe();
  const headers = GET('/orders/1?x=1', [['X-Tenant', 'acme']]);
  const result = plugin.request(0, { cluster: 'outbound|8080||orders', requestHeaders: headers, response: UPSTREAM_503 });
  assert.ok(only(plugin, 'rh ctx=').endsWith('path=0:/orders/1?x=1'));
  assert.is(only(plugin, 'rh.prop.path='), 'rh.prop.path=0:/orders/1?x=1');
  assert.is(only(plugin, 'rh.prop.cluster='), 'rh.prop.cluster=0:outbound|8080||orders');
  assert.is(only(plugin, 'rh.prop.legacy_cluster='), 'rh.prop.legacy_cluster=1',
    'the default profile (Envoy 1.36) no longer answers top-level cluster_name; envoy-profiles.test.ts checks 1.32');
  assert.is(only(plugin, 'rh.prop.upstream='), 'rh.prop.upstream=1', 'upstream.address is NOT_FOUND before the router ran');
  assert.is(only(plugin, 'rh.prop.code='), 'rh.prop.code=1', 'no response code yet');
  assert.is(only(plugin, 'rh.prop.header='), 'rh.prop.header=0:acme', 'request.headers keys are lower-case');
  const byteSize = headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
  assert.is(only(plugin, 'rh.size='), `rh.size=${byteSize}`, 'get_header_map_size is the byte size');
  assert.equal(result.forwardedRequestHeaders.at(-1), ['x-probe', 'seen'], 'added header is forwarded, key lower-cased');
  await plugin.close();
});

maps('after Continue the request map is BAD_ARGUMENT and request.* NOT_FOUND; on_log reads both maps read-only', async () => {
  const { plugin } = await probe();
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: UPSTREAM_503 });
  const resp = only(plugin, 'resp ctx=');
  assert.match(resp, 'status=0:503');
  assert.match(resp, 'reqpath=2 ');
  assert.match(resp, 'prop.path=1 ');
  assert.match(resp, 'prop.code=0:503');
  assert.match(resp, 'details=0:via_upstream');
  const log = only(plugin, 'log.reqpath=');
  assert.is(log, 'log.reqpath=0:/a addreq=2 trailer=1 status=0:503', 'headers readable, not writable, absent map NOT_FOUND');
  const props = only(plugin, 'log.code=');
  const flags = RESPONSE_FLAG_BITS.UF | RESPONSE_FLAG_BITS.URX;
  assert.is(props, `log.code=0:503 flags=0:${flags} grpc=0:14 duration=0:12000000 upstream=0:10.0.0.1:8080 ` +
    'local=0:10.0.0.2:41000 attempts=0:3 path=0:/a details=0:via_upstream');
  await plugin.close();
});
maps('a root context sees plugin and node properties but no stream properties', async () => {
  const { plugin } = await probe({ node: { id: 'sidecar~10.0.0.5~orders-1.shop~shop.svc.cluster.local', metadata: { NAMESPACE: 'shop' } }, vmId: 'v1' });
  assert.is(only(plugin, 'root.props', 'main'),
    'root.props node=0:sidecar~10.0.0.5~orders-1.shop~shop.svc.cluster.local ns=0:shop path=1 cluster=1 vm=0:v1');
  await plugin.close();
});
maps.run();

const local = suite('vm: local replies');

local('send_local_response is deferred, forces a stop and is encoded through on_response_headers', async () => {
  const { plugin } = await probe();
  const result = plugin.request(1, { cluster: 'c', requestHeaders: GET('/local') });
  assert.is(only(plugin, 'local.status='), 'local.status=0');
  assert.ok(result.localReply, 'the stream was answered locally although the callback returned Continue');
  assert.is(result.localReply!.status, 403);
  assert.is(result.localReply!.details, 'probe_denied_now', 'whitespace in details becomes _');
  assert.is(result.localReply!.body, 'nope');
  assert.is(result.localReply!.grpcStatus, undefined, '-1 means no gRPC status');
  assert.equal(result.localReply!.headers, [['content-length', '4'], ['content-type', 'text/plain'], ['x-probe-reply', 'yes'], ['x-probe-response', '1']]);
  const resp = only(plugin, 'resp ctx=');
  assert.match(resp, 'status=0:403');
  assert.match(resp, 'details=0:probe_denied_now');
  assert.match(resp, 'reply=0:yes');
  assert.match(only(plugin, 'log.code='), 'log.code=0:403');
  await plugin.close();
});
local.run();

const order = suite('vm: callback order and context ids');

order('stream contexts get ids from the VM counter and end with on_log → on_done → on_delete', async () => {
  const { plugin } = await probe();
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 1 } });
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/b'), response: { responseCode: 200, durationMs: 1 } });
  const seq = plugin.logs.filter((l) => l.vm === 'worker-0' && /^(create|order=|rh ctx|resp ctx)/.test(l.message))
    .map((l) => l.message.split(' ').slice(0, 2).join(' '));
  assert.equal(seq, [
    'create ctx=1', 'create ctx=2', 'rh ctx=2', 'resp ctx=2', 'order=log ctx=2', 'order=done ctx=2', 'order=delete ctx=2',
    'create ctx=3', 'rh ctx=3', 'resp ctx=3', 'order=log ctx=3', 'order=done ctx=3', 'order=delete ctx=3',
  ]);
  assert.equal(lines(plugin, 'create ctx=2 ', 'worker-0'), ['create ctx=2 parent=1']);
  await plugin.close();
});

order('every VM (canary, main, workers) gets on_context_create(1,0) → on_vm_start → on_configure; config only in on_configure', async () => {
  const { plugin } = await probe({ configuration: 'tick=0', workers: 3 });
  for (const vm of ['canary', 'main', 'worker-0', 'worker-1', 'worker-2']) {
    const seq = plugin.logs.filter((l) => l.vm === vm).map((l) => l.message).slice(0, 3);
    assert.equal(seq, ['create ctx=1 parent=0', 'vm_start root=1 vmcfg=0 plugincfg=1', 'configure root=1 size=6 config=tick=0'], vm);
  }
  await plugin.close();
});
order('log lines carry Envoy\'s prefix: plugin name, root id, vm id for streams; root id, vm id for roots', async () => {
  const { plugin } = await probe({ name: 'plug', rootId: 'root', vmId: 'vmid' });
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 1 } });
  const configure = plugin.logs.find((l) => l.vm === 'worker-0' && l.message.startsWith('configure '))!;
  assert.is(configure.line, `wasm log root vmid: ${configure.message}`);
  const stream = plugin.logs.find((l) => l.vm === 'worker-0' && l.message.startsWith('rh ctx='))!;
  assert.is(stream.line, `wasm log plug root vmid: ${stream.message}`);
  assert.is(only(plugin, 'rh.prop.plugin='), 'rh.prop.plugin=0:plug');
  await plugin.close();
});
order.run();

const metrics = suite('vm: metrics semantics');

metrics('counter/gauge/histogram rules and id encoding', async () => {
  const { plugin } = await probe();
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/metrics'), response: { responseCode: 200, durationMs: 1 } });
  const ids = only(plugin, 'metric.ids=').slice('metric.ids='.length).split(',').map(Number);
  assert.equal(ids.map((id) => id & 3), [0, 1, 2, 0], 'type in the low two bits');
  assert.is.not(ids[0], ids[3], 'a fresh id on every define, even for the same name');
  const value = (k: string) => only(plugin, `metric.${k}=`).split('=')[1];
  assert.is(value('counter_zero'), '2');
  assert.is(value('counter_negative'), '2');
  assert.is(value('counter_inc'), '0');
  assert.is(value('counter_record'), '0');
  assert.is(value('counter_value'), '15', 'record adds on a counter; both ids name one stat');
  assert.is(value('gauge_value'), '5', 'record sets a gauge, negative increment subtracts');
  assert.is(value('hist_inc'), '2');
  assert.is(value('hist_get'), '2');
  assert.is(value('hist_record'), '0');
  assert.is(value('unknown'), '1');
  assert.is(value('bad_type'), '2');
  assert.is(plugin.stats.counter('probe_semantics_total'), 15);
  assert.is(plugin.stats.gauge('probe_gauge'), 5);
  assert.is(plugin.stats.histogram('probe_hist')!.count, 0, 'histograms appear only after a flush');
  plugin.stats.flushHistograms();
  assert.equal(plugin.stats.histogram('probe_hist'), { count: 1, sum: 3 });
  await plugin.close();
});

metrics('exposition of tagged wasm metrics is Envoy /stats/prometheus text', async () => {
  const { plugin } = await probe();
  plugin.request(0, { cluster: 'b', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 7 } });
  plugin.request(1, { cluster: 'a', requestHeaders: GET('/a'), response: { responseCode: 503, durationMs: 700 } });
  plugin.request(1, { cluster: 'a', requestHeaders: GET('/a'), response: { responseCode: 503, durationMs: 3 } });
  const text = plugin.stats.renderPrometheus();
  assert.ok(text.includes('# TYPE probe_requests_total counter\n' +
    'probe_requests_total{upstream_cluster="a",response_code="503"} 2\n' +
    'probe_requests_total{upstream_cluster="b",response_code="200"} 1\n'), text);
  assert.ok(text.includes('# TYPE probe_ticks_total counter\nprobe_ticks_total{} 0\n'), 'empty tag set prints {}');
  assert.not.match(text, '# HELP');
  assert.not.match(text, 'wasmcustom');
  // Envoy-own series are Envoy's Wasm VM lifecycle and per-plugin stats only (stats_handler.h at v1.36.0); the
  // filter's own metrics never gain the envoy_ prefix.
  const envoySeries = text.split('\n').filter((l) => l.startsWith('envoy_')).map((l) => l.slice(0, l.indexOf('{')));
  assert.ok(envoySeries.length > 0);
  for (const name of envoySeries) assert.match(name, /^envoy_wasm_(envoy_wasm_runtime_v8_(created|active)|meshlens_vm_reload(_backoff|_success|_failure)?)$/);
  assert.match(text, 'probe_duration_ms_count{upstream_cluster="a"} 0', 'not merged before a flush');
  plugin.stats.flushHistograms();
  const flushed = plugin.stats.renderPrometheus();
  assert.match(flushed, 'probe_duration_ms_bucket{upstream_cluster="a",le="5"} 1\n');
  assert.match(flushed, 'probe_duration_ms_bucket{upstream_cluster="a",le="500"} 1\n');
  assert.match(flushed, 'probe_duration_ms_bucket{upstream_cluster="a",le="1000"} 2\n');
  assert.match(flushed, 'probe_duration_ms_bucket{upstream_cluster="a",le="+Inf"} 2\nprobe_duration_ms_sum{upstream_cluster="a"} 703\nprobe_duration_ms_count{upstream_cluster="a"} 2\n');
  await plugin.close();
});
metrics.run();

const shared = suite('vm: shared data');

shared('CAS semantics, and one store for every VM of the vm_id', async () => {
  const { plugin } = await probe();
  plugin.request(1, { cluster: 'c', requestHeaders: GET('/shared'), response: { responseCode: 200, durationMs: 1 } });
  const v = (k: string, vm = 'worker-1') => only(plugin, `shared.${k}=`, vm).split('=')[1];
  assert.is(v('get_absent'), '1');
  assert.is(v('set_new'), '0', 'cas is ignored when the key does not exist');
  const cas = Number(v('get_first').split('@')[1]);
  assert.ok(cas > 0);
  assert.is(v('set_wrong_cas'), '8');
  assert.is(v('set_right_cas'), '0');
  assert.is(v('set_stale_cas'), '8', 'every successful set assigns a new cas');
  assert.is(v('set_unconditional'), '0');
  assert.is(v('get_last').split('@')[0], '0:v5');
  assert.ok(Number(v('get_last').split('@')[1]) > cas);
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/shared'), response: { responseCode: 200, durationMs: 1 } });
  assert.match(v('get_absent', 'worker-0'), /^0:v5@/, 'worker-0 sees what worker-1 stored');
  await plugin.close();
});
shared.run();

const ticks = suite('plugin: ticks per VM and process-wide stats');

ticks('four workers + main each tick and increment one process-wide counter', async () => {
  const { plugin, clock } = await probe({ configuration: 'tick=1000', workers: 4 });
  clock.advance(999);
  assert.equal(lines(plugin, 'tick '), []);
  clock.advance(1);
  const first = lines(plugin, 'tick ');
  assert.is(first.length, 5);
  assert.equal(new Set(plugin.logs.filter((l) => l.message.startsWith('tick ')).map((l) => l.vm)),
    new Set(['main', 'worker-0', 'worker-1', 'worker-2', 'worker-3']), 'the canary does not tick');
  assert.ok(first.every((l) => l.startsWith('tick root=1 ')), 'on_tick goes to each VM root');
  assert.equal(first.map((l) => l.split('total=')[1]).sort(), ['1', '2', '3', '4', '5'], 'get_metric returns the process total');
  assert.is(plugin.stats.counter('probe_ticks_total'), 5);
  clock.advance(3000);
  assert.is(plugin.stats.counter('probe_ticks_total'), 20);
  assert.equal(plugin.tickPeriods(), [1000, 1000, 1000, 1000, 1000]);
  await plugin.close();
});

ticks('runTicks fires only VMs whose period elapsed', async () => {
  const { plugin, clock } = await probe({ configuration: 'tick=500', workers: 1 });
  plugin.runTicks();
  assert.is(plugin.stats.counter('probe_ticks_total'), 0);
  clock.advance(500);
  assert.is(plugin.stats.counter('probe_ticks_total'), 2);
  plugin.runTicks();
  assert.is(plugin.stats.counter('probe_ticks_total'), 2, 're-armed a full period after the tick');
  await plugin.close();
});
ticks.run();

const traps = suite('plugin: traps');

traps('FAIL_CLOSED: a trap fails the VM; later streams on it get 503 wasm_fail_stream, other workers unaffected', async () => {
  const { plugin } = await probe({ failurePolicy: 'FAIL_CLOSED' });
  const trapped = plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  assert.ok(trapped.failed);
  assert.equal(trapped.localReply, { status: 503, details: 'wasm_fail_stream', headers: [], body: '', grpcStatus: 14 });
  assert.equal(plugin.failedVms(), ['worker-0']);
  const crit = plugin.logs.filter((l) => l.level === 'critical');
  assert.is(crit.length, 1);
  assert.match(crit[0].message, 'Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable');
  const before = plugin.logs.length;
  const next = plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 1 } });
  assert.ok(next.failed);
  assert.is(next.localReply!.details, 'wasm_fail_stream');
  assert.is(plugin.logs.length, before, 'the failed VM is not called again');
  const other = plugin.request(1, { cluster: 'c', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 1 } });
  assert.not.ok(other.failed);
  assert.equal(other.forwardedRequestHeaders.at(-1), ['x-probe', 'seen']);
  await plugin.close();
});

traps('legacy fail_open: streams on the failed VM bypass the filter, the trapping one included', async () => {
  const { plugin } = await probe({ failOpen: true });
  const trapped = plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  assert.not.ok(trapped.failed);
  assert.is(trapped.localReply, undefined);
  const next = plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: { responseCode: 200, durationMs: 1 } });
  assert.not.ok(next.failed);
  assert.equal(next.forwardedRequestHeaders, GET('/a'), 'headers untouched: filter skipped');
  await plugin.close();
});
traps.run();
