// The release filter (filter/build/meshlens.wasm) run by the Node host (one VM per worker plus main) against the
// real control plane over real gRPC on 127.0.0.1: policy push → ACK, NACK of an invalid policy with the previous
// policy still enforced, enforcement while the control plane is down, reconnection after it restarts, and
// telemetry reports arriving with entries. Time in the filter is a ManualClock; network events are awaited.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import type { PolicyJson } from '../../control-plane/src/policy-types.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { releaseFilterPath } from '../support/release-filter.ts';
import { until } from '../support/until.ts';

const WASM = releaseFilterPath();
const CP_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~10.0.0.5~orders-1.default~default.svc.cluster.local';
const WORKERS = 2;
const TICK_MS = 100;
const REPORT_INTERVAL_MS = 1000;

/** Polls a condition driven by network events the test cannot subscribe to (gRPC traffic inside the host). */
interface World {
  dataDir: string;
  cp: ControlPlane;
  port: number;
  clock: ManualClock;
  plugin: ProxyWasmPlugin;
}

// The control plane normally refuses invalid policies itself; accepting them here stands in for a control plane
// whose rules are looser than this filter's (version skew), which is exactly when a NACK happens.
const acceptAnything = (value: unknown) => value as PolicyJson;

async function startCp(dataDir: string, port = 0): Promise<ControlPlane> {
  return startControlPlane({
    dataDir, grpcHost: '127.0.0.1', grpcPort: port, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false,
    logger: silentLogger, validate: acceptAnything,
  });
}

/** Ticks every VM forward in tick-sized steps, so each VM's timer fires in order, as Envoy's would. */
function advance(world: World, ms: number): void {
  for (let t = 0; t < ms; t += TICK_MS) world.clock.advance(Math.min(TICK_MS, ms - t));
}

/** Advances the filter's clock tick by tick while waiting for something that also needs real time to pass. */
async function tickUntil(world: World, condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    advance(world, TICK_MS);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function counter(world: World, name: string): number {
  return world.plugin.stats.counter(name) ?? 0;
}

function rollout(world: World) {
  return world.cp.operations.rolloutStatus();
}

function nodes(world: World) {
  return rollout(world).nodes.filter((n) => n.nodeId === NODE_ID);
}

async function convergedOn(world: World, version: string): Promise<void> {
  await until(() => {
    const mine = nodes(world).filter((n) => n.connected);
    return mine.length === 1 && mine.every((n) => n.ackedVersion === version);
  }, `the proxy to ACK version ${version}`);
}

async function setPolicy(world: World, id: string, policy: unknown): Promise<string> {
  let expected = 0;
  try { expected = (await world.cp.operations.get(id)).version; } catch { expected = 0; }
  await world.cp.operations.set('test', id, expected, policy);
  return String((await world.cp.operations.list()).snapshotVersion);
}

/** A policy for every cluster that trips after `minRequests` requests at ≥ 50 % errors. */
function tripAfter(minRequests: number, errorRateThreshold = 0.5): PolicyJson {
  const p = defaultPolicy();
  p.breaker.minRequests = minRequests;
  p.breaker.errorRateThreshold = errorRateThreshold;
  p.retry.enabled = false;
  return p as unknown as PolicyJson;
}

/** Sends `failures` failing requests to `cluster` on worker 0, then reports whether the next one was rejected. */
function breakerTripsAfter(world: World, cluster: string, failures: number): boolean {
  for (let i = 0; i < failures; i++) {
    const result = world.plugin.request(0, {
      cluster, requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
      response: { responseCode: 503, durationMs: 5, upstreamAddress: '10.0.0.9:8080', upstreamLocalAddress: '10.0.0.5:40001', attemptCount: 1 },
    });
    if (result.localReply) throw new Error(`request ${i} to ${cluster} was rejected before the breaker could trip`);
  }
  const next = world.plugin.request(0, {
    cluster, requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
    response: { responseCode: 200, durationMs: 5 },
  });
  return next.localReply?.status === 503 && next.localReply.headers.some(([k, v]) => k === 'x-meshlens-breaker' && v === 'open');
}

const test = suite<{ world?: World }>('filter discovery and telemetry against the real control plane');

test.before(async (ctx) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-filter-control-'));
  const cp = await startCp(dataDir);
  const clock = new ManualClock(Date.now());
  const plugin = await ProxyWasmPlugin.create({
    wasm: readFileSync(WASM),
    configuration: JSON.stringify({
      tickMs: TICK_MS, reportIntervalMs: REPORT_INTERVAL_MS,
      controlPlane: { cluster: CP_CLUSTER, token: cp.tokens.proxy, timeoutMs: 2000 },
      node: { id: NODE_ID, workload: 'orders', namespace: 'default' },
    }),
    workers: WORKERS, clock, clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${cp.grpcPort}` } },
  });
  ctx.world = { dataDir, cp, port: cp.grpcPort, clock, plugin };
});

test.after(async (ctx) => {
  const world = ctx.world;
  if (!world) return;
  await world.plugin.close();
  await world.cp.close();
  rmSync(world.dataDir, { recursive: true, force: true });
});

test('the proxy opens one stream on its first tick and ACKs the current snapshot', async ({ world }) => {
  const w = world!;
  assert.is(w.cp.discovery.openStreams, 0, 'nothing connects before the first tick (the canary never does)');
  advance(w, TICK_MS);
  await convergedOn(w, rollout(w).snapshotVersion);
  const workers = nodes(w).map((n) => n.worker).sort();
  assert.equal(workers, ['proxy']);
  assert.is(w.cp.discovery.openStreams, 1);
});

test('without a pushed policy the plugin default (minRequests 20) does not trip after 5 failures', ({ world }) => {
  assert.not.ok(breakerTripsAfter(world!, 'outbound|80||before-push', 5));
});

test('push → the proxy ACKs and enforces the pushed policy', async ({ world }) => {
  const w = world!;
  const version = await setPolicy(w, 'everything', tripAfter(5));
  await convergedOn(w, version);
  assert.is(counter(w, 'meshlens_control_plane_acks_total'), 2, 'the initial snapshot and this one, once each for the proxy');
  assert.ok(breakerTripsAfter(w, 'outbound|80||after-push', 5), 'the pushed minRequests 5 trips the breaker');
});

let lastGood = '';
test('an invalid policy is NACKed with the validation message and the previous one stays in force', async ({ world }) => {
  const w = world!;
  lastGood = rollout(w).snapshotVersion;
  const invalid = tripAfter(100, 1.5);
  const version = await setPolicy(w, 'everything', invalid);
  assert.is.not(version, lastGood);
  await until(() => nodes(w).filter((n) => n.nackedVersion === version).length === 1, `the NACK of ${version}`);
  assert.is(counter(w, 'meshlens_control_plane_nacks_total'), 1);
  for (const n of nodes(w)) {
    assert.is(n.nackReason, 'invalid policy: breaker.errorRateThreshold must be in (0, 1]');
    assert.is(n.ackedVersion, lastGood, 'the ACKed version stays the previous one');
  }
  // minRequests 100 from the refused policy would not trip after 5 failures; the old minRequests 5 does.
  assert.ok(breakerTripsAfter(w, 'outbound|80||after-nack', 5));
  assert.ok(w.plugin.logs.some((l) => l.message.includes('rejected snapshot ' + version)));
});

test('a valid change after a NACK is accepted again', async ({ world }) => {
  const w = world!;
  const version = await setPolicy(w, 'everything', tripAfter(4));
  await convergedOn(w, version);
  lastGood = version;
  assert.ok(breakerTripsAfter(w, 'outbound|80||after-recovery', 4));
});

test('a breaker keeps its state when a new snapshot keeps its scope', async ({ world }) => {
  const w = world!;
  const changed = tripAfter(4) as unknown as ReturnType<typeof defaultPolicy>;
  changed.breaker.openMs = 45_000;              // same scope and window; only the open duration differs
  const version = await setPolicy(w, 'everything', changed);
  await convergedOn(w, version);
  lastGood = version;
  const next = w.plugin.request(0, {
    cluster: 'outbound|80||after-recovery', requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
    response: { responseCode: 200, durationMs: 5 },
  });
  assert.is(next.localReply?.status, 503, 'the breaker tripped under the previous snapshot is still Open');
});

test('telemetry reports arrive with route and connection entries and the enforced version', async ({ world }) => {
  const w = world!;
  for (let i = 0; i < 3; i++) {
    w.plugin.request(1, {
      cluster: 'outbound|8080||telemetry', requestHeaders: [[':method', 'GET'], [':path', '/orders/7'], [':authority', 'orders'], [':scheme', 'http'], ['x-tenant-id', 'acme']],
      response: { responseCode: i === 0 ? 500 : 200, durationMs: 1200, upstreamAddress: '10.0.0.9:8080', upstreamLocalAddress: '10.0.0.5:41234', attemptCount: i === 0 ? 2 : 1 },
    });
  }
  // Worker 1 does not hold the proxy's stream: it hands its window to the holder at the end of its interval, and the
  // holder's next report carries it (at most two intervals).
  const accepted = counter(w, 'meshlens_control_plane_reports_accepted_total');
  advance(w, REPORT_INTERVAL_MS);
  await until(() => counter(w, 'meshlens_control_plane_reports_accepted_total') > accepted, 'the first report');
  advance(w, REPORT_INTERVAL_MS);
  await until(() => w.cp.telemetry.connection('10.0.0.5:41234', '10.0.0.9:8080') !== undefined, 'a report with the connection');
  const connection = w.cp.telemetry.connection('10.0.0.5:41234', '10.0.0.9:8080')!;
  assert.is(connection.cluster, 'outbound|8080||telemetry');
  assert.is(connection.requests, 3);
  assert.is(connection.errors, 1);
  const routes = w.cp.telemetry.routes(0, Number.MAX_SAFE_INTEGER).filter((r) => r.cluster === 'outbound|8080||telemetry');
  assert.is(routes.length, 1);
  assert.is(routes[0].tenant, 'acme');
  assert.is(routes[0].pathTemplate, '/orders/{id}');
  const slot = routes[0].slots.reduce((sum, s) => ({ requests: sum.requests + s.requests, slow: sum.slow + s.slowCalls }), { requests: 0, slow: 0 });
  assert.is(slot.requests, 3);
  assert.is(slot.slow, 3, '1200 ms ≥ the policy’s slowCallMs 800');
  await until(() => counter(w, 'meshlens_control_plane_reports_accepted_total') >= 1, 'the proxy’s report to be acknowledged');
  assert.is(counter(w, 'meshlens_control_plane_reports_failed_total'), 0);
});

test('while the control plane is down the last good policy is enforced; the VMs reconnect when it returns', async ({ world }) => {
  const w = world!;
  await w.cp.close();
  // The stream ends (UNAVAILABLE); its holder schedules a jittered reconnect and every VM keeps its policies.
  await until(() => w.plugin.logs.filter((l) => l.message.includes('meshlens discovery: stream closed')).length >= 1, 'the stream to close');
  advance(w, 2 * TICK_MS);
  assert.ok(breakerTripsAfter(w, 'outbound|80||while-down', 4), 'the last good policy (minRequests 4) still trips');

  // Reports while it is away fail (or find the previous call still out) and are dropped, never queued: one report
  // per interval for the proxy, the other VMs' windows inside it.
  const accepted = counter(w, 'meshlens_control_plane_reports_accepted_total');
  const lost = () => counter(w, 'meshlens_control_plane_reports_failed_total') + counter(w, 'meshlens_control_plane_report_windows_dropped_total');
  for (let i = 0; i < 3; i++) {
    const before = lost();
    advance(w, REPORT_INTERVAL_MS);
    await until(() => lost() >= before + 1, 'the proxy to give up on its report');
  }
  assert.is(counter(w, 'meshlens_control_plane_reports_accepted_total'), accepted);
  assert.ok(counter(w, 'meshlens_control_plane_stream_failures_total') >= 1);

  w.cp = await startCp(w.dataDir, w.port);
  assert.is(w.cp.grpcPort, w.port);
  // The filter's backoff runs on the manual clock, the host's gRPC channel reconnects on real time: keep ticking
  // until every VM is back.
  await tickUntil(w, () => w.cp.discovery.openStreams === 1, 'the proxy\'s stream after the restart');
  await convergedOn(w, lastGood);
  // The new streams carry pushes again.
  const version = await setPolicy(w, 'everything', tripAfter(3));
  await convergedOn(w, version);
  assert.ok(breakerTripsAfter(w, 'outbound|80||after-restart', 3));
});

test.run();
