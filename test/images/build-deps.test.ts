// One of the build stages both runtime images copy from (control-plane/Containerfile; bpf/Containerfile has the same
// two), built on its own after the bases and before the images: on a cold cache these stages are the slow part, and
// one file each keeps every test file inside the runner's per-file timeout. Their layers stay in the shared
// storage, so the image suites that follow reuse them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import {
  buildImage, devOnlyPackages, localBases, loudly, missingForRuntimeImages, sharedBuildah, withMountedImage, type Buildah,
} from './support.ts';

const missing = missingForRuntimeImages();
const deps = 'localhost/meshlens-test/stage-deps:test';
const t = suite('deps stage');
let buildah: Buildah;

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const bases = await localBases(buildah);
  console.log(`deps stage (npm ci --omit=dev, better-sqlite3 compiled when no prebuilt binary is reachable) built in ${(await buildImage(buildah, bases, 'control-plane/Containerfile', deps, 'deps')).toFixed(1)} s`);
}));

t.after(async () => {
  // The stage image stays: removing it would drop the cached layers the image suites reuse.
  if (!missing) await buildah.removeContainers();
});

const test = needs(missing, t);

test('deps: npm ci --omit=dev, native SQLite loads after the compiler intermediates are dropped', async () => {
  await withMountedImage(buildah, deps, (rootfs) => {
    for (const name of devOnlyPackages()) assert.not.ok(existsSync(join(rootfs, 'src/node_modules', name)), `devDependency ${name}`);
    assert.not.ok(existsSync(join(rootfs, 'src/node_modules/better-sqlite3/deps')), 'sqlite sources dropped');
  });
  const container = await buildah.from(deps);
  const { stdout } = await buildah.runIn(container, ['node', '-e',
    "const D = require('/src/node_modules/better-sqlite3'); console.log(new D(':memory:').prepare('select 6 * 7 as x').get().x)"]);
  assert.is(stdout.trim(), '42');
});

t.run();
