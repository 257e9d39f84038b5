// Telemetry shared by control-plane replicas (telemetry-peers.ts), all real: one etcd member (Debian's etcd-server),
// three `meshlens serve --store etcd` processes on one token file, reports sent over real gRPC. A client's filter
// reports go to replica 1 and the node agent's kernel reports of the same connections to replica 2, as a Service
// may spread them; the test proves:
// - replica 3, which received nothing from a proxy and starts five windows late, joins them: the same per-endpoint
//   verdicts, history, baselines, joined flows and route attribution as replicas 1 and 2 (HTTP JSON and gRPC Admin),
//   the same breaker view, the same network-suspect set version (the first windows reach it as its peers' replay, the
//   verdicts of those its peers had judged as the longest-running peer's correlation state);
// - every report is ingested exactly once per replica and forwarded once per peer: a forwarded report is not
//   forwarded again, a kernel report repeated by its agent is not forwarded (counts exact);
// - kill -9 of replica 2: the report forwarded to it is counted as failed, its lease lapses and it stops being a
//   peer (gauge 2 → 1), and forwarding to replica 3 goes on, every report counted.
// And, in process, the bound: a peer that never answers holds at most maxInFlight calls and maxQueueBytes of reports,
// the oldest dropped and counted, and the proxy's call is never held.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateTokenFile } from '../../control-plane/src/auth.ts';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { TelemetryPeers, FORWARDED_HEADER, ENTRY_OVERHEAD_BYTES } from '../../control-plane/src/telemetry-peers.ts';
import { NetworkSuspects, suspectSetVersion } from '../../control-plane/src/network-suspects.ts';
import type { EndpointStatus } from '../../control-plane/src/correlator.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { makePki, opensslMissing } from '../support/pki.ts';
import { etcdCluster, etcdMissing } from '../support/etcd.ts';
import { needs } from '../support/skip.ts';
import { ensureCliBuilt, runCli } from './cli-support.ts';
import { CLUSTER, ENDPOINTS, filterReport, KERNEL, kernelReport, ONSET, REPORT, WINDOWS } from './abc-reports.ts';
import { bearer, http, rawClient, unaryRaw } from './helpers.ts';
import { etcdReplicas, until, withReplicas, type Replica } from './replica-support.ts';

const test = suite('telemetry shared by control-plane replicas');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A counter or gauge sample from a replica's /metrics (0 when the series is absent). */
async function sample(r: Replica, name: string, labels = ''): Promise<number> {
  const text = (await http(r.httpPort, 'GET', '/metrics')).text;
  const escaped = `${name}${labels ? `{${labels}}` : ''}`.replace(/[{}|.*+?()[\]\\^$]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

needs(etcdMissing(), test)('a filter report on replica 1 and a kernel report on replica 2 are joined on replica 3; forwarding counts exact across a kill -9', async () => {
  const cp = await etcdReplicas({ name: 'peers', replicas: 3, advertise: true });
  const { tokens, replicas } = cp;
  const clients: grpc.Client[] = [];
  const api = (r: Replica, path: string) => cp.api(r, 'GET', path);
  await withReplicas(cp, clients, async () => {
    await cp.startEtcd();
    const [one, two, three] = replicas as [Replica, Replica, Replica];
    cp.startReplica(one);
    cp.startReplica(two);
    // Each replica finds the others in the etcd registry (published every second under a lease).
    for (const r of [one, two]) await until(async () => (await sample(r, 'meshlens_cp_peers')) === 1, `replica ${r.index + 1} to see its peer`);
    const toOne = rawClient(one.grpcPort), toTwo = rawClient(two.grpcPort);
    clients.push(toOne, toTwo);

    // Windows in real time (the replicas run on the wall clock): each window's reports are sent 1.5 s before it
    // starts, so every replica holds both halves well before the window can be judged (at its end at the earliest).
    // Replica 3 starts after the first five windows' reports went to replicas 1 and 2: it holds them only as its
    // peers' catch-up replay (telemetry-peers.ts), and judges nothing before it has them (PEER_CATCH_UP_MS).
    const t0 = Math.ceil(Date.now() / 1000) * 1000 + 2000;
    for (let w = 0; w < WINDOWS; w++) {
      const start = t0 + w * 1000;
      await sleep(Math.max(0, start - 1500 - Date.now()));
      assert.is((await unaryRaw(toOne, REPORT, filterReport(start, w, { breakers: true }), tokens.proxy)).error, null);
      assert.is((await unaryRaw(toTwo, KERNEL, kernelReport(start, w), tokens.proxy)).error, null);
      if (w === 4) cp.startReplica(three);
    }
    for (const r of replicas) await until(async () => (await sample(r, 'meshlens_cp_peers')) === 2, `replica ${r.index + 1} to see 2 peers`);
    // An agent's retried delivery of an interval is accepted (ACKed) but neither counted nor forwarded again.
    const repeated = await unaryRaw(toTwo, KERNEL, kernelReport(t0 + (WINDOWS - 1) * 1000, WINDOWS - 1), tokens.proxy);
    assert.is(repeated.error, null);
    const lastEnd = t0 + WINDOWS * 1000;
    const judged = async (r: Replica) => {
      const { json } = await api(r, '/v1/endpoints');
      return json.endpoints.length === 3 && json.endpoints.every((e: any) => e.windowEndUnixMs === lastEnd) && json;
    };
    const views = [];
    for (const r of replicas) views.push(await until(() => judged(r), `replica ${r.index + 1} to judge the last window`, 15_000));

    // The same verdicts, signals and history everywhere; replica 3 saw neither report from a proxy.
    const shape = (view: any) => view.endpoints.map((e: any) => ({ endpoint: e.endpoint, verdict: e.verdict, signals: e.signals, baseline: e.baseline,
      history: e.history.map((h: any) => [h.from, h.to, h.windowEndUnixMs, h.reason]) }));
    const byEndpoint = Object.fromEntries(views[2].endpoints.map((e: any) => [e.endpoint, e]));
    assert.equal(Object.keys(byEndpoint), ['10.0.0.2:8080', '10.0.1.2:8080', '10.0.2.2:8080']);
    assert.equal(ENDPOINTS.map((ip) => byEndpoint[`${ip}:8080`].verdict), ['healthy', 'network-suspect', 'app-failing']);
    assert.is(byEndpoint['10.0.1.2:8080'].signals.retransRatio, 0.04, 'B: 8 of 200 segments, the kernel report that went to replica 2');
    assert.equal(byEndpoint['10.0.1.2:8080'].history.map((h: any) => [h.to, h.windowEndUnixMs]), [['healthy', t0 + 1000], ['network-suspect', t0 + (ONSET + 1) * 1000]]);
    assert.equal(shape(views[2]), shape(views[0]), 'replica 3 = replica 1');
    assert.equal(shape(views[2]), shape(views[1]), 'replica 3 = replica 2');

    // Joined flows and their attribution on replica 3, over HTTP and the gRPC Admin API.
    const correlations = (await api(three, '/v1/correlations')).json;
    const newestB = correlations.correlations.find((c: any) => c.remoteAddress === '10.0.1.2:8080');
    assert.equal([newestB.proxyId, newestB.netns, newestB.retransSegs, newestB.requests], ['client-1', 4026532100, 8, 100]);
    assert.equal(correlations.routes, (await api(one, '/v1/correlations')).json.routes, 'route attribution as on replica 1');
    const Admin = meshlensGrpc().Admin;
    const adminThree = new Admin(`127.0.0.1:${three.grpcPort}`, grpc.credentials.createInsecure());
    clients.push(adminThree);
    const call = (method: string) => new Promise<any>((resolve, reject) =>
      (adminThree as any)[method]({}, bearer(cp.admin), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
    const grpcB = (await call('ListEndpoints')).endpoints.find((e: any) => e.endpoint === '10.0.1.2:8080');
    assert.is(grpcB.verdict, 'ENDPOINT_VERDICT_NETWORK_SUSPECT');
    const grpcCorrelation = (await call('ListCorrelations')).correlations.find((c: any) => c.remoteAddress === '10.0.1.2:8080');
    assert.equal([grpcCorrelation.proxyId, grpcCorrelation.retransSegs], ['client-1', '8']);

    // Breaker states reported to replica 1 only, seen from replica 3 as from replica 1.
    const breakersThree = (await api(three, '/v1/breakers')).json;
    assert.equal(breakersThree.breakers.map((b: any) => [b.cluster, b.tenant, b.state, b.nodes.Open]), [[CLUSTER, 'acme', 'Open', 1]]);
    assert.equal(breakersThree, (await api(one, '/v1/breakers')).json);

    // One network-suspect set (B) and one version of it on every replica: a filter moving between them is not resent it.
    const suspectVersions = await Promise.all(replicas.map(async (r) => (await api(r, '/v1/rollout')).json.suspectsVersion));
    assert.equal(suspectVersions, Array(3).fill(suspectSetVersion(['10.0.1.2:8080'])));

    // Counts: each report ingested once per replica, forwarded once per peer by the replica it was sent to only.
    const counts = async () => Promise.all(replicas.map(async (r) => [
      await sample(r, 'meshlens_cp_reports_received_total', 'source="filter"'), await sample(r, 'meshlens_cp_reports_received_total', 'source="kernel"'),
      await sample(r, 'meshlens_cp_peer_forwarded_total', 'source="filter"'), await sample(r, 'meshlens_cp_peer_forwarded_total', 'source="kernel"'),
      await sample(r, 'meshlens_cp_peer_reports_received_total', 'source="filter"'), await sample(r, 'meshlens_cp_peer_reports_received_total', 'source="kernel"'),
    ]));
    const W = WINDOWS;
    const expected = [
      [W, W, 2 * W, 0, 0, W],        // replica 1: filter reports from the proxy, forwarded to 2 and 3
      [W, W, 0, 2 * W, W, 0],        // replica 2: kernel reports from the agent (the repeat not counted), forwarded
      [W, W, 0, 0, W, W],            // replica 3: everything from peers, nothing forwarded again
    ];
    // A forward is counted when the peer's answer is back, which can be after the peer judged the window it carried.
    await until(async () => JSON.stringify(await counts()) === JSON.stringify(expected), 'forwarding counts to settle', 10_000).catch(() => {});
    assert.equal(await counts(), expected);
    // Replica 3 took the longest-running peer's correlation state as it started (Admin.GetCorrelatorState): the windows
    // that peer had judged by then count as judged on replica 3, which judged only the later ones itself.
    const judgedWindows = await Promise.all(replicas.map((r) => sample(r, 'meshlens_cp_correlation_windows_total')));
    assert.ok(judgedWindows[2]! < judgedWindows[0]! && judgedWindows[0] === judgedWindows[1], `windows judged: ${judgedWindows}`);
    const state = JSON.parse((await api(one, '/v1/correlator-state')).json.stateJson);
    assert.equal([state.format, state.lastEvaluated, state.endpoints.length], [1, lastEnd / 1000 - 1, 3], 'the state over HTTP too');
    // Replica 3 had the first windows as its peers' replay: all of them kept, so everything it holds came once.
    const replayed = await Promise.all([one, two].map(async (r) => [await sample(r, 'meshlens_cp_peer_replayed_total', 'source="filter"'),
      await sample(r, 'meshlens_cp_peer_replayed_total', 'source="kernel"')]));
    assert.ok(replayed[0]![0]! >= 5 && replayed[0]![1] === 0 && replayed[1]![0] === 0 && replayed[1]![1]! >= 5, `replayed ${JSON.stringify(replayed)}`);
    for (const r of replicas) {
      for (const reason of ['queue_full', 'peer_gone', 'send_failed']) {
        assert.is(await sample(r, 'meshlens_cp_peer_forward_dropped_total', `reason="${reason}"`), 0, `replica ${r.index + 1} ${reason}`);
      }
    }

    // kill -9 replica 2. Its registry entry outlives it by up to its lease (5 s): a report meanwhile is forwarded to
    // replica 3 and fails to replica 2 (counted, not retried). Then replica 2 stops being a peer.
    await cp.kill(two);
    const later = Math.ceil(Date.now() / 1000) * 1000 + 20_000;
    assert.is((await unaryRaw(toOne, REPORT, filterReport(later, 0, { breakers: true }), tokens.proxy)).error, null);
    await until(async () => (await sample(one, 'meshlens_cp_peer_forward_dropped_total', 'reason="send_failed"')) === 1, 'the forward to the dead replica to fail');
    await until(async () => (await sample(one, 'meshlens_cp_peers')) === 1, 'replica 1 to drop the dead peer', 15_000);
    await until(async () => (await sample(three, 'meshlens_cp_peers')) === 1, 'replica 3 to drop the dead peer', 15_000);
    const K = 5;
    for (let k = 1; k <= K; k++) assert.is((await unaryRaw(toOne, REPORT, filterReport(later + k * 1000, k, { breakers: true }), tokens.proxy)).error, null);
    await until(async () => (await sample(three, 'meshlens_cp_peer_reports_received_total', 'source="filter"')) === W + 1 + K, 'replica 3 to receive every later report');
    // Counted on replica 1 when replica 3's answer is back, which may be just after replica 3 counted the report.
    await until(async () => (await sample(one, 'meshlens_cp_peer_forwarded_total', 'source="filter"')) === 2 * W + 1 + K, 'replica 1 to count its forwards', 10_000).catch(() => {});
    assert.is(await sample(one, 'meshlens_cp_peer_forwarded_total', 'source="filter"'), 2 * W + 1 + K, 'one to replica 3 per later report, none to the dead one');
    assert.is(await sample(one, 'meshlens_cp_peer_forward_dropped_total', 'reason="send_failed"'), 1);
    assert.is(await sample(three, 'meshlens_cp_reports_received_total', 'source="filter"'), W + 1 + K);
  });
});

needs(etcdMissing() ?? opensslMissing(), test)('with mTLS, replicas forward to each other over mTLS with their own certificate', async () => {
  // In process: two replicas on one etcd serving gRPC with a CA-signed certificate and client certificates required.
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-peers-tls-'));
  makePki(dir);
  const file = (name: string) => join(dir, name);
  const tokens = generateTokenFile();
  writeFileSync(file('tokens.json'), JSON.stringify(tokens), { mode: 0o600 });
  const etcd = await etcdCluster(1);
  const planes: ControlPlane[] = [];
  const received = async (plane: ControlPlane) =>
    (await plane.metrics.registry.getSingleMetric('meshlens_cp_peer_reports_received_total')!.get()).values.find((v) => v.labels.source === 'filter')?.value ?? 0;
  try {
    await etcd.start();
    for (let i = 0; i < 2; i++) {
      planes.push(await startControlPlane({
        store: { kind: 'etcd', endpoints: etcd.endpoints }, dataDir: join(dir, `replica-${i}`), tokenFile: file('tokens.json'),
        grpcHost: '127.0.0.1', httpHost: '127.0.0.1', grpcPort: 0, httpPort: 0, logger: silentLogger, registry: new Registry(), processMetrics: false,
        tls: { certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt') },
      }));
    }
    const [first, second] = planes as [ControlPlane, ControlPlane];
    await until(async () => (await first.metrics.registry.getSingleMetric('meshlens_cp_peers')!.get()).values[0]?.value === 1, 'replica 1 to see its peer');
    const client = new grpc.Client(`127.0.0.1:${first.grpcPort}`,
      grpc.credentials.createSsl(readFileSync(file('ca.crt')), readFileSync(file('client.key')), readFileSync(file('client.crt'))));
    try {
      const start = Math.floor(Date.now() / 1000) * 1000;
      assert.is((await unaryRaw(client, REPORT, filterReport(start, ONSET, { breakers: true }), tokens.proxy)).error, null);
    } finally {
      client.close();
    }
    await until(async () => (await received(second)) === 1 || undefined, 'replica 2 to receive the forwarded report over mTLS', 15_000);
    assert.ok([...second.telemetry.connections()].some((c) => c.remoteAddress === '10.0.1.2:8080'), 'and to record it');
  } finally {
    for (const plane of planes) await plane.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** What one 1,000-byte report with the test's proxy token counts against the byte bounds. */
const ENTRY = 1000 + 'Bearer proxy-token'.length + ENTRY_OVERHEAD_BYTES;

test('the per-peer queue is bounded: a peer that never answers holds maxInFlight calls and maxQueueBytes, oldest dropped', async () => {
  // A TCP peer that accepts and never speaks HTTP/2: forwarded calls hang until their deadline (far away here).
  const sockets = new Set<Socket>();
  const blackHole = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}); });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(blackHole.address() as { port: number }).port}`;
  const registry = new Registry();
  const peers = new TelemetryPeers({
    self: '127.0.0.1:1', credentials: grpc.credentials.createInsecure(), registry, logger: silentLogger,
    maxQueueBytes: 10 * ENTRY, maxInFlight: 2, deadlineMs: 600_000,
  });
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  try {
    peers.setPeers([{ address }, { address: '127.0.0.1:1' }]);
    assert.equal(peers.peers(), [address], 'its own address is never a peer');
    assert.is(await value('meshlens_cp_peers'), 1);
    const metadata = bearer('proxy-token');
    const started = performance.now();
    for (let i = 0; i < 50; i++) peers.accepted('filter', Buffer.alloc(1000, i), metadata);
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs < 1000, `50 reports queued without waiting for the peer (${elapsedMs.toFixed(1)} ms)`);
    // 2 in flight, 10 reports' worth queued, the 38 oldest of the rest dropped.
    assert.is(await value('meshlens_cp_peer_forward_dropped_total', { reason: 'queue_full' }), 38);
    assert.is(await value('meshlens_cp_peer_queue_bytes'), 10 * ENTRY);
    // A forwarded report is counted as received and queued for nobody.
    const forwarded = bearer('proxy-token');
    forwarded.set(FORWARDED_HEADER, '127.0.0.1:9');
    peers.accepted('kernel', Buffer.alloc(1000), forwarded);
    assert.is(await value('meshlens_cp_peer_reports_received_total', { source: 'kernel' }), 1);
    assert.is(await value('meshlens_cp_peer_forward_dropped_total', { reason: 'queue_full' }), 38);
    // Tiny reports cannot pile up under the byte bound: each counts its token and the entry's own cost.
    const tiny = 'Bearer proxy-token'.length + ENTRY_OVERHEAD_BYTES;
    for (let i = 0; i < 1000; i++) peers.accepted('filter', new Uint8Array(0), metadata);
    const held = Math.floor((10 * ENTRY) / tiny);
    assert.is(await value('meshlens_cp_peer_queue_bytes'), held * tiny);
    // A peer gone from the registry takes its queue along, counted.
    peers.setPeers([]);
    assert.is(await value('meshlens_cp_peer_forward_dropped_total', { reason: 'peer_gone' }), held);
    assert.is(await value('meshlens_cp_peer_queue_bytes'), 0);
    assert.is(await value('meshlens_cp_peers'), 0);
  } finally {
    peers.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
  }
});

test('a joining peer is replayed what it cannot hold, once: everything kept when new, what it missed when back, what preceded a restart', async () => {
  // A real gRPC peer that records every report it is sent; the replicating side's clock is injected.
  const received: number[] = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  const report = { path: REPORT, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
  server.addService({ Report: report }, { Report: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => { received.push(call.request[0]!); done(null, Buffer.alloc(0)); } });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const address = `127.0.0.1:${port}`;
  let now = 0;
  const registry = new Registry();
  const peers = new TelemetryPeers({
    self: '127.0.0.1:1', credentials: grpc.credentials.createInsecure(), registry, logger: silentLogger,
    // Room for five 1,000-byte reports, each with its token and the entry's own cost.
    replayMs: 10_000, maxReplayBytes: 5 * ENTRY, now: () => now,
  });
  const replayed = async () => (await registry.getSingleMetric('meshlens_cp_peer_replayed_total')!.get()).values.find((v) => v.labels.source === 'filter')?.value ?? 0;
  const metadata = bearer('proxy-token');
  const accept = (id: number) => peers.accepted('filter', Buffer.alloc(1000, id), metadata);
  const delivered = (ids: number[]) => until(async () => received.length >= ids.length || undefined, `the peer to receive ${ids}`, 10_000)
    .then(() => assert.equal([...received].sort((a, b) => a - b), ids));
  try {
    // Accepted while nobody else runs: 0 and 1 fall out of the 10 s kept by the time the peer appears, 2-8 are kept
    // as far as the bytes go (the five newest, 4-8).
    accept(0); accept(1);
    now = 4_000;
    for (let id = 2; id <= 8; id++) accept(id);
    now = 12_000;
    peers.setPeers([{ address, startedAtUnixMs: 100 }]);
    await delivered([4, 5, 6, 7, 8]);
    assert.is(await replayed(), 5);
    // Known peer: forwarded, not kept for it twice.
    accept(9);
    await delivered([4, 5, 6, 7, 8, 9]);
    // Its lease lapses and it returns as the same process: it is sent only what was accepted while it was away.
    now = 13_000;
    peers.setPeers([]);
    now = 13_500;
    accept(10);
    now = 14_000;
    peers.setPeers([{ address, startedAtUnixMs: 100 }]);
    await delivered([4, 5, 6, 7, 8, 9, 10]);
    // It restarts at the same address (a new start time) at 13,800 while it is a peer: it is sent what was accepted
    // before then and is still kept (9 and 10: 7 and 8 are over 10 s old), not 11, forwarded to its address since.
    received.length = 0;
    now = 14_100;
    accept(11);
    await delivered([11]);
    now = 15_000;
    peers.setPeers([{ address, startedAtUnixMs: 13_800 }]);
    await delivered([9, 10, 11]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal([...received].sort((a, b) => a - b), [9, 10, 11], 'nothing more');
    assert.is(await replayed(), 5 + 1 + 2);

    // The bound counts each kept report's own cost too: 1,000 empty reports keep as many as 10 entries' worth.
    const tinyRegistry = new Registry();
    const tiny = new TelemetryPeers({
      self: '127.0.0.1:2', credentials: grpc.credentials.createInsecure(), registry: tinyRegistry, logger: silentLogger,
      maxReplayBytes: 10 * ('Bearer proxy-token'.length + ENTRY_OVERHEAD_BYTES), now: () => now,
    });
    try {
      for (let i = 0; i < 1000; i++) tiny.accepted('filter', new Uint8Array(0), metadata);
      tiny.setPeers([{ address, startedAtUnixMs: 1 }]);
      const tinyReplayed = (await tinyRegistry.getSingleMetric('meshlens_cp_peer_replayed_total')!.get()).values.find((v) => v.labels.source === 'filter')?.value;
      assert.is(tinyReplayed, 10);
    } finally {
      tiny.close();
    }
  } finally {
    peers.close();
    server.forceShutdown();
  }
});

test('suspect-set versions name the content: equal sets have equal versions on any replica, different sets never share one', () => {
  const endpoint = (address: string, verdict: string, retransRatio: number) =>
    ({ endpoint: address, verdict, signals: { retransRatio } }) as unknown as EndpointStatus;
  const first = new NetworkSuspects();
  const second = new NetworkSuspects();
  // Replica 1 saw B suspect first, then B and C; replica 2 (started later) only the latter: same set, same version.
  assert.ok(first.update([endpoint('10.0.1.2:8080', 'network-suspect', 0.04)]));
  const onlyB = first.current().version;
  assert.ok(first.update([endpoint('10.0.1.2:8080', 'network-suspect', 0.04), endpoint('10.0.2.2:8080', 'both', 0.09), endpoint('10.0.0.2:8080', 'healthy', 0)]));
  assert.ok(second.update([endpoint('10.0.2.2:8080', 'both', 0.09), endpoint('10.0.1.2:8080', 'network-suspect', 0.04)]));
  assert.is(second.current().version, first.current().version);
  assert.equal(second.current().addresses, ['10.0.1.2:8080', '10.0.2.2:8080']);
  assert.is.not(first.current().version, onlyB);
  // Back to B alone: its earlier version again (a filter still holding it needs nothing); emptied: a version of its own.
  assert.ok(first.update([endpoint('10.0.1.2:8080', 'network-suspect', 0.04)]));
  assert.is(first.current().version, onlyB);
  assert.not.ok(first.update([endpoint('10.0.1.2:8080', 'network-suspect', 0.05)]), 'an unchanged set is not pushed again');
  assert.ok(first.update([]));
  assert.match(first.current().version, /^[0-9a-f]{16}$/);
  assert.is.not(first.current().version, onlyB);
  assert.equal(first.current().addresses, []);
});

test('serve refuses bad peer flags with the rule, before starting anything', async () => {
  ensureCliBuilt();
  const etcd = ['--store', 'etcd', '--etcd-endpoints', '127.0.0.1:2379'];
  for (const [args, message] of [
    [['--advertise-address', '10.0.0.1:18000'], 'invalid flag: --advertise-address and --peer-authority must come with --store etcd'],
    [[...etcd, '--advertise-address', '10.0.0.1'], 'invalid flag: --advertise-address must be one host:port (port 1-65535)'],
    [[...etcd, '--advertise-address', '10.0.0.1:18000,10.0.0.2:18000'], 'invalid flag: --advertise-address must be one host:port (port 1-65535)'],
    [[...etcd, '--advertise-address', '10.0.0.1:70000'], 'invalid flag: --advertise-address must be one host:port (port 1-65535)'],
    [[...etcd, '--peer-authority', 'http://peers'], 'invalid flag: --peer-authority must be a host name, optionally with :port'],
  ] as const) {
    const result = await runCli(['serve', ...args, '--data-dir', join(tmpdir(), 'meshlens-never-created')]);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.ok(result.stderr.includes(message), `${args.join(' ')}: ${result.stderr}`);
  }
});

test.run();
