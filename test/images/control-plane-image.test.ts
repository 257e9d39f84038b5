// control-plane/Containerfile built with buildah on the local Debian base, its app stage made on the host by
// control-plane/image-app.sh (test/images/support.ts), and started with `buildah run --isolation chroot`: the
// runtime image holds compiled JavaScript and production dependencies only, `--help` answers, and
// `serve` answers /healthz and an authenticated admin call (SQLite through the native better-sqlite3) over HTTP.
// chroot isolation creates no network namespace, so the container's 127.0.0.1 is the host's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { parseTokenFile } from '../../control-plane/src/auth.ts';
import {
  buildImage, devOnlyPackages, directorySize, localBase, loudly, missingForImages, removeApp, sharedBuildah, stageApp,
  stopDetached, waitForLine, withMountedImage, type Buildah, type StagedApp,
} from './support.ts';

const missing = missingForImages();
const image = 'localhost/meshlens-test/control-plane:test';
const t = suite('control-plane image');
let buildah: Buildah;
let staged: StagedApp | undefined;
let entrypoint: string[] = [];
let user = '';

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  const base = await localBase(buildah);
  console.log(`local base ready in ${((Date.now() - started) / 1000).toFixed(1)} s (mmdebstrap run now: ${base.built})`);
  staged = await stageApp('control-plane');
  console.log(`/app staged on the host in ${staged.seconds.toFixed(1)} s (made now: ${staged.built.join(', ') || 'nothing, cached'})`);
  const seconds = await buildImage(buildah, base.image, 'control-plane', staged, image);
  console.log(`control-plane image built in ${seconds.toFixed(1)} s (storage driver ${buildah.driver})`);
  const config = (await buildah.inspectImage(image)).config;
  entrypoint = config.Entrypoint ?? [];
  user = config.User ?? '';
}));

t.after(async () => {
  if (missing) return;
  await buildah.removeContainers();
  // The image stays tagged: removing it would also remove its cached layers (the node agent's apt-get), and the next
  // run's build of the same name replaces it; the shared storage has its own size bound.
  removeApp(staged);
});

const test = needs(missing, t);

test('runtime image: compiled JS, production dependencies from npm ci --omit=dev, no devDependency, no toolchain', async () => {
  const dev = devOnlyPackages();
  assert.ok(dev.includes('tsx') && dev.includes('typescript'), 'the lock file marks tsx and typescript dev-only');
  const sizes = await withMountedImage(buildah, image, (rootfs) => {
    const app = join(rootfs, 'app');
    assert.ok(existsSync(join(app, 'control-plane/src/cli.js')), 'compiled entry point');
    assert.not.ok(existsSync(join(app, 'control-plane/src/cli.ts')), 'no TypeScript sources');
    for (const name of dev) assert.not.ok(existsSync(join(app, 'node_modules', name)), `devDependency ${name} in the image`);
    const production = Object.keys(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).dependencies);
    for (const name of production) assert.ok(existsSync(join(app, 'node_modules', name)), `dependency ${name} missing`);
    assert.ok(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')), 'native SQLite binding');
    assert.ok(existsSync(join(app, 'protos/meshlens/v1/discovery.proto')), 'protos the server loads at start');
    for (const tool of ['gcc', 'g++', 'clang', 'make', 'python3', 'npm']) assert.not.ok(existsSync(join(rootfs, 'usr/bin', tool)), `${tool} in the runtime image`);
    return { app: directorySize(app), total: directorySize(rootfs) };
  });
  console.log(`control-plane image: /app ${(sizes.app / 1e6).toFixed(1)} MB, root filesystem ${(sizes.total / 1e6).toFixed(1)} MB`);
  // Production dependencies are ~45 MB; devDependencies would add ~200 MB.
  assert.ok(sizes.app < 80e6, `/app is ${sizes.app} bytes`);
});

test('entry point is node on the compiled CLI, as the Deployment\'s uid', async () => {
  assert.equal(entrypoint, ['node', '/app/control-plane/src/cli.js']);
  assert.is(user, '65532:65532', 'istio/base/control-plane-deployment.yaml runAsUser/runAsGroup');
  const container = await buildah.from(image);
  assert.is((await buildah.runIn(container, ['id', '-u'])).stdout.trim(), '65532');
});

test('--help prints the usage', async () => {
  const container = await buildah.from(image);
  const { stdout } = await buildah.runIn(container, [...entrypoint, '--help']);
  assert.match(stdout, /^usage: meshlens <command>/);
  assert.match(stdout, /^  serve +run the control plane/m);
});

test('serve answers /healthz, /readyz and an admin call with the token it generated in its data dir', async () => {
  const container = await buildah.from(image);
  const running = buildah.startIn(container, [...entrypoint,
    'serve', '--data-dir', '/var/lib/meshlens/data', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0']);
  try {
    let tokenPath = '';
    const listening = await waitForLine(running.child, (line) => {
      // The first start says where the tokens are, never what they are (stdout ends up in pod logs).
      tokenPath = /generated the admin and proxy tokens in (\S+) \(mode 0600\)/.exec(line)?.[1] ?? tokenPath;
      return line.startsWith('{"event":"listening"');
    }, 120_000);
    const { httpPort } = JSON.parse(listening) as { httpPort: number };
    assert.is(tokenPath, '/var/lib/meshlens/data/tokens.json', 'first start names the token file it generated');
    assert.not.match(listening, /token/);
    const tokens = parseTokenFile(JSON.parse((await buildah.runIn(container, ['cat', tokenPath])).stdout));
    const adminToken = Object.values(tokens.admin)[0]!;
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.is(health.status, 200);
    assert.equal(await health.json(), { status: 'ok' });
    assert.is((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);
    const policies = await fetch(`http://127.0.0.1:${httpPort}/v1/policies`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.is(policies.status, 200, 'the SQLite store answers');
    assert.is((await fetch(`http://127.0.0.1:${httpPort}/v1/policies`)).status, 401, 'and still wants the token');
    const console = await fetch(`http://127.0.0.1:${httpPort}/ui/`);
    assert.is(console.status, 200, 'the console\'s static files are in the image');
    assert.match(console.headers.get('content-type') ?? '', /^text\/html/);
  } finally {
    await stopDetached(running);
  }
});

t.run();
