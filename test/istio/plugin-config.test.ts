// The plugin configuration shipped in istio/ is accepted by the release filter, loaded the way Envoy loads it
// (canary on_configure, then one VM per worker, the VM environment carrying the proxy token as the shipped vm_config
// hands it over), and actually drives it (the tenant header it names is honoured).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envoyFilterPluginConfigText, find, overlayResources, wasmPluginConfigText } from './manifests.ts';
import { OCI_LAYER_MEDIA_TYPE, buildWasmImage, ociManifestDigest, writeOciLayout } from '../../istio/oci-digest.ts';
import { fetchAsIstio } from '../images/istio-wasm-image.ts';
import { assertConfigRefused } from '../filter/raw-host.ts';
import { releaseFilterPath } from '../support/release-filter.ts';

const wasmPath = releaseFilterPath();
const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';
/** What istio-proxy's environment holds once the meshlens-token injection template has run. */
const PROXY_ENVIRONMENT = { MESHLENS_PROXY_TOKEN: 'token-from-the-meshlens-proxy-token-secret' };

/** A loopback port nothing listens on: the filter's control-plane stream fails fast and keeps retrying. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const load = suite('shipped plugin config in the release filter');

async function createPlugin(configuration: string) {
  const { ProxyWasmPlugin, ManualClock } = await import('../../filter/host/index.ts');
  return ProxyWasmPlugin.create({
    wasm: readFileSync(wasmPath),
    configuration,
    workers: 2,
    environment: PROXY_ENVIRONMENT,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    clusters: { 'meshlens-control-plane': { address: `127.0.0.1:${await closedPort()}` } },
  });
}

for (const [variant, text] of [['EnvoyFilter StringValue', envoyFilterPluginConfigText], ['WasmPlugin pluginConfig', wasmPluginConfigText]] as const) {
  load(`${variant}: loads, configures every VM without a critical log, and reads the tenant from x-tenant-id`, async () => {
    const plugin = await createPlugin(text());
    try {
      assert.is(plugin.workerCount, 2);
      const loud = plugin.logs.filter((l) => l.level === 'critical' || l.level === 'error');
      assert.equal(loud, [], 'no critical/error log at load');
      const result = plugin.request(0, {
        cluster: ORDERS,
        requestHeaders: [[':method', 'GET'], [':path', '/orders/8812'], [':authority', 'orders:8080'], [':scheme', 'http'], ['x-tenant-id', 'acme']],
        response: { responseCode: 200, durationMs: 7 },
      });
      assert.is(result.localReply, undefined);
      assert.equal(plugin.logs.filter((l) => l.level === 'critical').map((l) => l.message), [], 'no VM failed on the request');
      const count = plugin.stats.counter('meshlens_requests_total', {
        upstream_cluster: ORDERS, path: '/orders/{id}', method: 'GET', response_code: '200', tenant: 'acme',
      });
      assert.is(count, 1);
    } finally {
      await plugin.close();
    }
  });
}

for (const [variant, text] of [['EnvoyFilter StringValue', envoyFilterPluginConfigText], ['WasmPlugin pluginConfig', wasmPluginConfigText]] as const) {
  load(`${variant}: refused with one line when istio-proxy lacks MESHLENS_PROXY_TOKEN (negative)`, () =>
    assertConfigRefused(readFileSync(wasmPath), text(),
      'invalid filter config: controlPlane.tokenEnv must name a VM environment variable that is set (MESHLENS_PROXY_TOKEN is not)'));
}

load('the embedded default policy passes the control plane\'s validator (the TS twin of the filter\'s parser)', async () => {
  const { validatePolicy } = await import('../../control-plane/src/policy-model.ts');
  const shipped = JSON.parse(envoyFilterPluginConfigText()).defaultPolicy;
  const policy = validatePolicy(shipped);
  assert.is(policy.target.cluster, '*', 'the plugin default applies to every cluster');
  assert.is(policy.target.perTenant, true, 'tenant-scoped breakers by default');
  assert.is(policy.breaker.errorRateThreshold, 0.3);
  assert.throws(() => validatePolicy({ ...shipped, breaker: { ...shipped.breaker, errorRateThreshold: 0 } }), /invalid policy: breaker\.errorRateThreshold must/);
});

load('a misspelt key in the shipped config is refused at load (negative)', async () => {
  const { PluginLoadError } = await import('../../filter/host/index.ts');
  const config = JSON.parse(envoyFilterPluginConfigText());
  config.tenant.header = config.tenant.headers;
  delete config.tenant.headers;
  try {
    const plugin = await createPlugin(JSON.stringify(config));
    await plugin.close();
    assert.unreachable('the filter accepted tenant.header');
  } catch (err) {
    assert.instance(err, PluginLoadError);
  }
});

load.run();

const delivery = suite('module delivery');

delivery('the release module fits the ConfigMap the EnvoyFilter variant mounts it from (1 MiB)', () => {
  assert.ok(statSync(wasmPath).size < 1024 * 1024, `${statSync(wasmPath).size} bytes`);
});

delivery('the Wasm OCI image is content-addressed: Istio extracts the module, digest = sha256(manifest), layout consistent', () => {
  const wasm = readFileSync(wasmPath);
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const image = buildWasmImage(wasm);
  const manifest = JSON.parse(new TextDecoder().decode(image.manifest));
  assert.is(manifest.layers.length, 1);
  assert.is(manifest.layers[0].mediaType, OCI_LAYER_MEDIA_TYPE);
  const fetched = fetchAsIstio(image.manifest, (digest) => image.blobs.get(digest.slice('sha256:'.length))!);
  assert.is(sha(fetched.wasm), sha(wasm), 'Istio\'s fetcher gets the module byte for byte');
  const config = image.blobs.get(manifest.config.digest.slice('sha256:'.length));
  assert.ok(config && config.length === manifest.config.size);
  assert.is(image.digest, sha(image.manifest));
  assert.is(buildWasmImage(wasm).digest, image.digest, 'deterministic');
  const changed = Uint8Array.from(wasm);
  changed[changed.length - 1] ^= 1;
  assert.is.not(ociManifestDigest(changed), image.digest, 'any module change moves the pin');
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-oci-'));
  try {
    writeOciLayout(image, dir, '0.1.0');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    assert.is(index.manifests[0].digest, `sha256:${image.digest}`);
    for (const name of readdirSync(join(dir, 'blobs/sha256'))) assert.is(sha(readFileSync(join(dir, 'blobs/sha256', name))), name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

delivery('the WasmPlugin sha256 pins the OCI image istio/oci-digest.ts builds from the current release module', () => {
  const plugin = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens');
  const wasm = readFileSync(wasmPath);
  const expected = ociManifestDigest(wasm);
  assert.is(
    plugin.spec.sha256,
    expected,
    `stale pin for module sha256 ${createHash('sha256').update(wasm).digest('hex')}: run \`node --import tsx istio/oci-digest.ts --write\``,
  );
});

delivery.run();
