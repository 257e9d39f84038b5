// One discovery stream per proxy: the release filter in the Node host (4 workers + main, FAIL_RELOAD) against the
// real control plane over real gRPC. The VMs elect one holder through shared data; the control plane counts one
// stream and one rollout row; a write is ACKed only once every VM enforces it (checked at the instant the control
// plane records the ACK); when the holder traps another VM holds the stream within the lease plus one tick, and the
// policy in force on every worker never changes across the takeover; telemetry goes out as one report per interval
// for the proxy. Filter time is a ManualClock; network events
// are awaited.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, ProxyWasmPlugin, SharedData } from '../../filter/host/index.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import type { PolicyJson } from '../../control-plane/src/policy-types.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { releaseFilterPath } from '../support/release-filter.ts';
import { until } from '../support/until.ts';

const WASM = releaseFilterPath();
const CP_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~10.0.0.7~orders-2.default~default.svc.cluster.local';
const WORKERS = 4;
const TICK_MS = 100;
// filter/assembly/control/lease.ts: the lease covers 5 ticks of its holder, at least 1000 ms.
const LEASE_MS = Math.max(1000, 5 * TICK_MS);
const RELOAD_BASE_MS = 1000;
const REPORT_INTERVAL_MS = 1000;
const PER_TRY = 'x-envoy-upstream-rq-per-try-timeout-ms';

interface Ack { version: string; worker: string; perTry: (string | undefined)[]; enforcingVms: string[] }

interface World {
  dataDir: string;
  cp: ControlPlane;
  clock: ManualClock;
  plugin: ProxyWasmPlugin;
  acks: Ack[];
  /** Workers whose VM trapped and has not been replaced yet (their streams fail closed). */
  down: Set<number>;
}

/** The per-try timeout the retry policy in force on `worker` puts on a GET (each policy below has its own). */
function perTry(plugin: ProxyWasmPlugin, worker: number): string | undefined {
  const result = plugin.request(worker, {
    cluster: 'outbound|8080||orders.default.svc.cluster.local',
    requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
    response: { responseCode: 200, durationMs: 2 },
  });
  if (result.failed) return 'failed';
  return result.forwardedRequestHeaders.find(([k]) => k === PER_TRY)?.[1];
}

function policyWithPerTry(ms: number): PolicyJson {
  const p = defaultPolicy();
  p.retry.perTryTimeoutMs = ms;
  return p as unknown as PolicyJson;
}

async function setPolicy(w: World, perTryMs: number): Promise<string> {
  let expected = 0;
  try { expected = (await w.cp.operations.get('orders')).version; } catch { expected = 0; }
  await w.cp.operations.set('test', 'orders', expected, policyWithPerTry(perTryMs));
  return String((await w.cp.operations.list()).snapshotVersion);
}

function rows(w: World) {
  return w.cp.operations.rolloutStatus().nodes.filter((n) => n.nodeId === NODE_ID);
}

const HOLDS = " holds the proxy's stream";
function holders(w: World): { vm: string; message: string }[] {
  return w.plugin.logs.filter((l) => l.message.endsWith(HOLDS)).map((l) => ({ vm: l.vm, message: l.message }));
}

function advanceTick(w: World): void {
  w.clock.advance(TICK_MS);
}

const test = suite<{ world?: World }>('one discovery stream per proxy (4 workers + main)');

test.before(async (ctx) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-one-stream-'));
  const acks: Ack[] = [];
  let world: World | undefined;
  const cp = await startControlPlane({
    dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger,
    discovery: {
      // Runs as the control plane records the ACK: what every VM enforces at that instant.
      onAck: (nodeId, worker, version) => {
        const w = world!;
        if (nodeId !== NODE_ID) return;
        const perTryNow = Array.from({ length: WORKERS }, (_, i) => (w.down.has(i) ? 'down' : perTry(w.plugin, i)));
        const enforcingVms = [...new Set(w.plugin.logs
          .filter((l) => l.message.startsWith(`meshlens discovery: enforcing snapshot ${version} `)).map((l) => l.vm))].sort();
        acks.push({ version, worker, perTry: perTryNow, enforcingVms });
      },
    },
  });
  const clock = new ManualClock(Date.now());
  const plugin = await ProxyWasmPlugin.create({
    wasm: readFileSync(WASM),
    configuration: JSON.stringify({
      tickMs: TICK_MS, reportIntervalMs: REPORT_INTERVAL_MS,
      controlPlane: { cluster: CP_CLUSTER, token: cp.tokens.proxy, timeoutMs: 2000 },
      node: { id: NODE_ID, workload: 'orders', namespace: 'default' },
    }),
    workers: WORKERS, clock, sharedData: new SharedData(), failurePolicy: 'FAIL_RELOAD', random: () => 0,
    clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${cp.grpcPort}` } },
  });
  world = { dataDir, cp, clock, plugin, acks, down: new Set() };
  ctx.world = world;
});

test.after(async (ctx) => {
  const w = ctx.world;
  if (!w) return;
  await w.plugin.close();
  await w.cp.close();
  rmSync(w.dataDir, { recursive: true, force: true });
});

test('the five VMs open one stream: one server-side stream, one rollout row, one holder', async ({ world }) => {
  const w = world!;
  assert.is(w.cp.discovery.openStreams, 0, 'nothing connects before the first tick');
  advanceTick(w);
  const snapshot = w.cp.operations.rolloutStatus().snapshotVersion;
  await until(() => rows(w).some((r) => r.connected && r.ackedVersion === snapshot), 'the proxy to subscribe', 15_000);
  assert.is(w.cp.discovery.openStreams, 1);
  assert.equal(rows(w).map((r) => r.worker), ['proxy']);
  assert.equal(holders(w).map((h) => h.vm), ['main'], 'the first VM to tick holds the stream');
  // Renewals keep it there: many leases later still one stream, never reopened, no second holder.
  for (let t = 0; t < 4 * LEASE_MS; t += TICK_MS) {
    advanceTick(w);
    if (t % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.is(w.cp.discovery.openStreams, 1);
  assert.is(w.plugin.stats.counter('meshlens_control_plane_streams_opened_total'), 1);
  assert.is(holders(w).length, 1);
});

test('a write is ACKed once every VM enforces it, without waiting for a tick (shared-queue wake-ups)', async ({ world }) => {
  const w = world!;
  const before = w.acks.length;
  const version = await setPolicy(w, 1111);
  await until(() => w.acks.length > before, `the ACK of ${version}`, 15_000);
  const ack = w.acks[w.acks.length - 1];
  assert.is(ack.version, version);
  assert.is(ack.worker, 'proxy');
  assert.equal(ack.perTry, ['1111', '1111', '1111', '1111'], 'every worker enforces it when the ACK is recorded');
  assert.equal(ack.enforcingVms, ['main', 'worker-0', 'worker-1', 'worker-2', 'worker-3'], 'all five VMs applied it first');
  assert.is(rows(w)[0].ackedVersion, version);
  assert.is(w.plugin.stats.counter('meshlens_control_plane_acks_total'), 2, 'the initial snapshot and this one, once each for the proxy, not once per VM');
});

test('telemetry: one report per interval for the proxy, carrying every worker’s window', async ({ world }) => {
  const w = world!;
  const stat = (name: string) => w.plugin.stats.counter(name) ?? 0;
  const received = async () => (await w.cp.metrics.reportsReceived.get()).values.find((v) => v.labels.source === 'filter')?.value ?? 0;
  for (let i = 0; i < WORKERS; i++) {
    w.plugin.request(i, {
      cluster: 'outbound|8080||telemetry', requestHeaders: [[':method', 'GET'], [':path', '/orders/7'], [':authority', 'orders'], [':scheme', 'http']],
      response: { responseCode: 200, durationMs: 3, upstreamAddress: '10.0.0.9:8080', upstreamLocalAddress: `10.0.0.7:4100${i}`, attemptCount: 1 },
    });
  }
  const sentBefore = stat('meshlens_control_plane_reports_sent_total');
  const receivedBefore = await received();
  // The workers hand their windows over at the end of an interval; the holder sends them with its next report.
  const INTERVALS = 3;
  for (let k = 0; k < INTERVALS; k++) {
    const accepted = stat('meshlens_control_plane_reports_accepted_total');
    for (let t = 0; t < REPORT_INTERVAL_MS; t += TICK_MS) advanceTick(w);
    await until(() => stat('meshlens_control_plane_reports_accepted_total') > accepted, `report ${k + 1} to be accepted`, 15_000);
  }
  assert.is(stat('meshlens_control_plane_reports_sent_total') - sentBefore, INTERVALS, 'one report per interval for the five VMs');
  assert.is(await received() - receivedBefore, INTERVALS, 'counted server-side');
  for (let i = 0; i < WORKERS; i++) {
    const connection = w.cp.telemetry.connection(`10.0.0.7:4100${i}`, '10.0.0.9:8080');
    assert.ok(connection, `worker ${i}'s window reached the control plane`);
    assert.is(connection!.requests, 1);
  }
  assert.is(stat('meshlens_control_plane_report_windows_dropped_total'), 0);
});

/**
 * Traps the holder and ticks until another VM holds the stream; at every tick every serving worker must still
 * enforce `perTryInForce`. Returns the new holder and the filter-clock time the takeover took.
 */
async function takeOver(w: World, perTryInForce: string): Promise<{ holder: string; tookMs: number }> {
  const before = holders(w);
  const old = before[before.length - 1].vm;
  const trappedAt = w.clock.nowMs();
  w.plugin.trapVm(old);
  if (old.startsWith('worker-')) w.down.add(Number(old.slice('worker-'.length)));
  const deadline = Date.now() + 15_000;
  while (holders(w).length === before.length) {
    if (Date.now() > deadline) throw new Error('no VM took the stream over');
    advanceTick(w);
    for (let i = 0; i < WORKERS; i++) {
      if (!w.down.has(i)) assert.is(perTry(w.plugin, i), perTryInForce, `worker ${i} at +${w.clock.nowMs() - trappedAt} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const now = holders(w);
  assert.is(now.length, before.length + 1, 'exactly one VM took over');
  return { holder: now[now.length - 1].vm, tookMs: w.clock.nowMs() - trappedAt };
}

test('the holder traps: another VM holds the stream within lease + one tick; the policy in force never changes', async ({ world }) => {
  const w = world!;
  const { holder, tookMs } = await takeOver(w, '1111');
  assert.is.not(holder, 'main');
  assert.ok(tookMs <= LEASE_MS + TICK_MS, `took ${tookMs} ms, stated bound ${LEASE_MS + TICK_MS} ms`);
  await until(() => w.cp.discovery.openStreams === 1 && rows(w).length === 1 && rows(w)[0].connected, 'the new holder’s stream', 15_000);
  for (let i = 0; i < WORKERS; i++) assert.is(perTry(w.plugin, i), '1111');
  // The new holder serves writes; the trapped main VM (no heartbeat) is not waited for.
  const before = w.acks.length;
  const version = await setPolicy(w, 2222);
  await until(() => w.acks.length > before, `the ACK of ${version} after the takeover`, 15_000);
  const ack = w.acks[w.acks.length - 1];
  assert.is(ack.version, version);
  assert.equal(ack.perTry, ['2222', '2222', '2222', '2222']);
  assert.equal(ack.enforcingVms, ['worker-0', 'worker-1', 'worker-2', 'worker-3']);
  assert.is(w.cp.discovery.openStreams, 1);
});

test('a worker holder traps: another takes over; FAIL_RELOAD’s fresh VM enforces the proxy’s policy from its first request', async ({ world }) => {
  const w = world!;
  const { holder, tookMs } = await takeOver(w, '2222');
  const trapped = holders(w)[holders(w).length - 2].vm;
  assert.ok(trapped.startsWith('worker-') && holder !== trapped && holder.startsWith('worker-'));
  assert.ok(tookMs <= LEASE_MS + TICK_MS, `took ${tookMs} ms`);
  const index = Number(trapped.slice('worker-'.length));
  await until(() => w.cp.discovery.openStreams === 1 && rows(w)[0].connected, 'the new holder’s stream', 15_000);
  // Envoy's reload backoff (random 0: exactly the 1 s base) measured from the worker's last load, long past.
  w.clock.advance(RELOAD_BASE_MS);
  w.down.delete(index);
  assert.is(perTry(w.plugin, index), '2222', 'the replacement VM enforces the published snapshot before its first tick');
  assert.equal(w.plugin.failedVms(), ['main']);
  const before = w.acks.length;
  const version = await setPolicy(w, 3333);
  await until(() => w.acks.length > before, `the ACK of ${version}`, 15_000);
  assert.equal(w.acks[w.acks.length - 1].perTry, ['3333', '3333', '3333', '3333'], 'the replacement counts among the VMs ACKed for');
  assert.is(w.cp.discovery.openStreams, 1);
});

test.run();
