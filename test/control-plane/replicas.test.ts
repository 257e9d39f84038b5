// Control-plane replicas on etcd, all real: a 3-member etcd cluster (Debian's etcd-server) on loopback, three
// `meshlens serve --store etcd` processes sharing it and one token file, and three proxies (the release filter in the
// Node sidecar, 3 VMs each, one discovery stream per proxy held by one of its VMs) whose control-plane cluster lists
// the three replicas (round robin, as Envoy's default load balancer), each proxy's list starting at another replica
// as a Service's pick of a pod would spread them. It proves:
// - a replica started while etcd is down is not ready (/readyz 503 naming etcd, no gRPC listener), stays up, and
//   becomes ready by itself once etcd answers;
// - a write through replica 1 is ACKed by the proxies whose streams live on replicas 2 and 3, seen per replica and in
//   the mesh-wide GET /v1/replicas of any replica, and the same answer from Admin.ListReplicas over gRPC;
// - kill -9 of replica 2: its proxy reconnects to another and the policy stays in force (a breaker opening after the
//   policy's own minRequests, 4, not the default 20, through real traffic);
// - kill -9 of an etcd member: writes go on; every acknowledged write survives both kills, read back (policy and
//   history) from every replica, replica 2 restarted on the same store.
import * as grpc from '@grpc/grpc-js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { ProxyWasmPlugin, SharedData } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { releaseFilter } from '../host/support.ts';
import { request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';
import { etcdCluster, etcdMissing } from '../support/etcd.ts';
import { opensslMissing } from '../support/pki.ts';
import { needs } from '../support/skip.ts';
import { EtcdPolicyStore, HISTORY_PER_POLICY } from '../../control-plane/src/etcd-policy-store.ts';
import type { PolicyJson } from '../../control-plane/src/policy-types.ts';
import type { Snapshot } from '../../control-plane/src/snapshot.ts';
import { ensureCliBuilt, runCli } from './cli-support.ts';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { bearer } from './helpers.ts';
import { etcdReplicas, until, type Replica } from './replica-support.ts';

const CP_CLUSTER = 'meshlens-control-plane';
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const NODES = [1, 2, 3].map((n) => `sidecar~10.0.0.${n}~orders-${n}.default~default.svc.cluster.local`);
const WORKERS = 2;                       // + main = 3 VMs per proxy, one stream per proxy
const MIN_REQUESTS = 4;                  // the default policy's is 20: a breaker opening after 4 is this policy's doing

interface Proxy { plugin: ProxyWasmPlugin; sidecar: SidecarWith<ProxyWasmPlugin> }

const test = suite('control-plane replicas on etcd');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

needs(etcdMissing(), test)('writes through any replica reach every proxy; replica and etcd member kills lose nothing', async () => {
  const cp = await etcdReplicas({ name: 'replicas', replicas: 3, etcdMembers: 3 });
  const { etcd, replicas, tokens, admin, alive, readyz, api } = cp;
  const proxies: Proxy[] = [];
  let upstream: ScriptedUpstream | undefined;
  const acknowledged = new Map<string, { version: number; openMs: number }>();
  const write = async (r: Replica, id: string, openMs: number) => {
    const expectedVersion = acknowledged.get(id)?.version ?? 0;
    const policy = defaultPolicy();
    policy.target.cluster = id === 'orders' ? CLUSTER : `outbound|8080||${id}.default.svc.cluster.local`;
    Object.assign(policy.breaker, { minRequests: MIN_REQUESTS, errorRateThreshold: 0.5, windowMs: 60_000, openMs });
    policy.retry.enabled = false;
    const response = await api(r, 'PUT', `/v1/policies/${id}`, { expectedVersion, policy });
    assert.is(response.status, 200, `write of ${id} through replica ${r.index + 1}: ${JSON.stringify(response.json)}`);
    acknowledged.set(id, { version: response.json.version, openMs });
    return response.json;
  };
  // Every proxy connected to a live replica and ACKing `version` (for all its VMs); answers where each proxy's stream is.
  const convergedOn = (version: string) => until(async () => {
    const where = new Map<string, number>();
    for (const r of replicas.filter(alive)) {
      const { json } = await api(r, 'GET', '/v1/rollout?pageSize=1000');
      for (const row of json.nodes) if (row.connected && row.ackedVersion === version) where.set(`${row.nodeId}/${row.worker}`, r.index);
    }
    return where.size === NODES.length && where;
  }, `all ${NODES.length} proxies to ACK snapshot ${version}`);

  try {
    // Replica 1 first, with etcd not up yet: not ready, says why, keeps running, serves no discovery.
    cp.startReplica(replicas[0]);
    const notReady = await until(async () => { const r = await readyz(replicas[0]); return r.status === 503 && r.json.reason?.includes('etcd') && r; }, 'replica 1 to answer /readyz 503');
    assert.match(notReady.json.reason, /^store not ready: store unavailable: etcd unreachable at 127\.0\.0\.1:\d+,/);
    await sleep(1500);
    assert.ok(alive(replicas[0]), 'it waits for etcd instead of exiting into a crash loop');
    assert.match(replicas[0].stderr.join(''), /store not ready: store unavailable: etcd unreachable/, 'the error is logged');
    assert.is((await readyz(replicas[0])).status, 503);

    await cp.startEtcd();
    await cp.ready(replicas[0]);
    cp.startReplica(replicas[1]);
    cp.startReplica(replicas[2]);
    for (const r of replicas.slice(1)) await cp.ready(r);

    upstream = await startUpstream((_req, res) => { res.writeHead(503, { 'content-length': '4' }); res.end('down'); });
    const endpoints = replicas.map((r) => `127.0.0.1:${r.grpcPort}`);
    for (const [k, nodeId] of NODES.entries()) {
      const mine = [...endpoints.slice(k), ...endpoints.slice(0, k)];
      const plugin = await ProxyWasmPlugin.create({
        wasm: releaseFilter(),
        configuration: JSON.stringify({
          tickMs: 100, reportIntervalMs: 1000, paths: { templates: ['/api/orders/{id}'] },
          controlPlane: { cluster: CP_CLUSTER, token: tokens.proxy, timeoutMs: 2000 },
          node: { id: nodeId, workload: 'orders', namespace: 'default' },
        }),
        // Each proxy its own shared data, as each Envoy process has: the VMs of one proxy elect its stream's holder there.
        workers: WORKERS, sharedData: new SharedData(), clusters: { [CP_CLUSTER]: { address: mine[0], endpoints: mine } },
      });
      const sidecar = await startSidecarWith(plugin, {
        listener: { port: 0 }, admin: { port: 0 },
        clusters: { [CLUSTER]: { endpoints: [upstream.address] } }, routes: [{ cluster: CLUSTER }],
        router: { random: () => 0.5, sleep: () => Promise.resolve() },
      });
      proxies.push({ plugin, sidecar });
    }

    // A write through replica 1, ACKed by the proxies on replicas 2 and 3.
    const first = await write(replicas[0], 'orders', 120_000);
    const where = await convergedOn(String(first.snapshotVersion));
    const onReplica = (i: number) => [...where.values()].filter((r) => r === i).length;
    process.stderr.write(`proxy streams per replica: ${[0, 1, 2].map(onReplica).join(', ')}\n`);
    assert.ok(onReplica(1) > 0 && onReplica(2) > 0, `proxies on replicas 2 and 3 ACKed the write made through replica 1 (${[0, 1, 2].map(onReplica)})`);

    // The mesh-wide view from any one replica: each replica's totals, published in etcd under a lease.
    const meshWide = (via: Replica, replicaCount: number, version: number) => until(async () => {
      const { json } = await api(via, 'GET', '/v1/replicas');
      const rows = json.replicas as { replica: string; snapshotVersion: string; connected: number; converged: number }[];
      return rows.length === replicaCount && rows.every((r) => r.snapshotVersion === String(version)) &&
        rows.reduce((sum, r) => sum + r.connected, 0) === NODES.length && rows;
    }, `GET /v1/replicas to show ${replicaCount} replicas holding every proxy`, 15_000);
    const view = await meshWide(replicas[2], 3, first.snapshotVersion);
    assert.equal(view.map((r) => r.replica.split(':').pop()).sort(), replicas.map((r) => String(r.grpcPort)).sort());
    // The same view over gRPC (Admin.ListReplicas): the answer GET /v1/replicas gives, field for field (summaries are
    // republished every second, so the two are read until both fall within one publication).
    const adminClient = new (meshlensGrpc().Admin)(`127.0.0.1:${replicas[0].grpcPort}`, grpc.credentials.createInsecure());
    try {
      const listReplicas = () => new Promise<any>((resolve, reject) =>
        (adminClient as any).ListReplicas({}, bearer(admin), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
      const [overGrpc, overHttp] = await until(async () => {
        const both = [await listReplicas(), (await api(replicas[0], 'GET', '/v1/replicas')).json];
        const grpcRows = both[0].replicas.map((r: any) => ({ ...r, updatedAtUnixMs: Number(r.updatedAtUnixMs), startedAtUnixMs: Number(r.startedAtUnixMs) }));
        return JSON.stringify(grpcRows) === JSON.stringify(both[1].replicas) && [grpcRows, both[1].replicas];
      }, 'Admin.ListReplicas and GET /v1/replicas to give the same answer', 15_000);
      assert.equal(overGrpc, overHttp);
      assert.is(overGrpc.length, 3);
      const unauthenticated = await new Promise<grpc.ServiceError>((resolve) => (adminClient as any).ListReplicas({}, new grpc.Metadata(), (error: grpc.ServiceError) => resolve(error)));
      assert.is(unauthenticated.code, grpc.status.UNAUTHENTICATED);
    } finally {
      adminClient.close();
    }

    // kill -9 replica 2: its proxy reconnects to replica 1 or 3 and ACKs the same snapshot there.
    await cp.kill(replicas[1]);
    const movedProxy = [...where].filter(([, r]) => r === 1).map(([key]) => NODES.indexOf(key.split('/')[0]))[0];
    const after = await convergedOn(String(first.snapshotVersion));
    assert.not.ok([...after.values()].includes(1), 'no proxy is counted on the dead replica');
    // Its summary lapses with its lease (5 s): the view lists the two live replicas holding all three proxies.
    await meshWide(replicas[0], 2, first.snapshotVersion);
    // Still enforced on the proxy that moved: the policy's breaker (minRequests 4) opens its acme scope after 4 failures.
    const statuses: string[] = [];
    for (let i = 0; i < MIN_REQUESTS + 3 && !statuses.includes('open'); i++) {
      const response = await request(proxies[movedProxy].sidecar.listenerPort, '/api/orders/7', { host: 'orders', 'x-tenant-id': 'acme' });
      statuses.push(response.headers['x-meshlens-breaker'] === 'open' ? 'open' : String(response.status));
      await sleep(250);                 // a tick merges each worker's outcomes into the shared breaker
    }
    assert.equal(statuses.slice(0, MIN_REQUESTS), Array(MIN_REQUESTS).fill('503'), 'the first 4 reach the failing upstream');
    assert.ok(statuses.includes('open'), `the breaker of the policy in force opened: ${statuses.join(' ')}`);

    // kill -9 one etcd member: writes through the remaining replicas go on, and are pushed to every proxy.
    etcd.kill(0);
    await write(replicas[0], 'orders', 90_000);
    await write(replicas[2], 'payments', 60_000);
    await write(replicas[0], 'checkout', 30_000);
    const last = await write(replicas[2], 'payments', 45_000);
    await convergedOn(String(last.snapshotVersion));

    // Optimistic concurrency across replicas: a write expecting a version another replica already replaced is
    // refused (409) and stores nothing; writes to different policies racing through two replicas both commit, each
    // with its own snapshot version.
    const stale = await api(replicas[2], 'PUT', '/v1/policies/orders', { expectedVersion: 1, policy: { target: { cluster: CLUSTER } } });
    assert.is(stale.status, 409);
    assert.match(stale.json.message, /^stale write: policy orders is at version 2, the request expected version 1$/);
    const raced = await Promise.all([write(replicas[0], 'race-a', 1000), write(replicas[2], 'race-b', 2000)]);
    assert.equal(raced.map((r) => r.snapshotVersion).sort(), [6, 7]);
    const final = await write(replicas[0], 'orders', 15_000);
    await convergedOn(String(final.snapshotVersion));

    // Replica 2 back on the same store; every acknowledged write read back from all three.
    cp.startReplica(replicas[1]);
    await cp.ready(replicas[1]);
    for (const r of replicas) {
      const listed = await api(r, 'GET', '/v1/policies');
      assert.is(listed.json.snapshotVersion, final.snapshotVersion, `replica ${r.index + 1} serves the last snapshot`);
      assert.equal(listed.json.policies.map((p: any) => p.id).sort(), [...acknowledged.keys()].sort());
      for (const [id, expected] of acknowledged) {
        const { json } = await api(r, 'GET', `/v1/policies/${id}`);
        assert.equal([json.version, json.policy.breaker.openMs], [expected.version, expected.openMs], `${id} on replica ${r.index + 1}`);
        const history = (await api(r, 'GET', `/v1/policies/${id}/history`)).json.entries;
        assert.equal(history.map((e: any) => e.version), Array.from({ length: expected.version }, (_, k) => expected.version - k), `${id} history on replica ${r.index + 1}`);
      }
    }
    // Snapshot versions counted once per change across replicas: 8 acknowledged writes, 8 versions.
    assert.is(last.snapshotVersion, 5);
    assert.is(final.snapshotVersion, 8);
  } finally {
    for (const p of proxies) { await p.sidecar.close().catch(() => {}); await p.plugin.close().catch(() => {}); }
    await upstream?.close();
    await cp.stop();
  }
});

needs(etcdMissing(), test)(`the etcd store keeps ${HISTORY_PER_POLICY} changes per policy and versions across delete and re-create`, async () => {
  const etcd = await etcdCluster(1);
  const store = new EtcdPolicyStore({ endpoints: etcd.endpoints });
  try {
    await etcd.start();
    const policy = (openMs: number) => ({ target: { cluster: 'orders' }, breaker: { openMs } }) as unknown as PolicyJson;
    const writes = HISTORY_PER_POLICY + 4;
    for (let v = 0; v < writes; v++) await store.set('orders', v, policy(1000 + v), 'bench');
    const history = await store.history('orders');
    assert.is(history.length, HISTORY_PER_POLICY, 'the oldest changes went with the newest');
    assert.equal([history[0].version, history[history.length - 1].version], [writes, writes - HISTORY_PER_POLICY + 1]);
    assert.match(await store.contentAt('orders', 1).then(() => 'found', (e: Error) => e.message), /^policy orders has no version 1$/);
    assert.equal(await store.contentAt('orders', writes - 1), policy(1000 + writes - 2));
    // Delete, then create again: the new policy continues from the last version (as on SQLite), history says so.
    await store.delete('orders', writes, 'bench');
    assert.match(await store.get('orders').then(() => 'found', (e: Error) => e.message), /^policy orders not found$/);
    const recreated = await store.set('orders', 0, policy(1), 'bench');
    assert.is(recreated.record!.version, writes + 1);
    assert.equal((await store.history('orders')).slice(0, 2).map((e) => e.kind), ['CREATE', 'DELETE']);
    assert.is((await store.snapshot()).version, writes + 2);
  } finally {
    await store.close();
    await etcd.stop();
  }
});

needs(etcdMissing(), test)('a replica reads each change through another as a delta and ends up with the same snapshot; concurrent writes all commit', async () => {
  const etcd = await etcdCluster(1);
  const writer = new EtcdPolicyStore({ endpoints: etcd.endpoints });
  const other = new EtcdPolicyStore({ endpoints: etcd.endpoints });
  const watcher = new EtcdPolicyStore({ endpoints: etcd.endpoints });
  try {
    await etcd.start();
    const policy = (cluster: string, openMs: number) => ({ target: { cluster }, breaker: { openMs } }) as unknown as PolicyJson;
    let seen: Snapshot | undefined;
    watcher.subscribe((snapshot) => { seen = snapshot; });
    await until(async () => watcher.snapshotReads.whole > 0, 'the watch to read its first snapshot');
    // Each change as the watching replica sees it must be exactly what a whole read of the store gives.
    const sameAsStore = async (version: number, what: string) => {
      await until(async () => (seen?.version ?? -1) >= version || undefined, `the watcher to see snapshot ${version} (${what})`, 10_000);
      assert.is(seen!.version, version, what);
      assert.equal(seen!.entries, (await writer.snapshot()).entries, what);
    };
    let v = (await writer.set('a', 0, policy('a', 1000), 'test')).snapshotVersion;
    await sameAsStore(v, 'create a');
    const before = { ...watcher.snapshotReads };
    v = (await writer.set('b', 0, policy('b', 1000), 'test')).snapshotVersion;
    await sameAsStore(v, 'create b');
    v = (await writer.set('a', 1, policy('a', 2000), 'test')).snapshotVersion;
    await sameAsStore(v, 'update a');
    v = (await writer.rollback('a', 1, 2, policy('a', 1000), 'test')).snapshotVersion;
    await sameAsStore(v, 'roll a back');
    assert.equal([watcher.snapshotReads.delta - before.delta, watcher.snapshotReads.whole - before.whole], [3, 0], 'one change at a time is read as a delta');
    v = (await writer.delete('b', 1, 'test')).snapshotVersion;
    await sameAsStore(v, 'delete b');
    assert.is(watcher.snapshotReads.whole - before.whole, 1, 'a delete is read whole');

    // 16 writers of different policies at once through two replicas: every write commits, each with its own
    // snapshot version (through one store they used to lose 20 races on seq in a row and fail "store busy").
    const results = await Promise.all(Array.from({ length: 16 }, (_, k) => (k % 2 ? other : writer).set(`c-${k}`, 0, policy(`c-${k}`, 1000), 'test')));
    const versions = results.map((r) => r.snapshotVersion).sort((x, y) => x - y);
    assert.equal(versions, Array.from({ length: 16 }, (_, k) => v + 1 + k));
    await sameAsStore(v + 16, 'after the concurrent writes');
  } finally {
    await Promise.all([writer.close(), other.close(), watcher.close()]);
    await etcd.stop();
  }
});

needs(etcdMissing() ?? opensslMissing(), test)('TLS to etcd: a replica with the CA and a client certificate serves; without the certificate it is not ready', async () => {
  const cp = await etcdReplicas({ name: 'etcd-tls', replicas: 2, etcdTls: true });
  const pki = (name: string) => join(cp.dir, name);
  const [withCert, withoutCert] = cp.replicas as [Replica, Replica];
  const store = new EtcdPolicyStore({ endpoints: cp.etcd.endpoints, tls: { caFile: pki('ca.crt'), certFile: pki('client.crt'), keyFile: pki('client.key') } });
  try {
    await cp.startEtcd();
    cp.startReplica(withCert, '--etcd-ca', pki('ca.crt'), '--etcd-cert', pki('client.crt'), '--etcd-key', pki('client.key'));
    cp.startReplica(withoutCert, '--etcd-ca', pki('ca.crt'));
    await cp.ready(withCert);
    const written = await cp.api(withCert, 'PUT', '/v1/policies/orders', { expectedVersion: 0, policy: { target: { cluster: CLUSTER } } });
    assert.is(written.status, 200, JSON.stringify(written.json));
    // What it wrote is in etcd, read back over TLS by a client of our own.
    assert.equal([(await store.get('orders')).version, (await store.snapshot()).version], [1, 1]);
    // etcd refuses the handshake without a client certificate: that replica says why and serves nothing.
    const refused = await until(async () => { const r = await cp.readyz(withoutCert); return r.status === 503 && r.json.reason?.includes('etcd') && r; },
      'the replica without a client certificate to answer /readyz 503');
    assert.match(refused.json.reason, /^store not ready: store unavailable: etcd unreachable at 127\.0\.0\.1:\d+/);
  } finally {
    await store.close();
    await cp.stop();
  }
});

test('serve refuses bad store flags with the rule, before starting anything', async () => {
  ensureCliBuilt();
  for (const [args, message] of [
    [['--store', 'mysql'], 'invalid flag: --store must be sqlite or etcd'],
    [['--store', 'etcd'], 'invalid flag: --etcd-endpoints must be given with --store etcd'],
    [['--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379'], 'invalid flag: --etcd-endpoints must be 1 to 16 comma-separated host:port endpoints'],
    [['--store', 'etcd', '--etcd-endpoints', '127.0.0.1:2379', '--etcd-prefix', 'meshlens'], 'invalid flag: --etcd-prefix must be a path starting and ending with /'],
    [['--etcd-endpoints', '127.0.0.1:2379'], 'invalid flag: --etcd-endpoints, --etcd-prefix and --etcd-ca/--etcd-cert/--etcd-key must come with --store etcd'],
    [['--etcd-ca', '/etc/ssl/certs/ca-certificates.crt'], 'invalid flag: --etcd-endpoints, --etcd-prefix and --etcd-ca/--etcd-cert/--etcd-key must come with --store etcd'],
    [['--store', 'etcd', '--etcd-endpoints', '127.0.0.1:2379', '--etcd-cert', 'client.crt'], 'invalid flag: --etcd-cert and --etcd-key must be given together'],
  ] as const) {
    const result = await runCli(['serve', ...args, '--data-dir', join(tmpdir(), 'meshlens-never-created')]);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.ok(result.stderr.includes(message), `${args.join(' ')}: ${result.stderr}`);
  }
});

test.run();
