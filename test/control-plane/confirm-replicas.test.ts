// Commit-confirmed changes with the etcd store, all real: one etcd member (Debian's etcd-server), three control-plane
// replicas on it sharing one token file, filter telemetry reports sent over gRPC to replica 2 only (the replicas
// forward them to each other, telemetry-peers.ts, so all three judge the same telemetry). It proves:
// - in process, on one injected clock (the test decides when a window is judged, never the machine's speed):
//   a harmful change through replica 1 is rolled back exactly once while all three replicas judge it at the same
//   moment (one ROLLBACK in the history, by "commit-confirmed", no replica logging a failure), listed the same by
//   every replica over HTTP and by gRPC; the change and its pending confirmation, the rollback and its resolution,
//   each share one etcd revision (one Txn); a stale read can resolve nothing; a harmless change is confirmed once at
//   its deadline, not before; a plain write through replica 3 supersedes a change pending from replica 1, and a
//   commit-confirmed one through replica 3 supersedes it and inherits what to restore; resolved ones stay bounded;
// - as `meshlens serve` processes on the wall clock: kill -9 of the replica that applied a harmful change, and the
//   others still roll it back, once.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EtcdConfirmations, MAX_RESOLVED } from '../../control-plane/src/confirmation-store.ts';
import { EtcdClient, prefixEnd } from '../../control-plane/src/etcd-client.ts';
import type { EtcdPolicyStore } from '../../control-plane/src/etcd-policy-store.ts';
import { createLogger } from '../../control-plane/src/logging.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { messageType, meshlensGrpc } from '../../control-plane/src/protos.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { etcdMissing } from '../support/etcd.ts';
import { needs } from '../support/skip.ts';
import { bearer, http, rawClient, unaryRaw } from './helpers.ts';
import { etcdReplicas, until, withReplicas, type EtcdReplicas } from './replica-support.ts';

const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const REPORT = '/meshlens.v1.Telemetry/Report';
const PREFIX = '/meshlens/';
const reportType = messageType('TelemetryReport');
// Judged once 40 requests are reported after the change; latency is not what these changes touch.
const CONFIRM = { minRequests: 40, minP99IncreaseMs: 10_000 };

/** One filter's report of `requests` calls to CLUSTER for tenant acme, `errors` of them failed, in the window ending at endMs. */
function report(endMs: number, requests: number, errors: number): Uint8Array {
  return reportType.encode(reportType.fromObject({
    node: { id: 'sidecar~10.0.0.1~orders-1.default~default.svc.cluster.local' }, windowStartUnixMs: endMs - 1000, windowEndUnixMs: endMs,
    routes: [{ cluster: CLUSTER, pathTemplate: '/orders/{id}', tenant: 'acme', counters: { requests, errors, durationBuckets: [0, 0, requests] } }],
  })).finish();
}

function policy(openMs: number, retries: boolean) {
  const p = defaultPolicy();
  p.target.cluster = CLUSTER;
  p.breaker.openMs = openMs;
  p.retry.enabled = retries;
  return p;
}

/** Requests of CLUSTER a replica holds in slots [fromMs, toMs). */
const held = (plane: ControlPlane, fromMs: number, toMs: number) => plane.telemetry.routes(fromMs, toMs).filter((r) => r.cluster === CLUSTER)
  .reduce((sum, r) => sum + r.slots.reduce((n, s) => n + s.requests, 0), 0);

const test = suite('commit-confirmed on the etcd store');

needs(etcdMissing(), test)('three replicas judge at once: one rollback, one confirmation, supersedes across replicas, bounded', async () => {
  const cp = await etcdReplicas({ name: 'confirm-inproc', replicas: 0 });
  const planes: ControlPlane[] = [];
  const registries: Registry[] = [];
  const logs: string[][] = [[], [], []];
  const clients: grpc.Client[] = [];
  let client: EtcdClient | undefined;
  try {
    await cp.startEtcd();
    client = new EtcdClient(cp.etcd.endpoints);
    const START = Math.ceil(Date.now() / 1000) * 1000;
    const clock = { now: START };
    for (let i = 0; i < 3; i++) {
      registries.push(new Registry());
      planes.push(await startControlPlane({
        store: { kind: 'etcd', endpoints: cp.etcd.endpoints }, dataDir: join(cp.dir, `replica-${i}`), tokenFile: cp.tokenFile,
        grpcHost: '127.0.0.1', httpHost: '127.0.0.1', grpcPort: 0, httpPort: 0, registry: registries[i], processMetrics: false,
        logger: createLogger(`replica-${i + 1}`, { level: 'info', write: (line) => { logs[i]!.push(line); } }), now: () => clock.now,
      }));
    }
    const [one, two, three] = planes as [ControlPlane, ControlPlane, ControlPlane];
    const api = (plane: ControlPlane, method: string, path: string, body?: unknown) => http(plane.httpPort, method, path, { token: cp.admin, body });
    // Each replica forwards what it accepts to the peers it found in the etcd registry (published every second).
    const peers = async (i: number) => (await registries[i]!.getSingleMetric('meshlens_cp_peers')!.get()).values[0]?.value === 2;
    for (let i = 0; i < 3; i++) await until(() => peers(i), `replica ${i + 1} to forward to its 2 peers`);
    const toTwo = rawClient(two.grpcPort);
    clients.push(toTwo);
    const send = async (endMs: number, requests: number, errors: number) => {
      assert.is((await unaryRaw(toTwo, REPORT, report(endMs, requests, errors), cp.tokens.proxy)).error, null);
    };
    const everywhere = async (fromMs: number, toMs: number, requests: number, what: string) => {
      for (const [i, plane] of planes.entries()) await until(async () => held(plane, fromMs, toMs) === requests, `replica ${i + 1} to hold ${what}`);
    };
    const etcd = client;
    const kv = async (key: string) => (await etcd.range({ key: Buffer.from(PREFIX + key) })).kvs[0];
    const lists = async (all: boolean) => Promise.all(planes.map(async (p) => (await api(p, 'GET', `/v1/confirmations${all ? '?all=true' : ''}`)).json));
    const history = async () => (await api(three, 'GET', '/v1/policies/orders/history')).json.entries as any[];

    assert.is((await api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 0, policy: policy(30_000, true) })).status, 200);
    // Baseline: ten clean seconds before the change (slots inside the default 5-minute baseline, none at START).
    for (let s = 10; s >= 1; s--) await send(START - s * 1000, 100, 0);
    await everywhere(START - 10_000, START, 1000, 'the baseline');

    // --- A harmful change through replica 1, judged by all three at the same moment.
    const applied = await api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 1, policy: policy(30_000, false), confirm: { withinMs: 60_000, ...CONFIRM } });
    assert.is(applied.status, 200, applied.text);
    const confirmation = applied.json.confirmation;
    assert.equal([confirmation.state, confirmation.toVersion, confirmation.restoreVersion, confirmation.appliedAtUnixMs], ['PENDING', 2, 1, START]);
    assert.is(confirmation.id, applied.json.snapshotVersion, 'an etcd confirmation is numbered by the snapshot version of its write');
    const pendingKv = await kv('confirmations/pending/orders');
    assert.ok(pendingKv, 'stored with the change');
    assert.is(pendingKv!.modRevision, (await kv('policies/orders'))!.modRevision, 'the change and its confirmation: one Txn');
    const pendingLists = await lists(false);
    assert.is(pendingLists[0].confirmations.length, 1);
    assert.equal(pendingLists[1], pendingLists[0], 'replica 2 lists what replica 1 does');
    assert.equal(pendingLists[2], pendingLists[0], 'replica 3 lists what replica 1 does');
    assert.equal(pendingLists[2].confirmations[0].scopes.map((s: any) => [s.tenant, s.before.requests]), [], 'nothing after the change yet');

    // 30 % errors after the change, reported to replica 2. The replicas' clock stays at START, so their own
    // once-a-second evaluations see none of it: the judging below is the test's, on all three at once.
    for (let s = 1; s <= 5; s++) await send(START + s * 1000 + 1000, 100, 30);
    await everywhere(START + 1000, START + 7000, 500, 'the traffic after the change');
    await Promise.all(planes.map((p) => p.confirmations.evaluate(START + 10_000)));
    const entries = await history();
    assert.equal(entries.map((e) => [e.version, e.kind, e.actor]), [[3, 'ROLLBACK', 'commit-confirmed'], [2, 'UPDATE', 'admin'], [1, 'CREATE', 'admin']],
      'one rollback, however many replicas judged');
    assert.match(entries[0].reason, /^automatic rollback of version 2 \(applied by admin, confirm within 60000 ms\): tenant acme on .*: error ratio 0\.0% → 30\.0%/);
    assert.is((await api(two, 'GET', '/v1/policies/orders')).json.policy.retry.enabled, true, 'version 1 restored');
    const rolled = await lists(true);
    assert.equal(rolled[0].confirmations.map((c: any) => [c.id, c.state, c.resolvedAtUnixMs]), [[confirmation.id, 'ROLLED_BACK', START + 10_000]]);
    assert.equal(rolled[1], rolled[0]);
    assert.equal(rolled[2], rolled[0]);
    const resolvedKv = await kv(`confirmations/resolved/${String(confirmation.id).padStart(16, '0')}`);
    assert.is(resolvedKv!.modRevision, (await kv('policies/orders'))!.modRevision, 'the rollback and the resolution: one Txn');
    assert.is(await kv('confirmations/pending/orders'), undefined);
    // gRPC answers as HTTP does, on another replica than the one that applied the change.
    const admin3 = new (meshlensGrpc().Admin)(`127.0.0.1:${three.grpcPort}`, grpc.credentials.createInsecure());
    clients.push(admin3);
    const listed = await new Promise<any>((resolve, reject) =>
      (admin3 as any).ListConfirmations({ all: true }, bearer(cp.admin), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
    assert.equal(listed.confirmations.map((c: any) => [c.id, c.state, c.reason]), rolled[0].confirmations.map((c: any) => [String(c.id), `CONFIRMATION_STATE_${c.state}`, c.reason]));

    // --- A harmless change: pending until its deadline, then confirmed once.
    clock.now = START + 20_000;
    const harmless = await api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 3, policy: policy(45_000, true), confirm: { withinMs: 5000, ...CONFIRM } });
    assert.is(harmless.status, 200, harmless.text);
    for (let s = 1; s <= 4; s++) await send(clock.now + s * 1000 + 1000, 100, 0);
    await everywhere(clock.now + 1000, clock.now + 6000, 400, 'the clean traffic after the harmless change');
    const deadline = harmless.json.confirmation.deadlineUnixMs;
    await Promise.all(planes.map((p) => p.confirmations.evaluate(deadline - 1)));
    assert.is((await lists(false))[2].confirmations[0].state, 'PENDING', 'not judged worse, not confirmed before its deadline');
    await Promise.all(planes.map((p) => p.confirmations.evaluate(deadline)));
    const confirmed = await lists(true);
    assert.equal(confirmed[0].confirmations.map((c: any) => [c.state, c.reason]).slice(0, 1), [['CONFIRMED', 'no affected scope got worse (1 scope(s) judged)']]);
    assert.equal(confirmed[2], confirmed[0], 'replica 3 lists the confirmation as replica 1');
    assert.is((await history()).length, 4, 'confirming writes no policy version');

    // --- A stale read resolves nothing: replica 2 and 3 read the same pending confirmation, replica 2 resolves it.
    clock.now = START + 40_000;
    const third = await api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 4, policy: policy(50_000, true), confirm: { withinMs: 60_000, ...CONFIRM } });
    assert.is(third.status, 200, third.text);
    const storeOf = (plane: ControlPlane) => new EtcdConfirmations(plane.store as EtcdPolicyStore);
    const [row2] = await storeOf(two).pending();
    const stale = storeOf(three);
    const [row3] = await stale.pending();
    assert.is((await stale.current(row3!))?.version, 5);
    // A plain write through replica 3 supersedes the change pending from replica 1 (judged by replica 2).
    assert.is((await api(three, 'PUT', '/v1/policies/orders', { expectedVersion: 5, policy: policy(55_000, true) })).status, 200);
    await two.confirmations.evaluate();
    const superseded = (await lists(true))[1].confirmations[0];
    assert.equal([superseded.id, superseded.state, superseded.reason], [row2!.id, 'SUPERSEDED', 'policy changed to version 6 by admin before the window ended; not judged']);
    assert.is(await stale.resolve(row3!, { state: 'CONFIRMED', atMs: clock.now, reason: 'stale', scopesJson: '[]' }), false, 'resolved meanwhile: the compare fails');
    const rollbackOnStale = await three.operations.rollback('commit-confirmed', 'orders', 1, 6, { reason: 'stale', alongside: stale.resolving(row3!, { state: 'ROLLED_BACK', atMs: clock.now, reason: 'stale', scopesJson: '[]' }) })
      .then(() => 'written', (error) => String(error.message));
    assert.is(rollbackOnStale, 'confirmation ' + row3!.id + ' is no longer pending');
    assert.is((await api(one, 'GET', '/v1/policies/orders')).json.version, 6, 'the rollback on a stale read wrote nothing');
    assert.is((await lists(true))[0].confirmations[0].state, 'SUPERSEDED');

    // --- Bounded: resolved confirmations fill up to MAX_RESOLVED, then every new one pushes the oldest out.
    const resolvedPrefix = Buffer.from(`${PREFIX}confirmations/resolved/`);
    const resolvedKeys = async () => (await etcd.range({ key: resolvedPrefix, rangeEnd: prefixEnd(resolvedPrefix.toString()), keysOnly: true })).kvs
      .map((k) => Buffer.from(k.key).toString());
    const template = JSON.parse(Buffer.from((await kv(`confirmations/resolved/${String(row2!.id).padStart(16, '0')}`))!.value).toString());
    const fill = MAX_RESOLVED - (await resolvedKeys()).length;
    for (let i = 0; i < fill; i += 100) {
      await etcd.txn({ success: Array.from({ length: Math.min(100, fill - i) }, (_, j) => ({ requestPut: {
        key: Buffer.from(`${PREFIX}confirmations/resolved/${String(1_000_000 + i + j).padStart(16, '0')}`),
        value: Buffer.from(JSON.stringify({ ...template, id: 1_000_000 + i + j })),
      } })) });
    }
    const full = await resolvedKeys();
    assert.is(full.length, MAX_RESOLVED);
    // Two commit-confirmed changes, through replica 1 then on top of it through replica 3: the first is superseded
    // in the second's Txn, and the second restores what the first replaced.
    clock.now = START + 60_000;
    const first = await api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 6, policy: policy(60_000, true), confirm: { withinMs: 60_000, ...CONFIRM } });
    const second = await api(three, 'PUT', '/v1/policies/orders', { expectedVersion: 7, policy: policy(65_000, true), confirm: { withinMs: 60_000, ...CONFIRM } });
    assert.equal([first.status, second.status], [200, 200], second.text);
    assert.equal([second.json.confirmation.restoreVersion, second.json.confirmation.baselineFromUnixMs], [6, first.json.confirmation.baselineFromUnixMs], 'inherited');
    const after = await resolvedKeys();
    assert.is(after.length, MAX_RESOLVED, 'still MAX_RESOLVED');
    assert.not.ok(after.includes(full[0]!), 'the oldest resolved one was deleted');
    const supersededKv = await kv(`confirmations/resolved/${String(first.json.confirmation.id).padStart(16, '0')}`);
    assert.is(JSON.parse(Buffer.from(supersededKv!.value).toString()).reason, 'superseded by version 8 (commit-confirmed, by admin)');
    assert.is(supersededKv!.modRevision, (await kv('policies/orders'))!.modRevision, 'superseded in the Txn of the change on top of it');
    const allListed = (await lists(true))[2].confirmations;
    assert.is(allListed.length, MAX_RESOLVED + 1, 'every kept resolved one and the pending one');
    assert.equal(allListed.filter((c: any) => c.state === 'PENDING').map((c: any) => c.id), [second.json.confirmation.id], 'one pending: the newest change');

    // Each verdict was made by one replica (the others lost the race), and losing it is no failure.
    const said = (msg: string) => logs.flat().filter((l) => l.includes(`"msg":"${msg}"`)).length;
    assert.equal([said('commit-confirmed change rolled back'), said('commit-confirmed change confirmed')], [1, 1]);
    for (const [i, lines] of logs.entries()) {
      assert.equal(lines.filter((l) => l.includes('"level":"error"')), [], `replica ${i + 1} logged no error`);
    }
  } catch (error) {
    for (const [i, lines] of logs.entries()) process.stderr.write(`--- replica ${i + 1}\n${lines.slice(-40).join('')}`);
    throw error;
  } finally {
    for (const c of clients) c.close();
    client?.close();
    await Promise.all(planes.map((p) => p.close()));
    await cp.stop();
  }
});

needs(etcdMissing(), test)('kill -9 of the replica that applied a harmful change: another replica rolls it back, once', async () => {
  const cp: EtcdReplicas = await etcdReplicas({ name: 'confirm', replicas: 3, advertise: true });
  const clients: grpc.Client[] = [];
  await withReplicas(cp, clients, async () => {
    await cp.startEtcd();
    for (const r of cp.replicas) cp.startReplica(r);
    for (const r of cp.replicas) await cp.ready(r);
    const [one, two, three] = cp.replicas as [typeof cp.replicas[0], typeof cp.replicas[0], typeof cp.replicas[0]];
    const metric = async (r: typeof one, series: string) => {
      const match = new RegExp(`^${series.replace(/[{}|.*+?()[\]\\^$]/g, '\\$&')} (\\S+)$`, 'm').exec((await http(r.httpPort, 'GET', '/metrics')).text);
      return match ? Number(match[1]) : 0;
    };
    // Replica 2 must forward the baseline to replica 1, which takes the baseline when it applies the change.
    await until(async () => (await metric(two, 'meshlens_cp_peers')) === 2, 'replica 2 to forward to its 2 peers');
    assert.is((await cp.api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 0, policy: policy(30_000, true) })).status, 200);
    const toTwo = rawClient(two.grpcPort);
    clients.push(toTwo);
    const send = async (endMs: number, requests: number, errors: number) => {
      assert.is((await unaryRaw(toTwo, REPORT, report(endMs, requests, errors), cp.tokens.proxy)).error, null);
    };
    const now = Math.floor(Date.now() / 1000) * 1000;
    for (let s = 10; s >= 1; s--) await send(now - s * 1000, 100, 0);
    for (const r of [one, three]) {
      await until(async () => (await metric(r, 'meshlens_cp_reports_received_total{source="filter"}')) === 10, `replica ${r.index + 1} to hold the baseline`);
    }

    const applied = await cp.api(one, 'PUT', '/v1/policies/orders', { expectedVersion: 1, policy: policy(30_000, false), confirm: { withinMs: 60_000, ...CONFIRM } });
    assert.is(applied.status, 200, applied.text);
    const appliedAt: number = applied.json.confirmation.appliedAtUnixMs;
    await cp.kill(one);
    // 30 % errors in the seconds after the change (judged as each slot's start passes on the replicas' wall clock).
    for (let s = 0; s < 5; s++) await send(appliedAt + 2000 + s * 1000, 100, 30);
    const listed = async (r: typeof one) => (await cp.api(r, 'GET', '/v1/confirmations?all=true')).json.confirmations;
    const [resolved] = await until(async () => { const all = await listed(three); return all[0]?.state === 'ROLLED_BACK' && all; },
      'the change to be rolled back without the replica that applied it', 30_000);
    assert.equal([resolved.id, resolved.toVersion, resolved.restoreVersion, resolved.actor], [applied.json.confirmation.id, 2, 1, 'admin']);
    assert.equal(await listed(two), await listed(three), 'replicas 2 and 3 list the same');
    // Two more evaluation rounds on both survivors: still one rollback.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const entries = (await cp.api(two, 'GET', '/v1/policies/orders/history')).json.entries;
    assert.equal(entries.map((e: any) => [e.version, e.kind, e.actor]), [[3, 'ROLLBACK', 'commit-confirmed'], [2, 'UPDATE', 'admin'], [1, 'CREATE', 'admin']]);
    assert.is((await cp.api(three, 'GET', '/v1/policies/orders')).json.policy.retry.enabled, true, 'version 1 restored');
  });
});

test.run();
