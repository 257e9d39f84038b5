// One name per image: what the npm image scripts build, what each Containerfile's header tells a user to run, and
// what the istio/ manifests pull must agree, tagged with the package version, or a deployment pulls an image
// nobody built.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { find, overlayResources, readResource, REPO_ROOT } from '../istio/manifests.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

function scriptTag(script: string): string {
  const tag = /buildah bud -f \S+ -t (\S+) \.$/.exec(pkg.scripts[script] ?? '')?.[1];
  assert.ok(tag, `package.json script ${script} must be \`buildah bud -f <Containerfile> -t <tag> .\``);
  return tag!;
}

for (const [script, containerfile, manifest, container] of [
  ['image:control-plane', 'control-plane/Containerfile', 'istio/base/control-plane-deployment.yaml', 'control-plane'],
  ['image:node-agent', 'bpf/Containerfile', 'istio/base/node-agent-daemonset.yaml', 'node-agent'],
] as const) {
  test(`${script}: script, ${containerfile} and ${manifest} name the same image, at the package version`, () => {
    const tag = scriptTag(script);
    assert.ok(pkg.scripts[script]!.includes(`-f ${containerfile} `), `${script} builds ${containerfile}`);
    assert.ok(tag.endsWith(`:${pkg.version}`), `${tag} is tagged with the package version ${pkg.version}`);
    assert.ok(readFileSync(join(REPO_ROOT, containerfile), 'utf8').includes(`buildah bud -f ${containerfile} -t ${tag} .`), `${containerfile} header`);
    const spec = readResource(manifest) as any;
    const image = spec.spec.template.spec.containers.find((c: { name: string }) => c.name === container).image;
    assert.is(image, tag);
  });
}

test('filter: the WasmPlugin url, filter/Containerfile and the image:filter layout name the same image', () => {
  const url = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens').spec.url as string;
  const [, repository, tag] = /^oci:\/\/([^:]+):(\S+)$/.exec(url) ?? [];
  assert.is(tag, pkg.version);
  assert.ok(
    readFileSync(join(REPO_ROOT, 'filter/Containerfile'), 'utf8').includes(`buildah bud -f filter/Containerfile -t ${repository}:${tag} .`),
    'filter/Containerfile header',
  );
  // istio/oci-digest.ts tags the layout with the WasmPlugin url's tag; the script must be the one writing it.
  assert.match(pkg.scripts['image:filter']!, /istio\/oci-digest\.ts --layout /);
});

test.run();
