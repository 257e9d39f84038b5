// The host answers as the declared Envoy version: the top-level property names Envoy 1.33 removed (envoy PR #36619)
// are NotFound from 1.33 on and still answered by the oldest supported profile (1.32, Istio 1.24); xds.* is answered
// by all of them. Checked through the probe module, which reads the paths its configuration lists.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_PROFILE, ENVOY_PROFILES, envoyProfile, LEGACY_PROPERTY_NAMES, OLDEST_PROFILE,
} from '../../filter/host/index.ts';
import { encodeNode } from '../../filter/host/properties.ts';
import { envoyApiRoot } from '../istio/envoy-proto.ts';
import { GET, lines, probe } from './support.ts';

const NODE = { id: 'sidecar~10.1.2.3~orders-7f9c.shop~shop.svc.cluster.local', metadata: { NAMESPACE: 'shop', WORKLOAD_NAME: 'orders' } };
const STABLE = ['xds/node/id', 'xds/node/metadata/NAMESPACE', 'plugin_name', 'plugin_vm_id'];
const NOT_FOUND = '1';

function answers(logged: string[], prefix: string): Map<string, string> {
  return new Map(logged.map((l) => {
    const rest = l.slice(prefix.length);
    const eq = rest.indexOf('=');
    return [rest.slice(0, eq), rest.slice(eq + 1)];
  }));
}

async function propertiesAnswered(envoy: string): Promise<{ root: Map<string, string>; stream: Map<string, string> }> {
  const props = [...LEGACY_PROPERTY_NAMES, 'node/id', ...STABLE].join(',');
  const { plugin } = await probe({ envoy, node: NODE, configuration: `props=${props}` });
  plugin.request(0, { cluster: 'outbound|8080||orders.shop.svc.cluster.local', routeName: 'orders', listenerDirection: 2, requestHeaders: GET('/a') });
  const root = answers(lines(plugin, 'root.prop ', 'main'), 'root.prop ');
  const stream = answers(lines(plugin, 'rh.prop '), 'rh.prop ');
  await plugin.close();
  return { root, stream };
}

const profiles = suite('envoy profiles: property names per version');

profiles('profiles are data: Istio 1.24 … 1.28 ship Envoy 1.32 … 1.36; default is Istio 1.28, oldest Istio 1.24', () => {
  assert.equal(ENVOY_PROFILES.map((p) => `${p.istio}:${p.envoy}`), ['1.24:1.32', '1.25:1.33', '1.26:1.34', '1.27:1.35', '1.28:1.36']);
  assert.equal(DEFAULT_PROFILE, envoyProfile('istio-1.28'));
  assert.equal(OLDEST_PROFILE, envoyProfile('1.32'));
  assert.throws(() => envoyProfile('1.31'), /invalid Envoy profile: "1.31" must be one of 1.32, 1.33/);
});

for (const profile of ENVOY_PROFILES.filter((p) => !p.legacyProperties)) {
  profiles(`Envoy ${profile.envoy}: every legacy top-level name is NotFound, in the root context and in a stream`, async () => {
    const { root, stream } = await propertiesAnswered(profile.envoy);
    for (const name of [...LEGACY_PROPERTY_NAMES, 'node/id']) {
      assert.is(stream.get(name), NOT_FOUND, `${name} in a stream`);
      assert.is(root.get(name), NOT_FOUND, `${name} in the root context`);
    }
    assert.is(stream.get('xds/node/id'), `0:${NODE.id}`);
    assert.is(root.get('xds/node/id'), `0:${NODE.id}`, 'xds.node is answered at configure time');
    assert.is(root.get('xds/node/metadata/NAMESPACE'), '0:shop');
    assert.is(stream.get('plugin_name'), '0:meshlens', 'plugin_name stays a Wasm property');
  });
}

profiles(`Envoy ${OLDEST_PROFILE.envoy} (oldest supported) still answers the legacy names beside xds.*`, async () => {
  const { root, stream } = await propertiesAnswered(OLDEST_PROFILE.envoy);
  assert.is(stream.get('cluster_name'), '0:outbound|8080||orders.shop.svc.cluster.local');
  assert.is(stream.get('route_name'), '0:orders');
  assert.is(stream.get('node/id'), `0:${NODE.id}`);
  assert.is(root.get('node/id'), `0:${NODE.id}`, 'the legacy node was answered from the plugin, root context included');
  for (const name of LEGACY_PROPERTY_NAMES) assert.is.not(stream.get(name), NOT_FOUND, `${name} in a stream`);
  for (const path of STABLE) assert.is(stream.get(path)?.slice(0, 2), '0:', path);
});

profiles('a profile is chosen by name on the plugin; an unknown one is refused before any VM starts', async () => {
  let error: unknown;
  try { await probe({ envoy: '2.0' }); } catch (e) { error = e; }
  assert.match(String(error), /invalid Envoy profile: "2.0" must be one of/);
  const { plugin } = await probe({ envoy: 'istio-1.24' });
  assert.equal(plugin.profile, OLDEST_PROFILE);
  await plugin.close();
});

profiles('xds.node read whole is a config.core.v3.Node that Envoy\'s own proto decodes', () => {
  const Node = envoyApiRoot(['envoy/config/core/v3/base.proto']).lookupType('envoy.config.core.v3.Node');
  const decoded = Node.toObject(Node.decode(encodeNode({ ...NODE, cluster: 'checkout.shop' })));
  assert.equal(decoded, {
    id: NODE.id, cluster: 'checkout.shop',
    metadata: { fields: { NAMESPACE: { stringValue: 'shop' }, WORKLOAD_NAME: { stringValue: 'orders' } } },
  });
});

profiles.run();
