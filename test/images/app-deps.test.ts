// The production node_modules both runtime images take in their /app (the Containerfiles' deps stage), made on this
// host by control-plane/image-app.sh deps as that stage makes it (test/images/support.ts). Made first and on its own
// file: on a cold cache it is the slowest step (better-sqlite3 compiles, as no prebuilt binary is reachable here), and
// the files that follow reuse the cached result, so every file stays inside the runner's per-file limit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { devOnlyPackages, loudly, missingForImages, REPO_ROOT, stagedDeps } from './support.ts';

const missing = missingForImages();
const t = suite('staged node_modules');
let modules = '';

t.before(loudly(async () => {
  if (missing) return;
  const started = Date.now();
  const deps = await stagedDeps();
  modules = join(deps.path, 'node_modules');
  console.log(`node_modules staged on the host in ${((Date.now() - started) / 1000).toFixed(1)} s (npm ci --omit=dev run now: ${deps.built})`);
}));

const test = needs(missing, t);

test('node_modules is npm ci --omit=dev of the lock file: every dependency, no devDependency', () => {
  const dev = devOnlyPackages();
  assert.ok(dev.includes('tsx') && dev.includes('typescript'), 'the lock file marks tsx and typescript dev-only');
  for (const name of dev) assert.not.ok(existsSync(join(modules, name)), `devDependency ${name}`);
  const production = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).dependencies);
  for (const name of production) assert.ok(existsSync(join(modules, name, 'package.json')), `dependency ${name} missing`);
  // npm ci records what it installed in node_modules/.package-lock.json: --omit=dev leaves out every dev entry.
  const installed = JSON.parse(readFileSync(join(modules, '.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
  assert.equal(Object.keys(installed.packages).filter((path) => installed.packages[path]!.dev), []);
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
  for (const [path, entry] of Object.entries(installed.packages)) assert.is(entry.version, lock.packages[path]?.version, path);
});

test('better-sqlite3 loads on this node (the base\'s) after image-app.sh dropped its compiler inputs and intermediates', () => {
  const sqlite = join(modules, 'better-sqlite3');
  for (const dropped of ['deps', 'src', 'build/Release/obj.target', 'build/Release/sqlite3.a', 'build/Release/test_extension.node']) {
    assert.not.ok(existsSync(join(sqlite, dropped)), dropped);
  }
  const result = spawnSync(process.execPath, ['-e',
    `const D = require(${JSON.stringify(sqlite)}); console.log(new D(':memory:').prepare('select 6 * 7 as x').get().x)`], { encoding: 'utf8' });
  assert.is(result.stdout.trim(), '42', result.stderr);
});

t.run();
