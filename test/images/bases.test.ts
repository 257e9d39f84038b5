// The local stand-ins for the Containerfiles' public bases (test/images/support.ts), built first and on their own so
// the image suites that follow stay well inside the runner's per-file timeout on a cold cache.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { localBases, loudly, missingForRuntimeImages, sharedBuildah, type Buildah, type LocalBases } from './support.ts';

const missing = missingForRuntimeImages();
const t = suite('local bases');
let buildah: Buildah;
let bases: LocalBases;

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  bases = await localBases(buildah);
  console.log(`local bases ready in ${((Date.now() - started) / 1000).toFixed(1)} s (tarballs built now: ${bases.builtTarballs.length})`);
}));

t.after(async () => {
  if (!missing) await buildah.removeContainers();
});

const test = needs(missing, t);

test('the runtime base runs the machine\'s node and has no toolchain', async () => {
  const container = await buildah.from(bases.base);
  assert.is((await buildah.runIn(container, ['node', '--version'])).stdout.trim(), process.version);
  for (const tool of ['gcc', 'cc', 'make', 'npm']) {
    await assert.not.ok(await buildah.runIn(container, ['sh', '-c', `command -v ${tool}`]).then(() => true, () => false), `${tool} in the runtime base`);
  }
});

test('the build base has npm on that node, node\'s headers and a C++ toolchain for native modules', async () => {
  const container = await buildah.from(bases.buildBase);
  assert.is((await buildah.runIn(container, ['node', '--version'])).stdout.trim(), process.version);
  assert.is((await buildah.runIn(container, ['npm', 'config', 'get', 'nodedir'])).stdout.trim(), '/usr');
  const found = (await buildah.runIn(container, ['sh', '-c', 'test -f /usr/include/node/node.h && for tool in g++ make python3; do command -v $tool; done'])).stdout;
  assert.equal(found.trim().split('\n'), ['/usr/bin/g++', '/usr/bin/make', '/usr/bin/python3']);
});

t.run();
