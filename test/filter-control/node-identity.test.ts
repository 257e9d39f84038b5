// The release filter without a `node` section in its plugin config, as the istio/ manifests deploy it: its node id
// and workload come from what Envoy serves (xds.node), so the real control plane (which refuses a first discovery
// request without node.id) registers every VM under the proxy's Istio node id. Run under the current-Envoy profile
// and under the oldest supported one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { DEFAULT_PROFILE, ManualClock, OLDEST_PROFILE, ProxyWasmPlugin, type EnvoyProfile } from '../../filter/host/index.ts';
import { startTestPlane } from '../control-plane/helpers.ts';
import { releaseFilterPath } from '../support/release-filter.ts';
import { until } from '../support/until.ts';

const WASM = releaseFilterPath();
const CP_CLUSTER = 'meshlens-control-plane';
const NODE = {
  id: 'sidecar~10.4.0.17~checkout-5d9f-x2x.shop~shop.svc.cluster.local',
  metadata: { NAMESPACE: 'shop', WORKLOAD_NAME: 'checkout', NAME: 'checkout-5d9f-x2x' },
};
const TICK_MS = 100;

const test = suite('filter node identity from xds.node');

for (const profile of [DEFAULT_PROFILE, OLDEST_PROFILE] as EnvoyProfile[]) {
  test(`Envoy ${profile.envoy}: the proxy's first discovery request carries the Istio node id`, async () => {
    const plane = await startTestPlane();
    const clock = new ManualClock(Date.now());
    const plugin = await ProxyWasmPlugin.create({
      wasm: readFileSync(WASM), envoy: profile.envoy, node: NODE, workers: 1, clock,
      configuration: JSON.stringify({
        tickMs: TICK_MS, reportIntervalMs: 60_000, controlPlane: { cluster: CP_CLUSTER, token: plane.proxyToken, timeoutMs: 2000 },
      }),
      clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${plane.grpcPort}` } },
    });
    try {
      clock.advance(TICK_MS);
      const version = plane.operations.rolloutStatus().snapshotVersion;
      // Main and worker VM share one stream: one rollout row for the proxy, ACKed once both applied the snapshot.
      await until(() => plane.operations.rolloutStatus().nodes.filter((n) => n.connected && n.ackedVersion === version).length === 1,
        'the proxy to subscribe and ACK');
      const nodes = plane.operations.rolloutStatus().nodes;
      assert.equal(nodes.map((n) => [n.nodeId, n.worker]), [[NODE.id, 'proxy']]);
      assert.is(plugin.stats.counter('meshlens_control_plane_acks_total'), 1);
    } finally {
      await plugin.close();
      await plane.stop();
    }
  });
}

test('the request path labels series with the node metadata under the oldest supported profile too', async () => {
  for (const profile of [DEFAULT_PROFILE, OLDEST_PROFILE]) {
    const plugin = await ProxyWasmPlugin.create({
      wasm: readFileSync(WASM), envoy: profile.envoy, node: NODE, workers: 1, clock: new ManualClock(0), configuration: '{}',
    });
    try {
      plugin.request(0, {
        cluster: 'outbound|8080||orders.default.svc.cluster.local',
        requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
        response: { responseCode: 200, durationMs: 3 },
      });
      assert.is(plugin.stats.counter('meshlens_requests_total', {
        reporter: 'source', source_workload: 'checkout', source_workload_namespace: 'shop',
        destination_service: 'orders.default.svc.cluster.local', response_code: '200',
      }), 1, `Envoy ${profile.envoy}`);
    } finally { await plugin.close(); }
  }
});

test('node values longer than the plugin config would accept count as absent (bounded like the config)', async () => {
  const plugin = await ProxyWasmPlugin.create({
    wasm: readFileSync(WASM), node: { id: NODE.id, metadata: { NAMESPACE: 'shop', WORKLOAD_NAME: 'w'.repeat(254) } },
    workers: 1, clock: new ManualClock(0), configuration: '{}',
  });
  try {
    plugin.request(0, {
      cluster: 'outbound|8080||orders.default.svc.cluster.local',
      requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
      response: { responseCode: 200, durationMs: 3 },
    });
    assert.is(plugin.stats.counter('meshlens_requests_total', { source_workload: 'unknown', source_workload_namespace: 'shop' }), 1);
  } finally { await plugin.close(); }
});

test.run();
