// One of the build stages both runtime images copy from (control-plane/Containerfile; bpf/Containerfile has the same
// two), built on its own after the bases and before the images: on a cold cache these stages are the slow part, and
// one file each keeps every test file inside the runner's per-file timeout. Their layers stay in the shared
// storage, so the image suites that follow reuse them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import {
  buildImage, localBases, loudly, missingForRuntimeImages, sharedBuildah, withMountedImage, type Buildah,
} from './support.ts';

const missing = missingForRuntimeImages();
const compile = 'localhost/meshlens-test/stage-compile:test';
const t = suite('compile stage');
let buildah: Buildah;

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const bases = await localBases(buildah);
  console.log(`compile stage (npm ci --ignore-scripts, tsc) built in ${(await buildImage(buildah, bases, 'control-plane/Containerfile', compile, 'compile')).toFixed(1)} s`);
}));

t.after(async () => {
  // The stage image stays: removing it would drop the cached layers the image suites reuse.
  if (!missing) await buildah.removeContainers();
});

const test = needs(missing, t);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('compile: /out holds the compiled control plane and agent, the protos and package.json, and no TypeScript', async () => {
  await withMountedImage(buildah, compile, (rootfs) => {
    const out = join(rootfs, 'out');
    for (const path of ['control-plane/src/cli.js', 'control-plane/src/protos.js', 'bpf/agent/main.js', 'protos/meshlens/v1/kernel.proto', 'package.json']) {
      assert.ok(existsSync(join(out, path)), path);
    }
    assert.equal(filesUnder(out).filter((f) => f.endsWith('.ts')), []);
  });
});

t.run();
