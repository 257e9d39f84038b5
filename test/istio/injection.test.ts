// The meshlens-token injection template against Istio's injection merge, with and without native sidecars.
//
// What runs for real: Kubernetes' strategic merge patch (apimachinery, through `kubectl patch --local`, the same
// StrategicMergeMapPatch with the Pod's patch metadata that Istio's applyOverlayYAML uses) on our template text.
// What is reproduced from Istio's source, not run: the RunTemplate loop (pkg/kube/inject/inject.go, identical from
// 1.24.6 to 1.28.10 except where `native` comes from) and the shape of the `sidecar` template's output
// (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml, 1.28.10: istio-proxy under
// `containers:` unless $nativeSidecar, else under `initContainers:` with restartPolicy Always); the last suite checks
// both premises in the source of every claimed release when an istio/istio clone is at hand. Not proven here: the
// API server's validation and a real istiod webhook (no Kubernetes on this machine).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { needs } from '../support/skip.ts';
import { ISTIO_RELEASES, istioGitMissing, istioSourceAt } from './istio-crds.ts';
import { ISTIO_DIR, kubectlMissing, readResource } from './manifests.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
interface Container { name: string; image?: string; restartPolicy?: string; env?: Json[]; [k: string]: Json }
interface Pod { apiVersion: 'v1'; kind: 'Pod'; metadata: { name: string; annotations?: Record<string, string> }; spec: { containers?: Container[]; initContainers?: Container[] } }

const PROXY = 'istio-proxy';
const TOKEN_ENV = { name: 'MESHLENS_PROXY_TOKEN', valueFrom: { secretKeyRef: { name: 'meshlens-proxy-token', key: 'token' } } };

/** Istio's applyOverlayYAML: strategic merge of a rendered template (YAML) over a pod, by real apimachinery code. */
function strategicMerge(pod: Pod, overlayYaml: string): Pod {
  const run = spawnSync('kubectl', ['patch', '--local', '-f', '-', '--type', 'strategic', '-p', JSON.stringify(parse(overlayYaml)), '-o', 'json'], {
    input: JSON.stringify(pod),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`strategic merge failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Pod;
}

const find = (name: string, list?: Container[]) => list?.find((c) => c.name === name);

/**
 * Istio's decision `native` in RunTemplate: the sidecar.istio.io/nativeSidecar annotation ("true"/"false") over
 * the istiod-wide default (1.24-1.26: ENABLE_NATIVE_SIDECARS; 1.27+: that flag or, in "auto", the node's kubelet
 * version >= 1.33, webhook.go DetectNativeSidecar). The `sidecar` template makes the same choice for "true"/"false".
 */
function nativeFor(pod: Pod, istiodDefault: boolean): boolean {
  const a = pod.metadata.annotations?.['sidecar.istio.io/nativeSidecar'];
  return a === 'true' ? true : a === 'false' ? false : istiodDefault;
}

/** Istio's RunTemplate loop (pkg/kube/inject/inject.go, 1.24.6-1.28.10), move of a user istio-proxy included. */
function runTemplates(pod: Pod, names: string[], templates: Record<string, string>, istiodDefault: boolean): Pod {
  const native = nativeFor(pod, istiodDefault);
  let merged = pod;
  let templatePod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'template' }, spec: {} };
  for (const name of names) {
    const rendered = templates[name];
    if (rendered === undefined) throw new Error(`requested template "${name}" not found`);
    templatePod = strategicMerge(templatePod, rendered);
    // "if we see the proxy container in `containers` in the original pod, and in `initContainers` in the template
    // pod, move the container" (moveContainer appends it to initContainers)
    if (native && find(PROXY, templatePod.spec.initContainers) && find(PROXY, merged.spec.containers)) {
      merged = structuredClone(merged);
      const proxy = find(PROXY, merged.spec.containers)!;
      merged.spec.containers = merged.spec.containers!.filter((c) => c !== proxy);
      merged.spec.initContainers = [...(merged.spec.initContainers ?? []), proxy];
    }
    merged = strategicMerge(merged, rendered);
  }
  return merged;
}

/** The `sidecar` template's output for the fields that decide where istio-proxy lands (injection-template.yaml). */
function sidecarTemplate(native: boolean): string {
  const proxy = {
    name: PROXY,
    image: 'docker.io/istio/proxyv2:1.28.0',
    ...(native ? { restartPolicy: 'Always' } : {}),
    args: ['proxy', 'sidecar'],
    env: [{ name: 'ISTIO_META_POD_PORTS', value: '[]' }, { name: 'ISTIO_META_APP_CONTAINERS', value: 'app' }],
  };
  const init = { name: 'istio-init', image: 'docker.io/istio/proxyv2:1.28.0', args: ['istio-iptables'] };
  return JSON.stringify({ spec: native ? { initContainers: [init, proxy] } : { initContainers: [init], containers: [proxy] } });
}

/** What the API server refuses that an injection mistake produces: names must be unique across both lists, every
 *  container needs an image, and a native sidecar is an init container with restartPolicy Always. */
function rejections(pod: Pod): string[] {
  const out: string[] = [];
  const all = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  const names = all.map((c) => c.name);
  for (const n of new Set(names)) if (names.filter((x) => x === n).length > 1) out.push(`duplicate container name ${n}`);
  for (const c of all) if (!c.image) out.push(`container ${c.name} has no image`);
  return out;
}

const userPod = (annotations: Record<string, string>): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'orders-0', annotations },
  spec: { containers: [{ name: 'app', image: 'orders:1', env: [{ name: 'APP', value: '1' }] }] },
});

/** The template list the README tells users to annotate their pods with. */
function documentedTemplates(): string[] {
  const readme = readFileSync(join(ISTIO_DIR, 'README.md'), 'utf8');
  const m = readme.match(/^\s*inject\.istio\.io\/templates:\s*([\w,-]+)/m);
  if (!m) throw new Error('istio/README.md shows no inject.istio.io/templates annotation');
  return m[1].split(',');
}

const ourTemplates = (): Record<string, string> =>
  readResource('istio/mesh/istio-operator.yaml').spec.values.sidecarInjectorWebhook.templates as Record<string, string>;

const injection = suite('meshlens-token injection, native sidecars and classic');
const t = needs(kubectlMissing(), injection);

const cases: { what: string; annotations: Record<string, string>; istiodDefault: boolean; native: boolean }[] = [
  { what: 'classic sidecar (Istio <= 1.26 default)', annotations: {}, istiodDefault: false, native: false },
  { what: 'native sidecar (Istio 1.27+ on a Kubernetes >= 1.33 node)', annotations: {}, istiodDefault: true, native: true },
  { what: 'native forced by annotation on a classic mesh', annotations: { 'sidecar.istio.io/nativeSidecar': 'true' }, istiodDefault: false, native: true },
  { what: 'classic forced by annotation on a native mesh', annotations: { 'sidecar.istio.io/nativeSidecar': 'false' }, istiodDefault: true, native: false },
];

for (const c of cases) {
  t(`documented template order gives one istio-proxy with the token: ${c.what}`, () => {
    const names = documentedTemplates();
    assert.ok(names.includes('sidecar') && names.includes('meshlens-token'), names.join(','));
    const pod = userPod({ 'inject.istio.io/templates': names.join(','), ...c.annotations });
    const templates = { ...ourTemplates(), sidecar: sidecarTemplate(nativeFor(pod, c.istiodDefault)) };
    const out = runTemplates(pod, names, templates, c.istiodDefault);
    assert.equal(rejections(out), []);
    const inInit = find(PROXY, out.spec.initContainers);
    const inMain = find(PROXY, out.spec.containers);
    const proxy = (c.native ? inInit : inMain)!;
    assert.ok(proxy, `istio-proxy under ${c.native ? 'initContainers' : 'containers'}`);
    assert.not.ok(c.native ? inMain : inInit, 'and only there');
    assert.is(proxy.restartPolicy, c.native ? 'Always' : undefined);
    assert.is(proxy.image, 'docker.io/istio/proxyv2:1.28.0');
    const env = proxy.env ?? [];
    assert.equal(env.find((e: Json) => e.name === TOKEN_ENV.name), TOKEN_ENV);
    assert.ok(env.some((e: Json) => e.name === 'ISTIO_META_APP_CONTAINERS'), "the sidecar template's env is kept");
    assert.equal(find('app', out.spec.containers)!.env, [{ name: 'APP', value: '1' }], 'the app container is untouched');
  });
}

t('the old order (sidecar,meshlens-token) is rejected with native sidecars: istio/istio#56455 (negative)', () => {
  const names = ['sidecar', 'meshlens-token'];
  const pod = userPod({ 'inject.istio.io/templates': names.join(',') });
  const native = runTemplates(pod, names, { ...ourTemplates(), sidecar: sidecarTemplate(true) }, true);
  const problems = rejections(native);
  assert.ok(problems.includes(`duplicate container name ${PROXY}`), problems.join('; '));
  assert.ok(problems.includes(`container ${PROXY} has no image`), problems.join('; '));
  // ...which is why it went unnoticed: without native sidecars the same order merges fine.
  assert.equal(rejections(runTemplates(pod, names, { ...ourTemplates(), sidecar: sidecarTemplate(false) }, false)), []);
});

t('the template only patches istio-proxy, and only its env', () => {
  const templates = ourTemplates();
  assert.equal(Object.keys(templates), ['meshlens-token']);
  assert.equal(parse(templates['meshlens-token']), { spec: { containers: [{ name: PROXY, env: [TOKEN_ENV] }] } });
});

const source = suite('the Istio source the reproduction follows, at each claimed release');

needs(istioGitMissing(), source)('RunTemplate still moves a customized istio-proxy, and the sidecar template still places it by $nativeSidecar', () => {
  for (const tag of ISTIO_RELEASES) {
    const inject = istioSourceAt(tag, 'pkg/kube/inject/inject.go')!;
    const loop = inject.slice(inject.indexOf('for _, templateName := range selectTemplates(params)'));
    assert.ok(loop.length > 0, `${tag}: RunTemplate's loop`);
    const order = ['templatePod, err = applyOverlayYAML(templatePod', 'FindContainer(ProxyContainerName, templatePod.Spec.InitContainers) != nil', 'FindContainer(ProxyContainerName, mergedPod.Spec.Containers) != nil', 'moveContainer(mergedPod.Spec.Containers, mergedPod.Spec.InitContainers, ProxyContainerName)', 'mergedPod, err = applyOverlayYAML(mergedPod'].map((code) => loop.indexOf(code));
    assert.ok(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])), `${tag}: merge, move, merge in that order (${order})`);
    const template = istioSourceAt(tag, 'manifests/charts/istio-control/istio-discovery/files/injection-template.yaml')!;
    assert.match(template, /\{\{ if not \$nativeSidecar \}\}\n\s+containers:\n\s+\{\{ end \}\}\n\s+- name: istio-proxy\n/, `${tag}: istio-proxy under containers unless native`);
    assert.match(template, /\{\{ if \$nativeSidecar \}\}restartPolicy: Always\{\{end\}\}/, `${tag}: native istio-proxy restarts Always`);
  }
});

injection.run();
source.run();
