// The network-aware breaker end to end: the real control plane's correlator judges an endpoint network-suspect from
// filter and kernel reports sent through its real gRPC ingestion APIs (a lossy endpoint B: retransmits depart from
// their baseline while its latency tail rises), pushes the suspect set to the release filter running in the Node
// sidecar, and every VM ACKs its version. Then, against real upstreams on 127.0.0.1: failures served by B do not
// open a network-aware breaker and are reported under their own cause; the same failures open it with the option
// off; a failing endpoint that is not suspect (C) still opens it with the option on; and a request that fails on B
// is retried onto the other host of its cluster (the router's previous_hosts predicate).
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { messageType } from '../../control-plane/src/protos.ts';
import { releaseFilter } from '../host/support.ts';
import { rawClient, startTestPlane, unaryRaw, type TestPlane } from '../control-plane/helpers.ts';
import { ObservedPlugin, request, startUpstream, type ScriptedUpstream } from './support.ts';

const CP_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~10.0.0.5~orders-1.default~default.svc.cluster.local';
const LOSSY_ON = 'outbound|8080||lossy-on.default.svc.cluster.local';
const LOSSY_OFF = 'outbound|8080||lossy-off.default.svc.cluster.local';
const BROKEN_ON = 'outbound|8080||broken-on.default.svc.cluster.local';
const RETRIED = 'outbound|8080||retried.default.svc.cluster.local';
const TICK_MS = 100;
const STREAMS = 1;   // main + 2 workers hold one stream and one rollout row for the proxy
const reportType = messageType('TelemetryReport');
const kernelType = messageType('KernelReport');

interface World {
  plane: TestPlane;
  client: grpc.Client;
  clock: ManualClock;
  plugin: ObservedPlugin;
  sidecar: SidecarWith<ObservedPlugin>;
  b: ScriptedUpstream;      // the lossy endpoint (suspect), answering 503
  c: ScriptedUpstream;      // a failing application, not suspect, answering 503
  d: ScriptedUpstream;      // healthy
}

const test = suite<{ world: World }>('network-aware breaker');

async function tickUntil(world: World, condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    world.clock.advance(TICK_MS);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Twelve report windows of a client proxy ("client-1", in its own network namespace) calling three endpoints of one
 * cluster: from window 6 the connection to `lossy` retransmits 4 % of its segments and 6 % of its calls take 220 ms
 * (network-suspect), the one to 10.0.2.2 fails 20 % (app-failing). The same shape as the correlation API test.
 */
async function feedCorrelator(plane: TestPlane, client: grpc.Client, lossy: string): Promise<void> {
  const endpoints = ['10.0.0.2:8080', lossy, '10.0.2.2:8080'];
  const t0 = Math.floor(plane.clock.now / 1000) * 1000;
  for (let w = 0; w < 12; w++) {
    const start = t0 + w * 1000;
    const faulty = w >= 6;
    const connections = endpoints.map((remote, i) => {
      const slow = faulty && i === 1;
      const errors = faulty && i === 2 ? 20 : 0;
      return {
        localAddress: `10.0.9.1:${40000 + i}`, remoteAddress: remote, cluster: 'outbound|8080||orders.shop.svc.cluster.local',
        counters: { requests: 100, errors, durationMsSum: slow ? 94 * 2 + 6 * 220 : 200, durationBuckets: slow ? [0, 0, 94, 0, 0, 0, 0, 6] : [0, 0, 100] },
        routes: [{ pathTemplate: '/orders/{id}', tenant: 'acme', requests: 100, errors }],
      };
    });
    const report = reportType.encode(reportType.fromObject({ node: { id: 'client-1' }, windowStartUnixMs: start, windowEndUnixMs: start + 1000, connections })).finish();
    assert.is((await unaryRaw(client, '/meshlens.v1.Telemetry/Report', report, plane.proxyToken)).error, null);
    const flows = endpoints.map((remote, i) => ({
      netns: 4026532100, family: 'ADDRESS_FAMILY_IPV4', localAddress: '10.0.9.1', localPort: 40000 + i,
      remoteAddress: remote.slice(0, remote.lastIndexOf(':')), remotePort: Number(remote.slice(remote.lastIndexOf(':') + 1)),
      retransSegs: faulty && i === 1 ? 8 : 0, segsOut: 200, srttUs: 300, direction: 'FLOW_DIRECTION_OUTBOUND',
    }));
    const kernel = kernelType.encode(kernelType.fromObject({
      node: { nodeName: 'node-a', agentId: 'agent-1' }, sequence: w + 1, intervalStartUnixMs: start + 200, intervalEndUnixMs: start + 1200, flows,
      netnsIdentities: [{ netns: 4026532100, proxyId: 'client-1', source: 'IDENTITY_SOURCE_ENV_NODE_ID' }],
    })).finish();
    assert.is((await unaryRaw(client, '/meshlens.v1.KernelTelemetry/Report', kernel, plane.proxyToken)).error, null);
    plane.clock.now = start + 1500;
    plane.correlator.evaluate(plane.clock.now);
  }
}

function policy(cluster: string, networkAware: boolean, retries = 0) {
  const p = defaultPolicy();
  p.target.cluster = cluster;
  Object.assign(p.breaker, { minRequests: 5, errorRateThreshold: 0.5, openMs: 60_000, networkAware });
  for (const row of Object.values(p.retry.on)) row.maxRetries = 0;
  p.retry.on['5xx'].maxRetries = retries;
  p.retry.enabled = retries > 0;
  return p;
}

const status = (upstreamStatus: number) => startUpstream((_req, res) => {
  res.writeHead(upstreamStatus, { 'content-length': '2' });
  res.end('ok');
});

test.before(async (ctx) => {
  const plane = await startTestPlane();
  const client = rawClient(plane.grpcPort);
  const [b, c, d] = [await status(503), await status(503), await status(200)];
  const clock = new ManualClock(1_900_000_000_000);
  const inner = await ProxyWasmPlugin.create({
    wasm: releaseFilter(),
    configuration: JSON.stringify({
      tickMs: TICK_MS, reportIntervalMs: 1000,
      controlPlane: { cluster: CP_CLUSTER, token: plane.proxyToken, timeoutMs: 2000 },
      node: { id: NODE_ID, workload: 'orders', namespace: 'default' },
    }),
    workers: 2, clock, clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${plane.grpcPort}` } },
  });
  const plugin = new ObservedPlugin(inner);
  const clusters = { [LOSSY_ON]: [b], [LOSSY_OFF]: [b], [BROKEN_ON]: [c], [RETRIED]: [b, d] };
  const sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 }, admin: { port: 0 },
    clusters: Object.fromEntries(Object.entries(clusters).map(([name, ups]) => [name, { endpoints: ups.map((u) => u.address) }])),
    routes: Object.keys(clusters).map((name) => ({ authority: name.split('||')[1]!.split('.')[0]!, cluster: name })),
    router: { random: () => 0.5, sleep: () => Promise.resolve() },
  });
  const world: World = { plane, client, clock, plugin, sidecar, b, c, d };
  ctx.world = world;
  await plane.operations.set('test', 'lossy-on', 0, policy(LOSSY_ON, true));
  await plane.operations.set('test', 'lossy-off', 0, policy(LOSSY_OFF, false));
  await plane.operations.set('test', 'broken-on', 0, policy(BROKEN_ON, true));
  await plane.operations.set('test', 'retried', 0, policy(RETRIED, true, 1));
  await feedCorrelator(plane, client, b.address);
});

test.after(async ({ world }) => {
  await world.sidecar.close();
  await world.plugin.close();
  world.client.close();
  for (const u of [world.b, world.c, world.d]) await u.close();
  await world.plane.stop();
});

test('the correlator marks B network-suspect and every VM ACKs the pushed suspect set', async ({ world }) => {
  const verdicts = Object.fromEntries(world.plane.correlator.endpoints().map((e) => [e.endpoint, e.verdict]));
  assert.is(verdicts[world.b.address], 'network-suspect');
  assert.is(verdicts['10.0.2.2:8080'], 'app-failing', 'an application failure is not pushed');
  const target = world.plane.operations.rolloutStatus();
  assert.ok(target.suspectsVersion !== '', 'a suspect set exists');
  await tickUntil(world, () => {
    const mine = world.plane.operations.rolloutStatus().nodes.filter((n) => n.nodeId === NODE_ID && n.connected);
    return mine.length === STREAMS && mine.every((n) => n.ackedVersion === target.snapshotVersion && n.suspectsVersion === target.suspectsVersion);
  }, 'every VM to ACK the policies and the suspect set');
});

const get = (world: World, authority: string) => request(world.sidecar.listenerPort, '/orders/1', { host: authority, 'x-tenant-id': 'acme' });

/** Sends `n` requests to `authority`, a tick between them (workers merge their outcomes on tick); returns the statuses and breaker replies. */
async function send(world: World, authority: string, n: number) {
  const out = { upstream503: 0, breakerOpen: 0, ok: 0 };
  for (let i = 0; i < n; i++) {
    const response = await get(world, authority);
    if (response.headers['x-meshlens-breaker'] === 'open') out.breakerOpen++;
    else if (response.status === 503) out.upstream503++;
    else if (response.status === 200) out.ok++;
    world.clock.advance(TICK_MS);
  }
  return out;
}

test('with the option on, failures served by the suspect endpoint do not open the breaker and are counted under their cause', async ({ world }) => {
  assert.equal(await send(world, 'lossy-on', 12), { upstream503: 12, breakerOpen: 0, ok: 0 });
  await tickUntil(world, () => world.plane.telemetry.routes(0, Infinity)
    .filter((r) => r.cluster === LOSSY_ON).flatMap((r) => r.slots).reduce((a, s) => a + (s.networkSuspectFailures ?? 0), 0) === 12,
  'the 12 excused failures in the filter telemetry');
  const slots = world.plane.telemetry.routes(0, Infinity).filter((r) => r.cluster === LOSSY_ON).flatMap((r) => r.slots);
  assert.is(slots.reduce((a, s) => a + s.errors, 0), 12, 'still errors as the client saw them');
});

test('with the option off, the same failures from the same endpoint open the breaker', async ({ world }) => {
  const result = await send(world, 'lossy-off', 8);
  assert.is(result.upstream503, 5, 'minRequests 5 at 100 % errors trips');
  assert.is(result.breakerOpen, 3);
});

test('with the option on, a failing endpoint that is not suspect still opens the breaker', async ({ world }) => {
  const result = await send(world, 'broken-on', 8);
  assert.is(result.upstream503, 5);
  assert.is(result.breakerOpen, 3);
});

test('a request that fails on the suspect endpoint is retried on the other host and succeeds', async ({ world }) => {
  const bBefore = world.b.seen.length;
  const dBefore = world.d.seen.length;
  const result = await send(world, 'retried', 6);
  assert.equal(result, { upstream503: 0, breakerOpen: 0, ok: 6 });
  const onB = world.b.seen.length - bBefore;
  assert.ok(onB >= 1, 'round robin sent some first attempts to B');
  assert.is(world.d.seen.length - dBefore, 6, 'every request ended on D: B\'s failures were retried there, never on B again');
});

test.run();
