// Every overlay against the CRD schemas of every Istio release it claims (istio/README.md), not only the newest;
// and the fields that differ between releases are rejected where they do not exist.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { CRD_KINDS, ISTIO_RELEASES, istioCrdsMissing, releaseErrors, releaseSchemas, validateSchema, type IstioRelease } from './istio-crds.ts';
import { OVERLAYS, find, overlayResources, type Overlay, type Resource } from './manifests.ts';

const minor = (tag: IstioRelease) => Number(tag.split('.')[1]);

/** The Istio releases each overlay supports, as istio/README.md states them. */
const SUPPORTED: Record<Overlay, (tag: IstioRelease) => boolean> = {
  envoyfilter: () => true,
  // failStrategy FAIL_RELOAD is in the WasmPlugin CRD from 1.27
  wasmplugin: (tag) => minor(tag) >= 27,
  // FAIL_CLOSE is valid everywhere; README recommends it for 1.24-1.26 only (no reload)
  'wasmplugin-istio-1.24': () => true,
  // the wasmplugin overlay with replicas on etcd: the same WasmPlugin
  replicated: (tag) => minor(tag) >= 27,
};

const withCrd = (overlay: Overlay) => overlayResources(overlay).map((f) => f.resource).filter((r) => (CRD_KINDS as readonly string[]).includes(`${r.apiVersion}/${r.kind}`));

const releases = suite('overlays against each claimed Istio release');
const t = needs(istioCrdsMissing(), releases);

t('each overlay is accepted by every release it supports', () => {
  let checked = 0;
  for (const overlay of OVERLAYS) {
    const resources = withCrd(overlay);
    assert.ok(resources.some((r) => r.kind === 'EnvoyFilter'), `${overlay} ships EnvoyFilters`);
    assert.ok(resources.some((r) => r.kind === 'PeerAuthentication'), `${overlay} ships the control plane's PeerAuthentication`);
    for (const tag of ISTIO_RELEASES.filter(SUPPORTED[overlay])) {
      for (const r of resources) {
        assert.equal(releaseErrors(tag, r), [], `${overlay} on Istio ${tag}: ${r.kind}/${r.metadata.name}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 30, `checked ${checked} resource/release pairs`);
});

t('the recommended WasmPlugin is refused before 1.27 for FAIL_RELOAD, and for nothing else (negative)', () => {
  const plugin = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens');
  const unsupported = ISTIO_RELEASES.filter((tag) => !SUPPORTED.wasmplugin(tag));
  assert.equal(unsupported, ['1.24.6', '1.25.5', '1.26.8']);
  for (const tag of unsupported) {
    assert.equal(releaseErrors(tag, plugin), ['/spec/failStrategy: must be one of FAIL_CLOSE, FAIL_OPEN, is "FAIL_RELOAD"'], tag);
  }
});

t('the releases really differ: each one is checked against its own schema', () => {
  const failStrategies = ISTIO_RELEASES.map((tag) => releaseSchemas(tag).kinds['extensions.istio.io/v1alpha1/WasmPlugin'].properties.spec.properties.failStrategy.enum.join(','));
  assert.equal(failStrategies, ['FAIL_CLOSE,FAIL_OPEN', 'FAIL_CLOSE,FAIL_OPEN', 'FAIL_CLOSE,FAIL_OPEN', 'FAIL_CLOSE,FAIL_OPEN,FAIL_RELOAD', 'FAIL_CLOSE,FAIL_OPEN,FAIL_RELOAD']);
  for (const tag of ISTIO_RELEASES) assert.match(releaseSchemas(tag).source, new RegExp(`istio/istio ${tag.replace(/\./g, '\\.')} |^istio/istio ${tag.replace(/\./g, '\\.')}`));
});

t('a field a release does not have is refused by it: EnvoyFilter context WAYPOINT (Istio 1.29+) (negative)', () => {
  const filter = structuredClone(find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter'));
  filter.spec.configPatches[0].match.context = 'WAYPOINT';
  for (const tag of ISTIO_RELEASES) {
    assert.match(releaseErrors(tag, filter).join('\n'), /\/spec\/configPatches\/0\/match\/context: must be one of ANY, SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, is "WAYPOINT"/, tag);
  }
  const listenerAndCluster = structuredClone(find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter'));
  listenerAndCluster.spec.configPatches[0].match.cluster = { name: 'x' };
  for (const tag of ISTIO_RELEASES) assert.match(releaseErrors(tag, listenerAndCluster).join('\n'), /\/spec\/configPatches\/0\/match: must match exactly one oneOf branch, matches 2/, tag);
});

t('misspelt fields, bad patterns, missing required fields and broken CEL rules are refused on every release (negative)', () => {
  const base = find(overlayResources('wasmplugin-istio-1.24'), 'WasmPlugin', 'meshlens');
  const variants: [string, (p: Resource) => void, RegExp][] = [
    ['misspelt field', (p) => { p.spec.failStrategey = 'FAIL_OPEN'; }, /\/spec\/failStrategey: unknown field/],
    ['sha256 pattern', (p) => { p.spec.sha256 = 'ABC'; }, /\/spec\/sha256: must match/],
    ['url required', (p) => { delete p.spec.url; }, /\/spec: url is required/],
    ['env value with HOST (CEL)', (p) => { p.spec.vmConfig.env[0].value = 'x'; }, /value may only be set when valueFrom is INLINE/],
    ['selector and targetRefs (CEL)', (p) => { p.spec.targetRefs = [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }]; }, /only one of targetRefs or selector can be set/],
    ['url scheme (CEL)', (p) => { p.spec.url = 'ftp://example.com/x.wasm'; }, /url must have schema one of \[http, https, file, oci\]/],
    ['priority type', (p) => { p.spec.priority = 'high'; }, /\/spec\/priority: must be of type integer/],
    ['env name twice', (p) => { p.spec.vmConfig.env.push({ ...p.spec.vmConfig.env[0] }); }, /\/spec\/vmConfig\/env\/1: duplicate list-map key \["MESHLENS_PROXY_TOKEN"\]/],
  ];
  for (const tag of ISTIO_RELEASES) {
    assert.equal(releaseErrors(tag, base), [], `unchanged resource passes on ${tag}`);
    for (const [what, change, expected] of variants) {
      const plugin = structuredClone(base);
      change(plugin);
      assert.match(releaseErrors(tag, plugin).join('\n'), expected, `${what} on ${tag}`);
    }
  }
});

t('the control plane\'s PeerAuthentication is checked on every release: mode enum, portLevelMtls CEL rules (negative)', () => {
  const base = find(overlayResources('envoyfilter'), 'PeerAuthentication', 'meshlens-control-plane');
  const variants: [string, (p: Resource) => void, RegExp][] = [
    ['mode misspelt', (p) => { p.spec.mtls.mode = 'STRCT'; }, /\/spec\/mtls\/mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, is "STRCT"/],
    ['misspelt field', (p) => { p.spec.mtls.mdoe = 'STRICT'; }, /\/spec\/mtls\/mdoe: unknown field/],
    ['portLevelMtls without selector (CEL)', (p) => { delete p.spec.selector; p.spec.portLevelMtls = { 18080: { mode: 'PERMISSIVE' } }; }, /portLevelMtls requires selector/],
    ['port out of range (CEL)', (p) => { p.spec.portLevelMtls = { 70000: { mode: 'PERMISSIVE' } }; }, /port must be between 1-65535/],
    ['wildcard label (CEL)', (p) => { p.spec.selector.matchLabels['app.kubernetes.io/name'] = 'meshlens-*'; }, /wildcard not allowed in label value match/],
  ];
  for (const tag of ISTIO_RELEASES) {
    assert.equal(releaseErrors(tag, base), [], `unchanged resource passes on ${tag}`);
    const portLevel = structuredClone(base);
    portLevel.spec.portLevelMtls = { 18080: { mode: 'STRICT' } };
    assert.equal(releaseErrors(tag, portLevel), [], `portLevelMtls with a selector passes on ${tag}`);
    for (const [what, change, expected] of variants) {
      const peer = structuredClone(base);
      change(peer);
      assert.match(releaseErrors(tag, peer).join('\n'), expected, `${what} on ${tag}`);
    }
  }
});

t('a CEL rule the checker cannot evaluate fails instead of passing silently (negative)', () => {
  const schema = { type: 'object', properties: { a: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.startsWith("x")' }] } } };
  assert.equal(validateSchema(schema, { a: 'x' }), ['/a: unevaluated CEL rule self.startsWith("x")']);
});

releases.run();
