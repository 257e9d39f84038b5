// The build stages both runtime images copy from (control-plane/Containerfile; bpf/Containerfile has the same two),
// built on their own after the bases and before the images: on a cold cache they are the slow part (npm ci compiles
// better-sqlite3), and apart they keep each test file inside the runner's per-file timeout. Their layers stay in
// the shared storage, so the image suites that follow reuse them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import {
  buildImage, devOnlyPackages, localBases, loudly, missingForImages, sharedBuildah, withMountedImage, type Buildah,
} from './support.ts';

const missing = missingForImages();
const deps = 'localhost/meshlens-test/stage-deps:test';
const compile = 'localhost/meshlens-test/stage-compile:test';
const t = suite('build stages');
let buildah: Buildah;

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const bases = await localBases(buildah);
  console.log(`deps stage built in ${(await buildImage(buildah, bases, 'control-plane/Containerfile', deps, 'deps')).toFixed(1)} s`);
  console.log(`compile stage built in ${(await buildImage(buildah, bases, 'control-plane/Containerfile', compile, 'compile')).toFixed(1)} s`);
}));

t.after(async () => {
  // The stage images stay: removing them would drop the cached layers the image suites reuse.
  if (!missing) await buildah.removeContainers();
});

const test = needs(missing, t);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

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
