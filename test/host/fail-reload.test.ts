// A trap is not permanent: under failure_policy FAIL_RELOAD a worker whose VM trapped gets a fresh VM (new instance,
// on_vm_start and on_configure again) on the first new stream after Envoy's jittered backoff, and serves again.
// FAIL_CLOSED keeps answering 503 wasm_fail_stream; FAIL_OPEN skips the filter. Modelled on envoy v1.33.0–v1.36.0
// source/extensions/common/wasm/wasm.cc (PluginConfig, maybeReloadHandleIfNeeded) and stats_handler.{h,cc}.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin, SharedData, type PluginOptions } from '../../filter/host/index.ts';
import { startSidecar, type Sidecar } from '../../filter/host/sidecar/index.ts';
import { GET, fixture, lines } from './support.ts';
import { request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';

const FAIL_STREAM = { status: 503, details: 'wasm_fail_stream', headers: [], body: '', grpcStatus: 14 };
const OK = { responseCode: 200, durationMs: 1 };

/** Envoy's random generator, scripted: each backoff check takes the next value (the last one repeats). */
function scripted(...values: number[]): { random: () => number; calls: () => number } {
  let n = 0;
  return { random: () => values[Math.min(n++, values.length - 1)]!, calls: () => n };
}

async function reloadPlugin(extra: Partial<PluginOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const plugin = await ProxyWasmPlugin.create({
    wasm: fixture('reload'), configuration: '', workers: 2, clock, sharedData: new SharedData(), name: 'meshlens', ...extra,
  });
  return { plugin, clock };
}
const generationOf = (r: { forwardedRequestHeaders: [string, string][] }) =>
  r.forwardedRequestHeaders.find(([k]) => k === 'x-vm-generation')?.[1];
const reloads = (plugin: ProxyWasmPlugin) => ({
  backoff: plugin.stats.counter('wasm.meshlens.vm_reload_backoff'),
  success: plugin.stats.counter('wasm.meshlens.vm_reload_success'),
  failure: plugin.stats.counter('wasm.meshlens.vm_reload_failure'),
});

const reload = suite('FAIL_RELOAD: a trapped worker VM is replaced');

reload('the trapping stream fails closed; after the backoff the next stream gets a fresh VM that serves again', async () => {
  const rng = scripted(0);
  const { plugin, clock } = await reloadPlugin({ failurePolicy: 'FAIL_RELOAD', random: rng.random });
  const before = generationOf(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }));
  assert.ok(before);
  const other = generationOf(plugin.request(1, { cluster: 'c', requestHeaders: GET('/a'), response: OK }));
  for (const n of ['vm_reload', 'vm_reload_backoff', 'vm_reload_success', 'vm_reload_failure']) {
    assert.is(plugin.stats.counter(`wasm.meshlens.${n}`), 0, `wasm.meshlens.${n} exists from the start, at 0`);
  }

  const trapped = plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  assert.equal(trapped.localReply, FAIL_STREAM, 'cpp-host fails the stream: fail_open_ is false under failure_policy');
  assert.equal(plugin.failedVms(), ['worker-0']);

  // last_load is the worker's start; the clock has not moved, so the backoff (1000 + 0 % 500 ms) holds.
  const held = plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK });
  assert.equal(held.localReply, FAIL_STREAM);
  assert.equal(reloads(plugin), { backoff: 1, success: 0, failure: 0 });

  const startsBefore = lines(plugin, 'vm_start', 'worker-0').length;
  clock.advance(1000);
  const served = plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK });
  assert.not.ok(served.failed, 'the stream that triggered the reload runs on the new VM');
  const after = generationOf(served);
  assert.ok(after && Number(after) > Number(before) && after !== other, `a new instance (generation ${before} → ${after})`);
  assert.is(lines(plugin, 'vm_start', 'worker-0').length, startsBefore + 1, 'on_vm_start ran again');
  assert.ok(lines(plugin, `configure generation=${after}`, 'worker-0').length === 1, 'on_configure ran again');
  assert.equal(plugin.failedVms(), []);
  assert.equal(reloads(plugin), { backoff: 1, success: 1, failure: 0 });
  assert.is(plugin.stats.counter('wasm.meshlens.vm_reload'), 0, 'declared by Envoy but never incremented');
  assert.match(plugin.stats.renderPrometheus(), '\nenvoy_wasm_meshlens_vm_reload_success{} 1\n');
  assert.is(generationOf(plugin.request(1, { cluster: 'c', requestHeaders: GET('/a'), response: OK })), other, 'the other worker kept its VM');
  assert.is(generationOf(plugin.request(0, { cluster: 'c', requestHeaders: GET('/b'), response: OK })), after, 'no further reload once healthy');
  assert.is(rng.calls(), 2, 'the backoff is drawn only while the VM is failed, once per new stream');
  await plugin.close();
});

reload('the backoff is jittered in [base, 1.5 × base), drawn anew on every check, and measured from the last load', async () => {
  const rng = scripted(499, 499, 0);
  const { plugin, clock } = await reloadPlugin({ failurePolicy: 'FAIL_RELOAD', random: rng.random });
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  clock.advance(1498);
  assert.equal(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).localReply, FAIL_STREAM, '1498 ms < 1000 + 499 % 500');
  clock.advance(1);
  assert.not.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed, '1499 ms reaches the drawn interval');
  assert.equal(reloads(plugin), { backoff: 1, success: 1, failure: 0 });

  // The new VM traps at once: last_load is now, so the next stream must wait a full interval again.
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  clock.advance(999);
  assert.equal(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).localReply, FAIL_STREAM);
  clock.advance(1);
  assert.not.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  assert.equal(reloads(plugin), { backoff: 2, success: 2, failure: 0 }, 'no exponential growth: 1000 ms again');
  await plugin.close();
});

reload('reloadConfig.backoff.baseIntervalMs sets the base interval', async () => {
  const { plugin, clock } = await reloadPlugin({ failurePolicy: 'FAIL_RELOAD', reloadConfig: { backoff: { baseIntervalMs: 200 } }, random: () => 0 });
  clock.advance(5000); // long after the worker started: no backoff for the first stream after the trap
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  assert.not.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  clock.advance(199);
  assert.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  clock.advance(1);
  assert.not.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  assert.equal(reloads(plugin), { backoff: 1, success: 2, failure: 0 });
  await plugin.close();
});

reload('a replacement that does not configure (false, or a trap) counts vm_reload_failure and the failed VM stays', async () => {
  const { plugin, clock } = await reloadPlugin({ failurePolicy: 'FAIL_RELOAD', random: () => 0 });
  plugin.request(1, { cluster: 'c', requestHeaders: GET('/refuse'), response: OK });
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  clock.advance(1000);
  assert.equal(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).localReply, FAIL_STREAM);
  assert.equal(reloads(plugin), { backoff: 0, success: 0, failure: 1 });
  assert.equal(plugin.failedVms(), ['worker-0']);
  assert.is(plugin.logs.filter((l) => l.message.includes('filter dropped')).length, 0, 'a failed reload is not a dropped filter');

  // last_load moved to the failed attempt: the next stream within the interval is held back.
  assert.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  assert.equal(reloads(plugin), { backoff: 1, success: 0, failure: 1 });

  plugin.request(1, { cluster: 'c', requestHeaders: GET('/refuse-trap'), response: OK });
  clock.advance(1000);
  assert.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  assert.equal(reloads(plugin), { backoff: 1, success: 0, failure: 2 });
  assert.ok(plugin.logs.some((l) => l.level === 'critical' && l.message.startsWith('Function: proxy_on_configure failed')));

  plugin.request(1, { cluster: 'c', requestHeaders: GET('/accept'), response: OK });
  clock.advance(1000);
  assert.not.ok(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).failed);
  assert.equal(reloads(plugin), { backoff: 1, success: 1, failure: 2 });
  await plugin.close();
});

reload('a reloaded VM runs its own on_configure state: ticks stop with the trap and resume on the new VM', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const plugin = await ProxyWasmPlugin.create({
    wasm: fixture('probe'), configuration: 'tick=100', workers: 1, clock, failurePolicy: 'FAIL_RELOAD', random: () => 0,
  });
  clock.advance(100);
  const ticksOf = (vm: string) => lines(plugin, 'tick root=', vm).length;
  assert.is(ticksOf('worker-0'), 1);
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  clock.advance(1000);
  assert.is(ticksOf('worker-0'), 1, 'a failed VM gets no ticks');
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK });
  clock.advance(300);
  assert.is(ticksOf('worker-0'), 4, 'the new VM set its tick period in on_configure');
  assert.equal(plugin.tickPeriods(), [100, 100]);
  await plugin.close();
});
reload.run();

const policies = suite('failure policies other than FAIL_RELOAD');

policies('FAIL_CLOSED (and unset) never reload: the worker answers 503 wasm_fail_stream however long it waits', async () => {
  for (const failurePolicy of ['FAIL_CLOSED', undefined] as const) {
    const { plugin, clock } = await reloadPlugin({ failurePolicy, random: () => 0 });
    assert.is(plugin.failurePolicy, 'FAIL_CLOSED');
    plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
    clock.advance(60_000);
    assert.equal(plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK }).localReply, FAIL_STREAM);
    for (const n of ['backoff', 'success', 'failure'] as const) assert.is(reloads(plugin)[n] ?? 0, 0, `nothing counted as ${n}`);
    assert.equal(plugin.failedVms(), ['worker-0']);
    await plugin.close();
  }
});

policies('failure_policy FAIL_OPEN: the trapping stream still fails (fail_open_ is false), later streams skip the filter', async () => {
  const { plugin, clock } = await reloadPlugin({ failurePolicy: 'FAIL_OPEN' });
  assert.equal(plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') }).localReply, FAIL_STREAM);
  clock.advance(60_000);
  const next = plugin.request(0, { cluster: 'c', requestHeaders: GET('/a'), response: OK });
  assert.not.ok(next.failed);
  assert.equal(next.forwardedRequestHeaders, GET('/a'), 'no x-vm-generation: the filter was not in the chain');
  assert.equal(plugin.failedVms(), ['worker-0'], 'no reload');
  await plugin.close();
});

policies('legacy failOpen: true is FAIL_OPEN and also lets the trapping stream continue', async () => {
  const { plugin } = await reloadPlugin({ failOpen: true });
  assert.is(plugin.failurePolicy, 'FAIL_OPEN');
  const trapped = plugin.request(0, { cluster: 'c', requestHeaders: GET('/trap') });
  assert.not.ok(trapped.failed);
  assert.is(trapped.localReply, undefined);
  await plugin.close();
});

policies('invalid failure settings are refused before any VM starts', async () => {
  const cases: [Partial<PluginOptions>, RegExp][] = [
    [{ failOpen: true, failurePolicy: 'FAIL_RELOAD' }, /invalid plugin options: failOpen must not be set together with failurePolicy/],
    [{ failOpen: true, failurePolicy: 'FAIL_OPEN' }, /only one of fail_open or failure_policy can be set/],
    [{ failurePolicy: 'FAIL_RETRY' as never }, /invalid plugin options: failurePolicy must be one of FAIL_CLOSED, FAIL_OPEN, FAIL_RELOAD/],
    [{ failOpen: 'yes' as never }, /invalid plugin options: failOpen must be a boolean/],
    [{ failurePolicy: 'FAIL_RELOAD', reloadConfig: { backoff: { baseIntervalMs: 1 } } }, /reloadConfig\.backoff\.baseIntervalMs must be an integer >= 2/],
  ];
  for (const [extra, message] of cases) {
    const logs: string[] = [];
    const error = await reloadPlugin({ ...extra, onLog: (e) => logs.push(e.message) }).then(() => undefined, (e: Error) => e);
    assert.match(error?.message ?? 'no error', message);
    assert.equal(logs, [], 'no VM was started');
  }
  // failOpen: false together with a policy is what Istio < 1.25 never sends but Envoy accepts (only true conflicts).
  const { plugin } = await reloadPlugin({ failOpen: false, failurePolicy: 'FAIL_RELOAD' });
  assert.is(plugin.failurePolicy, 'FAIL_RELOAD');
  await plugin.close();
});
policies.run();

const sidecar = suite('FAIL_RELOAD through the sidecar, on a real socket');
let upstream: ScriptedUpstream;
let running: Sidecar | undefined;

sidecar.before.each(async () => { upstream = await startUpstream(); });
sidecar.after.each(async () => {
  await running?.close();
  running = undefined;
  await upstream.close();
});

async function start(extra: { failurePolicy?: 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD'; clock: ManualClock }): Promise<Sidecar> {
  running = await startSidecar({
    wasm: fixture('reload'), configuration: '', workers: 1, ...extra,
    reloadConfig: { backoff: { baseIntervalMs: 500 } },
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { app: { endpoints: [upstream.address] } }, routes: [{ cluster: 'app' }],
    pluginOptions: { sharedData: new SharedData(), random: () => 0, name: 'meshlens' },
  });
  return running;
}
async function adminStat(s: Sidecar, name: string): Promise<string | undefined> {
  const text = (await request(s.adminPort, '/stats')).body;
  return text.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
}

sidecar('the worker answers 503 after the trap, then serves again from a new VM, counted in /stats', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const s = await start({ failurePolicy: 'FAIL_RELOAD', clock });
  const first = await request(s.listenerPort, '/a');
  assert.is(first.status, 200);
  const before = Number(first.headers['x-vm-generation']);
  assert.ok(before > 0);
  assert.is(upstream.seen.at(-1)!.headers['x-vm-generation'], String(before), 'the filter ran on the request');

  const trapped = await request(s.listenerPort, '/trap');
  assert.is(trapped.status, 503);
  assert.is((await request(s.listenerPort, '/a')).status, 503, 'within the backoff');
  assert.is(await adminStat(s, 'wasm.meshlens.vm_reload_backoff'), '1');

  clock.advance(500);
  const again = await request(s.listenerPort, '/a');
  assert.is(again.status, 200);
  assert.ok(Number(again.headers['x-vm-generation']) > before, 'served by a new instance');
  assert.is(upstream.seen.at(-1)!.headers['x-vm-generation'], again.headers['x-vm-generation']);
  assert.is(await adminStat(s, 'wasm.meshlens.vm_reload_success'), '1');
  assert.is(await adminStat(s, 'wasm.meshlens.vm_reload_failure'), '0');
  assert.is(upstream.seen.filter((r) => r.url === '/trap').length, 0, 'the trapping request never reached the upstream');
});

sidecar('FAIL_CLOSED keeps answering 503; FAIL_OPEN passes requests through without the filter', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  let s = await start({ failurePolicy: 'FAIL_CLOSED', clock });
  await request(s.listenerPort, '/trap');
  clock.advance(60_000);
  assert.is((await request(s.listenerPort, '/a')).status, 503);
  assert.is(await adminStat(s, 'wasm.meshlens.vm_reload_success') ?? '0', '0');
  await s.close();

  s = await start({ failurePolicy: 'FAIL_OPEN', clock });
  assert.is((await request(s.listenerPort, '/trap')).status, 503, 'the stream that hit the trap');
  const passed = await request(s.listenerPort, '/a');
  assert.is(passed.status, 200);
  assert.is(passed.headers['x-vm-generation'], undefined, 'the filter is skipped');
  assert.is(upstream.seen.at(-1)!.url, '/a');
  assert.is(upstream.seen.at(-1)!.headers['x-vm-generation'], undefined);
});
sidecar.run();
