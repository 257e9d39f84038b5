// The local stand-in for the runtime images' public base (test/images/support.ts), built first and on its own so a
// cold mmdebstrap is timed apart from the image builds that follow.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { localBase, loudly, missingForImages, sharedBuildah, type Buildah } from './support.ts';

const missing = missingForImages();
const t = suite('local base');
let buildah: Buildah;
let base: string;

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  const local = await localBase(buildah);
  base = local.image;
  console.log(`local base ready in ${((Date.now() - started) / 1000).toFixed(1)} s (mmdebstrap run now: ${local.built}; storage driver ${buildah.driver})`);
}));

t.after(async () => {
  if (!missing) await buildah.removeContainers();
});

const test = needs(missing, t);

test('the runtime base runs the machine\'s node (whose ABI the staged native modules are built for) and has no toolchain', async () => {
  const container = await buildah.from(base);
  assert.is((await buildah.runIn(container, ['node', '--version'])).stdout.trim(), process.version);
  assert.is((await buildah.runIn(container, ['node', '-p', 'process.versions.modules'])).stdout.trim(), process.versions.modules);
  // One `buildah run` for all four: each costs seconds on a loaded machine.
  const found = await buildah.runIn(container, ['sh', '-c', 'for tool in gcc cc make npm; do command -v $tool; done; true']);
  assert.is(found.stdout.trim(), '', 'toolchain in the runtime base');
});

t.run();
