// The /app tree both runtime images take in one COPY (the Containerfiles' `app` stage), made on this host by
// control-plane/image-app.sh as a build stage would make it (test/images/support.ts). Made here first, on its own,
// because on a cold cache it is the slow part (better-sqlite3 compiles when no prebuilt binary is reachable): the
// image suites that follow reuse the cached result, and every file stays well inside the runner's per-file limit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { devOnlyPackages, loudly, missingForImages, removeApp, REPO_ROOT, stageApp, type StagedApp } from './support.ts';

const missing = missingForImages();
const t = suite('staged /app');
let staged: StagedApp | undefined;
let app = '';

t.before(loudly(async () => {
  if (missing) return;
  staged = await stageApp('node-agent');
  app = join(staged.context, 'app');
  console.log(`/app staged on the host in ${staged.seconds.toFixed(1)} s (made now: ${staged.built.join(', ') || 'nothing, cached'})`);
}));

t.after(() => removeApp(staged));

const test = needs(missing, t);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('node_modules is npm ci --omit=dev of the lock file: every dependency, no devDependency', () => {
  const dev = devOnlyPackages();
  assert.ok(dev.includes('tsx') && dev.includes('typescript'), 'the lock file marks tsx and typescript dev-only');
  for (const name of dev) assert.not.ok(existsSync(join(app, 'node_modules', name)), `devDependency ${name}`);
  const production = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).dependencies);
  for (const name of production) assert.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `dependency ${name} missing`);
  // npm ci records what it installed in node_modules/.package-lock.json: --omit=dev leaves out every dev entry.
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
  assert.equal(Object.keys(installed.packages).filter((path) => installed.packages[path]!.dev), []);
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
  for (const [path, entry] of Object.entries(installed.packages)) assert.is(entry.version, lock.packages[path]?.version, path);
});

test('better-sqlite3 loads on this node (the base\'s) after image-app.sh dropped its compiler inputs and intermediates', () => {
  const sqlite = join(app, 'node_modules/better-sqlite3');
  for (const dropped of ['deps', 'src', 'build/Release/obj.target', 'build/Release/sqlite3.a', 'build/Release/test_extension.node']) {
    assert.not.ok(existsSync(join(sqlite, dropped)), dropped);
  }
  const result = spawnSync(process.execPath, ['-e',
    `const D = require(${JSON.stringify(sqlite)}); console.log(new D(':memory:').prepare('select 6 * 7 as x').get().x)`], { encoding: 'utf8' });
  assert.is(result.stdout.trim(), '42', result.stderr);
});

test('compiled JavaScript, the protos, package.json and the loader; no TypeScript', () => {
  for (const path of ['control-plane/src/cli.js', 'control-plane/src/protos.js', 'bpf/agent/main.js', 'protos/meshlens/v1/kernel.proto',
    'package.json', 'bpf/.output/retrans']) {
    assert.ok(existsSync(join(app, path)), path);
  }
  assert.equal(filesUnder(app).filter((f) => f.endsWith('.ts') && !f.includes('/node_modules/')), []);
  assert.is(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type, 'module', 'the compiled ES modules need "type": "module"');
});

t.run();
