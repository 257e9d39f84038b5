// Commit-confirmed changes end to end: the release filter in the sidecar, pushed policies by the real control plane
// and reporting real telemetry of real HTTP traffic, one ManualClock for the filter and the control plane (the test
// drives time), changes applied with the compiled CLI (`policy apply --confirm-within 60s`).
// - a change that makes a scope worse (retries turned off in front of an upstream failing every 4th attempt) is
//   rolled back by the control plane inside the window, audited with who, what and why, and pushed to the filters;
// - a harmless change (a longer open duration) is confirmed at the end of its window;
// - a pending confirmation survives a restart of the control plane (its baseline is stored with it) and is judged after.
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, SharedData } from '../../filter/host/index.ts';
import { startSidecar, type Sidecar } from '../../filter/host/sidecar/index.ts';
import { compareScope, quantileFromBuckets, validateConfirm } from '../../control-plane/src/commit-confirmed.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { DURATION_BUCKET_COUNT } from '../../control-plane/src/telemetry-store.ts';
import { releaseFilter } from '../host/support.ts';
import { request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';
import { runCli } from './cli-support.ts';
import { bearer, startTestPlane, type TestPlane } from './helpers.ts';
import { until } from '../support/until.ts';

const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const CP_CLUSTER = 'outbound|18000||meshlens-control-plane.meshlens.svc.cluster.local';
const TOKEN_ENV = 'MESHLENS_PROXY_TOKEN';
const TICK_MS = 100;
const REPORT_MS = 1000;
const STREAMS = 1;                   // one worker and the main thread hold one discovery stream for the proxy
const START_MS = 1_800_000_000_000;

interface Mesh { clock: ManualClock; plane: TestPlane; upstream: ScriptedUpstream; sidecar: Sidecar; dir: string }

let mesh: Mesh | undefined;

/** Ticks the filter's clock while waiting for something that also needs real time (gRPC inside the host). */
async function tickUntil(m: Mesh, condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    m.clock.advance(TICK_MS);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits (real time) for the control plane's once-a-second evaluation; the clock does not move. */
function converged(m: Mesh): boolean {
  const status = m.plane.operations.rolloutStatus();
  return status.converged === STREAMS && status.connected === STREAMS;
}

function reportedRequests(m: Mesh, fromMs: number): number {
  return m.plane.telemetry.routes(fromMs, Number.MAX_SAFE_INTEGER).filter((r) => r.cluster === CLUSTER)
    .reduce((sum, r) => sum + r.slots.reduce((n, s) => n + s.requests, 0), 0);
}

function basePolicy() {
  const policy = defaultPolicy();
  policy.target.cluster = CLUSTER;
  policy.breaker.minRequests = 1000;   // the breaker stays out of it: the scope's outcomes are the upstream's
  return policy;
}

async function startMesh(): Promise<Mesh> {
  const clock = new ManualClock(START_MS);
  const plane = await startTestPlane({ now: () => clock.nowMs() });
  await plane.operations.set('admin', 'orders', 0, basePolicy());
  // Every 4th attempt the upstream receives fails: with retries on, every request still succeeds.
  const upstream = await startUpstream((_req, res, index) => {
    res.writeHead(index % 4 === 0 ? 503 : 200, { 'content-length': '2' });
    res.end('ok');
  });
  const sidecar = await startSidecar({
    wasm: releaseFilter(),
    configuration: JSON.stringify({ tickMs: TICK_MS, reportIntervalMs: REPORT_MS, controlPlane: { cluster: CP_CLUSTER, timeoutMs: 5000, tokenEnv: TOKEN_ENV } }),
    workers: 1, clock,
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { [CLUSTER]: { endpoints: [upstream.address] } },
    routes: [{ authority: 'orders', cluster: CLUSTER }],
    router: { random: () => 0.5, sleep: () => Promise.resolve() },
    pluginOptions: {
      sharedData: new SharedData(),
      node: { id: 'sidecar~127.0.0.1~orders-1.default~default.svc.cluster.local' },
      clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${plane.grpcPort}` } },
      environment: { [TOKEN_ENV]: plane.proxyToken },
    },
  });
  mesh = { clock, plane, upstream, sidecar, dir: mkdtempSync(join(tmpdir(), 'meshlens-confirm-')) };
  await tickUntil(mesh, () => converged(mesh!), 'the proxy to ACK the first policy');
  return mesh;
}

/** `count` requests, 50 ms of filter time apart (the retry budget is per second); returns their statuses. */
async function traffic(m: Mesh, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await request(m.sidecar.listenerPort, `/api/orders/${i}`, { host: 'orders', 'x-tenant-id': 'acme' })).status);
    m.clock.advance(50);
  }
  return statuses;
}

const cli = (m: Mesh, ...args: string[]) => runCli([...args, '--url', `http://127.0.0.1:${m.plane.httpPort}`, '--data-dir', m.plane.dataDir]);

async function applyWithConfirm(m: Mesh, change: (policy: ReturnType<typeof basePolicy>) => void): Promise<string> {
  const policy = basePolicy();
  change(policy);
  const file = join(m.dir, 'orders.yaml');
  // minRequests 40: judged once all of a phase's 40 requests are reported, never on part of them. The latency bound
  // is out of reach: latency is not what these changes touch, and a loaded machine's scheduling would be judged.
  writeFileSync(file, `id: orders\nconfirm: {minRequests: 40, minP99IncreaseMs: 10000}\npolicy: ${JSON.stringify(policy)}\n`);
  const applied = await cli(m, 'policy', 'apply', '-f', file, '--confirm-within', '60s');
  assert.is(applied.code, 0, applied.stderr);
  return applied.stdout;
}

const test = suite('commit-confirmed');

test.after.each(async () => {
  if (!mesh) return;
  await mesh.sidecar.close();
  await mesh.upstream.close();
  await mesh.plane.stop();
  rmSync(mesh.dir, { recursive: true, force: true });
  mesh = undefined;
});

test('a change that makes a scope worse is rolled back by the control plane within the window, audited and pushed', async () => {
  const m = await startMesh();
  const baseline = await traffic(m, 40);
  assert.ok(baseline.every((s) => s === 200), `retries hide the upstream's failures: ${baseline}`);
  await tickUntil(m, () => reportedRequests(m, START_MS) >= 40, 'the baseline traffic reported');
  m.clock.advance(2 * REPORT_MS);
  const appliedAt = m.clock.nowMs();

  const applied = await applyWithConfirm(m, (p) => { p.retry.enabled = false; });
  assert.is(applied, `policy/orders configured (version 2), pending confirmation 1 until ${new Date(appliedAt + 60_000).toISOString()}: ` +
    'rolled back to version 1 if its scopes get worse\n');
  const pending = await cli(m, 'policy', 'status');
  assert.match(pending.stdout, /^ID\s+POLICY\s+VERSION\s+STATE\s+APPLIED BY\s+APPLIED AT\s+DEADLINE\s+RESTORES\s+REASON\n1\s+orders\s+2\s+PENDING\s+admin\s+/);
  const pushedVersion = m.plane.operations.rolloutStatus().snapshotVersion;
  await tickUntil(m, () => converged(m) && m.plane.operations.rolloutStatus().snapshotVersion === pushedVersion, 'the proxy to ACK version 2');

  const worse = await traffic(m, 40);
  assert.is(worse.filter((s) => s === 503).length, 10, 'without retries every 4th request fails');
  await tickUntil(m, () => reportedRequests(m, appliedAt) >= 40, 'the traffic after the change reported');
  await until(() => m.plane.confirmations.list(true)[0]?.state === 'ROLLED_BACK', 'the automatic rollback', 30_000);
  assert.ok(m.clock.nowMs() < appliedAt + 60_000, 'rolled back inside the window, not at its end');

  const record = await m.plane.operations.get('orders');
  assert.is(record.version, 3);
  assert.is(record.updatedBy, 'commit-confirmed');
  assert.is(record.policy.retry.enabled, true, 'version 1 restored');
  const [rollback] = await m.plane.operations.history('orders');
  assert.is(rollback!.kind, 'ROLLBACK');
  assert.is(rollback!.rolledBackTo, 1);
  assert.is(rollback!.reason, 'automatic rollback of version 2 (applied by admin, confirm within 60000 ms): tenant acme on ' +
    `${CLUSTER}: error ratio 0.0% → 25.0% (40 → 40 requests), more than the bound of +5.0%; version 1 restored`);
  const history = await cli(m, 'policy', 'history', 'orders');
  assert.match(history.stdout, /^version 3 {2}ROLLBACK to version 1 {2}by commit-confirmed {2}at .*\n {2}why: automatic rollback of version 2 \(applied by admin/);
  const v3 = history.stdout.split(/\n(?=version )/)[0]!;
  assert.equal(v3.split('\n').filter((l) => /^ {2}[-+] /.test(l)), ['  -  enabled: false', '  +  enabled: true'], 'retry.enabled restored');
  const all = JSON.parse((await cli(m, 'policy', 'status', '--all', '-o', 'json')).stdout).confirmations;
  assert.is(all[0].state, 'ROLLED_BACK');
  assert.equal(all[0].scopes.map((s: any) => [s.tenant, s.before.requests, s.after.errors, s.worse]), [['acme', 40, 10, true]]);
  assert.is((await cli(m, 'policy', 'status')).stdout, 'no pending confirmations\n');

  // The filters get the restored version and retry again.
  const restored = m.plane.operations.rolloutStatus().snapshotVersion;
  await tickUntil(m, () => converged(m) && m.plane.operations.rolloutStatus().snapshotVersion === restored, 'the proxy to ACK version 3');
  assert.ok((await traffic(m, 12)).every((s) => s === 200), 'retries are back on');
});

test('a harmless change is confirmed at the end of its window', async () => {
  const m = await startMesh();
  await traffic(m, 40);
  await tickUntil(m, () => reportedRequests(m, START_MS) >= 40, 'the baseline traffic reported');
  m.clock.advance(2 * REPORT_MS);
  const appliedAt = m.clock.nowMs();
  await applyWithConfirm(m, (p) => { p.breaker.openMs = 45_000; });
  await tickUntil(m, () => converged(m) && m.plane.operations.rolloutStatus().snapshotVersion === '2', 'the proxy to ACK version 2');
  assert.ok((await traffic(m, 40)).every((s) => s === 200));
  await tickUntil(m, () => reportedRequests(m, appliedAt) >= 40, 'the traffic after the change reported');
  // Judged at least once with all of it in, and still pending: nothing got worse, and the window is open.
  const evaluated = Date.now();
  await until(() => Date.now() - evaluated > 2500, 'two evaluation rounds', 30_000);
  assert.is(m.plane.confirmations.list()[0]?.state, 'PENDING');
  const status = (await cli(m, 'policy', 'status')).stdout;
  assert.match(status, /\nID\s+CLUSTER\s+TENANT\s+REQUESTS BEFORE \/ AFTER\s+ERRORS\s+P99 MS\s+SO FAR\n1\s+\S+\s+acme\s+40 \/ 40\s+0\.0% → 0\.0%\s+\S+ → \S+\s+within bounds/);
  m.clock.advance(60_000);
  await until(() => m.plane.confirmations.list(true)[0]?.state === 'CONFIRMED', 'the confirmation at the deadline', 30_000);
  const [confirmation] = m.plane.confirmations.list(true);
  assert.is(confirmation!.reason, 'no affected scope got worse (1 scope(s) judged)');
  assert.is((await m.plane.operations.get('orders')).version, 2, 'the change stays');
  assert.equal((await m.plane.operations.history('orders')).map((e) => e.kind), ['UPDATE', 'CREATE']);
  const table = (await cli(m, 'policy', 'status', '--all')).stdout;
  assert.match(table, /^1\s+orders\s+2\s+CONFIRMED\s+admin\s+\S+\s+\S+\s+version 1\s+no affected scope got worse/m);
});

test('a pending confirmation survives a restart with its baseline, and is judged after it', async () => {
  const clock = { now: START_MS };
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-confirm-restart-'));
  const report = (atMs: number, requests: number, errors: number) => ({
    windowEndUnixMs: String(atMs), connections: [],
    routes: [{ cluster: CLUSTER, tenant: 'acme', pathTemplate: '/api/orders/{id}', counters: { requests, errors, slowCalls: 0, durationBuckets: [0, 0, requests] } }],
  }) as any;
  let plane = await startTestPlane({ dataDir, keepDataDir: true, now: () => clock.now });
  try {
    await plane.operations.set('admin', 'orders', 0, basePolicy());
    for (let s = 0; s < 30; s++) plane.telemetry.record(report(START_MS + s * 1000, 10, 0));
    clock.now = START_MS + 60_000;
    // Through gRPC this time: SetPolicy with confirm, ListConfirmations.
    const admin = new (meshlensGrpc().Admin)(`127.0.0.1:${plane.grpcPort}`, grpc.credentials.createInsecure());
    const rpc = (method: string, body: unknown) => new Promise<any>((resolve, reject) =>
      (admin as any)[method](body, bearer(plane.adminToken), (error: Error | null, response: any) => (error ? reject(error) : resolve(response))));
    const changed = basePolicy();
    changed.retry.enabled = false;
    const set = await rpc('SetPolicy', { id: 'orders', expectedVersion: 1, policy: changed, confirm: { withinMs: 120_000, minRequests: 50 } });
    assert.is(set.confirmation.state, 'CONFIRMATION_STATE_PENDING');
    assert.is(set.confirmation.bounds.maxErrorRatioIncrease, 0.05, 'defaults applied');
    assert.is((await rpc('ListConfirmations', {})).confirmations.length, 1);
    const refused = await rpc('SetPolicy', { id: 'orders', expectedVersion: 2, policy: changed, confirm: { withinMs: 10 } }).then(() => null, (error: grpc.ServiceError) => error);
    assert.is(refused?.code, grpc.status.INVALID_ARGUMENT);
    assert.is(refused?.details, 'invalid confirmation: withinMs must be an integer in [1000, 86400000]');
    assert.is((await plane.operations.get('orders')).version, 2, 'nothing stored');
    admin.close();
    await plane.stop();

    clock.now = START_MS + 90_000;
    plane = await startTestPlane({ dataDir, keepDataDir: true, now: () => clock.now });
    assert.is(plane.confirmations.list()[0]?.state, 'PENDING', 'still pending after the restart');
    // The restarted control plane has no telemetry from before the change; the stored baseline stands in for it.
    for (let s = 0; s < 6; s++) plane.telemetry.record(report(START_MS + 61_000 + s * 1000, 10, 5));
    await plane.confirmations.evaluate();
    const [resolved] = plane.confirmations.list(true);
    assert.is(resolved!.state, 'ROLLED_BACK');
    assert.equal([resolved!.scopes[0]!.before.requests, resolved!.scopes[0]!.before.errors, resolved!.scopes[0]!.after.errorRatio], [300, 0, 0.5]);
    assert.is((await plane.operations.get('orders')).version, 3);
  } finally {
    await plane.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('stacked, superseded and creating changes: restore what was last confirmed, step back for a manual write, delete', async () => {
  const clock = { now: START_MS };
  const plane = await startTestPlane({ now: () => clock.now });
  const report = (cluster: string, atMs: number, requests: number, errors: number) => plane.telemetry.record({
    windowEndUnixMs: String(atMs), connections: [],
    routes: [{ cluster, tenant: 'acme', pathTemplate: '/p', counters: { requests, errors, slowCalls: 0, durationBuckets: [0, 0, requests] } }],
  } as any);
  const confirm = { withinMs: 60_000 };
  const policy = (openMs: number, cluster = CLUSTER) => ({ target: { cluster }, breaker: { openMs } });
  try {
    await plane.operations.set('admin', 'orders', 0, policy(1000));
    report(CLUSTER, START_MS - 10_000, 100, 0);
    await plane.confirmations.apply('alice', 'orders', 1, policy(2000), confirm);
    clock.now += 5000;
    await plane.confirmations.apply('bob', 'orders', 2, policy(3000), confirm);
    const [second, first] = plane.confirmations.list(true);
    assert.equal([first!.state, first!.reason], ['SUPERSEDED', 'superseded by version 3 (commit-confirmed, by bob)']);
    assert.equal([second!.state, second!.restoreVersion], ['PENDING', 1], 'version 2 was never confirmed: back to 1');
    report(CLUSTER, clock.now + 1000, 100, 30);
    clock.now += 2000;
    await plane.confirmations.evaluate();
    assert.is(plane.confirmations.list(true)[0]!.state, 'ROLLED_BACK');
    const restored = await plane.operations.get('orders');
    assert.equal([restored.version, restored.policy.breaker.openMs, (await plane.operations.history('orders'))[0]!.rolledBackTo], [4, 1000, 1]);

    // A manual write inside the window: the operator took over, nothing is judged or rolled back.
    await plane.confirmations.apply('alice', 'orders', 4, policy(5000), confirm);
    await plane.operations.set('carol', 'orders', 5, policy(6000));
    report(CLUSTER, clock.now + 1000, 100, 90);
    clock.now += 2000;
    await plane.confirmations.evaluate();
    const superseded = plane.confirmations.list(true)[0]!;
    assert.equal([superseded.state, superseded.reason], ['SUPERSEDED', 'policy changed to version 6 by carol before the window ended; not judged']);
    assert.is((await plane.operations.get('orders')).version, 6);

    // A policy the change created is deleted again, audited.
    await plane.confirmations.apply('alice', 'fresh', 0, policy(7000, 'fresh-cluster'), confirm);
    report('fresh-cluster', clock.now + 1000, 50, 50);
    clock.now += 2000;
    await plane.confirmations.evaluate();
    const [deleted] = await plane.operations.history('fresh');
    assert.equal([deleted!.kind, deleted!.actor], ['DELETE', 'commit-confirmed']);
    assert.match(deleted!.reason, /^automatic rollback of version 1 \(applied by alice.*error ratio 0\.0% → 100\.0%.*; the policy it created is deleted$/);
    assert.equal((await plane.operations.list()).policies.map((p) => p.id), ['orders']);
  } finally {
    await plane.stop();
  }
});

test('bounds: invalid confirmations are named; p99 from histograms; latency judged only beyond both bounds', () => {
  assert.throws(() => validateConfirm({ withinMs: 60_000, maxErrorRatioIncrease: 2 }), /^invalid confirmation: maxErrorRatioIncrease must be a number in \[0, 1\]$/);
  assert.throws(() => validateConfirm({ withinMs: 60_000, window: 1 }), /^invalid confirmation: window must not be present/);
  assert.throws(() => validateConfirm({}), /^invalid confirmation: withinMs must be an integer/);
  // 100 samples: 98 in (5, 10] ms, 2 in (250, 500] ms → the 99th is halfway into (250, 500].
  const buckets = new Array(DURATION_BUCKET_COUNT).fill(0);
  buckets[3] = 98;
  buckets[8] = 2;
  assert.is(quantileFromBuckets(buckets, 0.99), 375);
  assert.is(quantileFromBuckets(new Array(DURATION_BUCKET_COUNT).fill(0), 0.99), null);
  const bounds = validateConfirm({ withinMs: 60_000 });
  const scope = (p99Bucket: number, requests = 100) => {
    const b = new Array(DURATION_BUCKET_COUNT).fill(0);
    b[p99Bucket] = requests;
    return { cluster: 'c', tenant: 't', requests, errors: 0, buckets: b };
  };
  // A p99 of 5 ms → 10 ms is +100 % but only +5 ms: scheduling noise, not a regression.
  assert.is(compareScope(scope(2), scope(3), bounds).worse, false);
  // 40 ms → 400 ms: worse.
  const slower = compareScope(scope(5), scope(8), bounds);
  assert.is(slower.worse, true);
  assert.match(slower.why, /^p99 latency 49\.8 ms → 497\.5 ms/);
  assert.is(compareScope(scope(5), scope(8, 10), bounds).worse, false, 'fewer than minRequests after the change: not judged');
});

test.run();
