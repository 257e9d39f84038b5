// Breaker states in filter telemetry, end to end: the release filter in the Node sidecar in front of a real upstream
// that fails and recovers, reporting over real gRPC to the real control plane, read back through GET /v1/breakers,
// the gRPC Admin ListBreakers, `meshlens breakers` and the breakers section of /v1/endpoints. The filter's time is a
// ManualClock, so the Open period ends when the test says; the transitions carry those exact times.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { releaseFilter } from '../host/support.ts';
import { bearer, http, startTestPlane, type TestPlane } from '../control-plane/helpers.ts';
import { ObservedPlugin, request, startUpstream, type ScriptedUpstream } from './support.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CP_CLUSTER = 'meshlens-control-plane';
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const NODE_ID = 'sidecar~10.0.0.5~orders-1.default~default.svc.cluster.local';
const TICK_MS = 100;
const REPORT_INTERVAL_MS = 1000;
const OPEN_MS = 5000;
const T0 = 1_900_000_000_000;

interface World {
  plane: TestPlane;
  clock: ManualClock;
  plugin: ObservedPlugin;
  sidecar: SidecarWith<ObservedPlugin>;
  upstream: ScriptedUpstream;
  failing: { on: boolean };
  proxyClosed?: boolean;
}

const test = suite<{ world: World }>('breaker states reported by the release filter');

async function tickUntil(world: World, condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    world.clock.advance(TICK_MS);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const breakers = async (world: World) => (await http(world.plane.httpPort, 'GET', '/v1/breakers', { token: world.plane.adminToken })).json;
const acme = (view: any) => view.breakers.find((b: any) => b.cluster === CLUSTER && b.tenant === 'acme');
const get = (world: World) => request(world.sidecar.listenerPort, '/api/orders/7', { host: 'orders', 'x-tenant-id': 'acme' });

test.before(async (ctx) => { try { await setup(ctx); } catch (e) { console.error(e); throw e; } });
async function setup(ctx: { world: World }) {
  const plane = await startTestPlane({ now: Date.now });
  const failing = { on: true };
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(failing.on ? 503 : 200, { 'content-length': '2' });
    res.end('ok');
  });
  const clock = new ManualClock(T0);
  const inner = await ProxyWasmPlugin.create({
    wasm: releaseFilter(),
    configuration: JSON.stringify({
      tickMs: TICK_MS, reportIntervalMs: REPORT_INTERVAL_MS, paths: { templates: ['/api/orders/{id}'] },
      controlPlane: { cluster: CP_CLUSTER, token: plane.proxyToken, timeoutMs: 2000 },
      node: { id: NODE_ID, workload: 'orders', namespace: 'default' },
    }),
    workers: 2, clock, clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${plane.grpcPort}` } },
  });
  const plugin = new ObservedPlugin(inner);
  const sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { [CLUSTER]: { endpoints: [upstream.address] } },
    routes: [{ cluster: CLUSTER }],
    router: { random: () => 0.5, sleep: () => Promise.resolve() },
  });
  ctx.world = { plane, clock, plugin, sidecar, upstream, failing };
  const policy = defaultPolicy();
  policy.target.cluster = CLUSTER;
  Object.assign(policy.breaker, { minRequests: 5, errorRateThreshold: 0.5, openMs: OPEN_MS, halfOpenProbes: 2, halfOpenSuccesses: 2 });
  policy.retry.enabled = false;
  await plane.operations.set('test', 'orders', 0, policy);
  const version = plane.operations.rolloutStatus().snapshotVersion;
  await tickUntil(ctx.world, () => {
    const mine = plane.operations.rolloutStatus().nodes.filter((n) => n.nodeId === NODE_ID && n.connected);
    return mine.length === 1 && mine.every((n) => n.ackedVersion === version);
  }, 'the proxy (every VM) to ACK the orders policy');
}

test.after(async ({ world }) => {
  if (!world.proxyClosed) {
    await world.sidecar.close();
    await world.plugin.close();
  }
  await world.upstream.close();
  await world.plane.stop();
});

test('a failing upstream opens the breaker: /v1/breakers shows Open, why, and the transition', async ({ world }) => {
  // A tick after each request: workers merge their outcomes into the shared record on tick (or every 50 ms of
  // filter time), and the requests land on both workers.
  for (let i = 0; i < 5; i++) {
    assert.is((await get(world)).status, 503);
    world.clock.advance(TICK_MS);
  }
  const rejected = await get(world);
  assert.is(rejected.headers['x-meshlens-breaker'], 'open', 'the sixth request meets the Open breaker');
  const openedAt = world.clock.nowMs();
  await tickUntil(world, async () => acme(await breakers(world))?.state === 'Open', 'the Open state to be reported');
  const view = await breakers(world);
  assert.equal(acme(view), {
    cluster: CLUSTER, tenant: 'acme', state: 'Open', policyId: 'orders', nodes: { Closed: 0, Open: 1, HalfOpen: 0 },
    since: openedAt, reason: 'error ratio 1.00 (5 of 5 requests in the breaker window)',
  });
  assert.equal(view.transitions.filter((t: any) => t.tenant === 'acme'),
    [{ atUnixMs: openedAt, node: NODE_ID, cluster: CLUSTER, tenant: 'acme', from: 'Closed', to: 'Open' }]);
  assert.is((await http(world.plane.httpPort, 'GET', '/v1/breakers', { token: null })).status, 401, 'admin auth like the other reads');
  const endpoints = (await http(world.plane.httpPort, 'GET', '/v1/endpoints', { token: world.plane.adminToken })).json;
  assert.equal(endpoints.breakers, [], 'no endpoint evaluated yet (no kernel data), so no cluster of theirs to show');
});

test('after the Open period probes see HalfOpen, then recovery closes it, with each transition at its time', async ({ world }) => {
  world.failing.on = false;
  const openedAt = (await breakers(world)).breakers[0].since;
  world.clock.advance(OPEN_MS);
  const probe = await get(world);
  assert.is(probe.status, 200, 'first probe passes');
  const probedAt = world.clock.nowMs();
  await tickUntil(world, async () => acme(await breakers(world))?.state === 'HalfOpen', 'HalfOpen to be reported');
  const halfOpen = acme(await breakers(world));
  assert.is(halfOpen.reason, 'probing after: error ratio 1.00 (5 of 5 requests in the breaker window)');
  // The first tick (or probe) at or after the Open period's end moves it to HalfOpen.
  const halfOpenAt = halfOpen.since;
  assert.ok(halfOpenAt >= openedAt + OPEN_MS && halfOpenAt <= probedAt, `${halfOpenAt - openedAt} ms after opening`);
  assert.is((await get(world)).status, 200, 'second probe passes and closes the breaker');
  const closedAt = world.clock.nowMs();
  await tickUntil(world, async () => acme(await breakers(world))?.state === 'Closed', 'Closed to be reported');
  const view = await breakers(world);
  const scope = acme(view);
  assert.equal([scope.state, scope.nodes, scope.since, scope.reason], ['Closed', { Closed: 1, Open: 0, HalfOpen: 0 }, closedAt, '']);
  const mine = view.transitions.filter((t: any) => t.tenant === 'acme').map((t: any) => [t.from, t.to, t.atUnixMs]);
  assert.equal(mine, [['HalfOpen', 'Closed', closedAt], ['Open', 'HalfOpen', halfOpenAt], ['Closed', 'Open', openedAt]]);
});

test('the gRPC Admin ListBreakers and `meshlens breakers` show the same view', async ({ world }) => {
  const Admin = meshlensGrpc().Admin;
  const admin = new Admin(`127.0.0.1:${world.plane.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const reply: any = await new Promise((resolve, reject) =>
      (admin as any).ListBreakers({}, bearer(world.plane.adminToken), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
    const scope = reply.breakers.find((b: any) => b.tenant === 'acme');
    assert.equal([scope.cluster, scope.state, scope.policyId, scope.nodes], [CLUSTER, 'BREAKER_STATE_CLOSED', 'orders', { closed: 1, open: 0, halfOpen: 0 }]);
    assert.equal(reply.transitions.filter((t: any) => t.tenant === 'acme').map((t: any) => t.to),
      ['BREAKER_STATE_CLOSED', 'BREAKER_STATE_HALF_OPEN', 'BREAKER_STATE_OPEN']);
  } finally {
    admin.close();
  }
  const text = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), 'breakers', '--url',
      `http://127.0.0.1:${world.plane.httpPort}`, '--token', world.plane.adminToken], { cwd: root },
    (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)));
  });
  assert.match(text, /^CLUSTER\s+TENANT\s+POLICY\s+STATE\s+NODES C\/O\/H\s+SINCE\s+WHY/);
  assert.match(text, new RegExp(`${CLUSTER.replace(/[|.]/g, '\\$&')}\\s+acme\\s+orders\\s+Closed\\s+1/0/0`));
  assert.match(text, /recent transitions[\s\S]*HalfOpen\s+Closed[\s\S]*Closed\s+Open/);
});

test('a node whose discovery streams all end leaves the view', async ({ world }) => {
  world.proxyClosed = true;
  await world.sidecar.close();
  await world.plugin.close();
  const deadline = Date.now() + 10_000;
  while ((await breakers(world)).breakers.length > 0) {
    if (Date.now() > deadline) throw new Error('breaker states of the closed proxy are still listed');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await breakers(world), { breakers: [], transitions: [] });
});

test.run();
