// Issue 11: when retries overflow Envoy's retry circuit breaker (cluster circuit_breakers max_retries, default 3
// concurrent), the router passes the upstream's 503 on with the UO flag (RetryStatus::NoOverflow). Those are the
// upstream's failures: the release filter's breaker must open on the same number of them as when nothing
// overflows, and the control plane's dry-run, replaying the filter's telemetry, must see what the breaker saw.
//
// Overflow is made deterministic rather than by load: the cluster allows 1 concurrent retry and the first request
// holds it in a backoff sleep the test releases, so every later request that wants a retry overflows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProxyWasmPlugin, SharedData } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { defaultPolicy, type ResiliencePolicy } from '../../control-plane/src/policy-model.ts';
import { releaseFilter } from '../host/support.ts';
import { http, startTestPlane, type TestPlane } from '../control-plane/helpers.ts';
import { ObservedPlugin, request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';
import { until } from '../support/until.ts';

const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const CONTROL_PLANE_CLUSTER = 'outbound|18000||meshlens-control-plane.meshlens.svc.cluster.local';
const TOKEN_ENV = 'MESHLENS_PROXY_TOKEN';
const MIN_REQUESTS = 4;

function breakerPolicy(): ResiliencePolicy {
  const policy = defaultPolicy();
  policy.target.cluster = CLUSTER;
  policy.breaker.minRequests = MIN_REQUESTS;
  policy.breaker.errorRateThreshold = 0.5;
  return policy;
}

interface Mesh {
  plugin: ObservedPlugin;
  sidecar: SidecarWith<ObservedPlugin>;
  /** Resolves the backoff sleeps held so far (and lets later ones through). */
  releaseBackoff(): void;
  firstBackoff: Promise<void>;
}

async function startMesh(endpoint: string, plane: TestPlane | null, maxRetries: number, holdBackoff: boolean): Promise<Mesh> {
  const configuration: Record<string, unknown> = { defaultPolicy: breakerPolicy(), tickMs: 50, reportIntervalMs: 100 };
  if (plane) configuration.controlPlane = { cluster: CONTROL_PLANE_CLUSTER, timeoutMs: 5000, tokenEnv: TOKEN_ENV };
  const inner = await ProxyWasmPlugin.create({
    wasm: releaseFilter(),
    configuration: JSON.stringify(configuration),
    workers: 1,
    sharedData: new SharedData(), // each mesh is its own Envoy: breakers must not carry over between them
    node: { id: 'sidecar~127.0.0.1~overflow-1.default~default.svc.cluster.local' },
    ...(plane ? {
      clusters: { [CONTROL_PLANE_CLUSTER]: { address: `127.0.0.1:${plane.grpcPort}` } },
      environment: { [TOKEN_ENV]: plane.proxyToken },
    } : {}),
  });
  const plugin = new ObservedPlugin(inner);
  let released = !holdBackoff;
  const held: (() => void)[] = [];
  let firstBackoffStarted!: () => void;
  const firstBackoff = new Promise<void>((resolve) => (firstBackoffStarted = resolve));
  const sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { [CLUSTER]: { endpoints: [endpoint], circuitBreakers: { maxRetries } } },
    routes: [{ authority: 'orders', cluster: CLUSTER }],
    router: {
      random: () => 0.5,
      sleep: () => {
        firstBackoffStarted();
        return released ? Promise.resolve() : new Promise<void>((resolve) => held.push(resolve));
      },
    },
  });
  const mesh: Mesh = {
    plugin, sidecar, firstBackoff,
    releaseBackoff() {
      released = true;
      held.splice(0).forEach((resolve) => resolve());
    },
  };
  meshes.push(mesh);
  return mesh;
}

function send(mesh: Mesh) {
  return request(mesh.sidecar.listenerPort, '/api/orders/7', { host: 'orders', 'x-tenant-id': 'acme' });
}

async function get(mesh: Mesh) {
  const logged = mesh.plugin.nextLog();
  const response = await send(mesh);
  return { response, log: await logged };
}

/** Sends requests one at a time until the breaker rejects one; returns how many reached the upstream before. */
async function untilOpen(mesh: Mesh, limit: number): Promise<{ served: number; flags: string[] }> {
  const flags: string[] = [];
  for (let served = 0; served < limit; served++) {
    const { response, log } = await get(mesh);
    assert.is(response.status, 503);
    if (response.headers['x-meshlens-breaker'] === 'open') return { served, flags };
    flags.push(log.responseFlags ?? '');
  }
  throw new Error(`the breaker never opened in ${limit} failing requests`);
}

let upstream: ScriptedUpstream | undefined;
let plane: TestPlane | undefined;
const meshes: Mesh[] = [];
test.after.each(async () => {
  for (const mesh of meshes.splice(0)) {
    mesh.releaseBackoff();
    await mesh.sidecar.close();
  }
  await upstream?.close();
  await plane?.stop();
  upstream = undefined;
  plane = undefined;
});

async function failingUpstream(): Promise<ScriptedUpstream> {
  return startUpstream((_req, res) => {
    res.writeHead(503, { 'content-length': '4' });
    res.end('fail');
  });
}

test('retry overflow (UO) passes the upstream 503 on, and the breaker opens on as many failures as without overflow', async () => {
  upstream = await failingUpstream();

  const plain = await startMesh(upstream.address, null, 3, false);
  const baseline = await untilOpen(plain, 50);
  assert.is(baseline.served, MIN_REQUESTS, 'without overflow: Open after minRequests failures');
  assert.ok(baseline.flags.every((f) => f === 'URX'), `retried until the limit: ${baseline.flags}`);

  const overflowing = await startMesh(upstream.address, null, 1, true);
  const holder = send(overflowing); // takes the only retry slot and waits in its backoff
  holder.catch(() => {}); // awaited below; a failed run must report its assertion, not the hang-up at teardown
  await overflowing.firstBackoff;
  const overflowed = await untilOpen(overflowing, 50);
  assert.ok(overflowed.flags.length > 0 && overflowed.flags.every((f) => f === 'UO'), `every served request overflowed: ${overflowed.flags}`);
  assert.is(overflowed.served, baseline.served, 'the overflowed 503s count as the failures they are');
  overflowing.releaseBackoff();
  assert.is((await holder).status, 503);
});

test('dry-run replays the same failures the breaker counted under overflow, and says it trips', async () => {
  upstream = await failingUpstream();
  plane = await startTestPlane({ now: () => Date.now() });
  const mesh = await startMesh(upstream.address, plane, 1, true);
  // Wait for the proxy (its worker and main VM hold one discovery stream) to be connected before sending traffic.
  await until(async () => {
    const rollout = await http(plane!.httpPort, 'GET', '/v1/rollout', { token: plane!.adminToken });
    return rollout.json.nodes.filter((n: { connected: boolean }) => n.connected).length === 1;
  }, 'the proxy connected to the control plane', 30_000, 100);
  const holder = send(mesh);
  holder.catch(() => {}); // awaited below
  await mesh.firstBackoff;
  const { served } = await untilOpen(mesh, 50);
  assert.is(served, MIN_REQUESTS);
  mesh.releaseBackoff();
  assert.is((await holder).status, 503);
  const failures = served + 1; // the holder's own retried 503 (URX) counts too

  const policy = breakerPolicy();
  const dryRun = async () => {
    const reply = await http(plane!.httpPort, 'POST', '/v1/dry-run', {
      token: plane!.adminToken, body: { policy: { target: policy.target, breaker: policy.breaker }, windowMinutes: 5 },
    });
    assert.is(reply.status, 200, reply.text);
    return reply.json.scopes.find((s: { cluster: string }) => s.cluster === CLUSTER);
  };
  // Reports arrive every 100 ms; wait (generously) until every recorded request is in.
  let scope: any;
  await until(async () => (scope = await dryRun())?.requests >= failures, 'every request reported', 30_000, 100);
  assert.is(scope.requests, failures, 'rejected requests are not replayed as traffic');
  assert.is(scope.errors, failures, 'every overflowed 503 is an error in telemetry too');
  assert.ok(scope.transitions >= 1 && scope.firstTripUnixMs > 0, 'the dry-run says the breaker would trip, as it did');
});

test.run();
