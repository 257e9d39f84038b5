// The meshlens CLI as a client of the HTTP admin API: policy set/get/list/history/rollback and rollout status,
// with errors reported on stderr and a non-zero exit.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateTokenFile } from '../../control-plane/src/auth.ts';
import { startTestPlane, type TestPlane } from './helpers.ts';

const test = suite<{ plane: TestPlane; dir: string }>('cli');
const root = fileURLToPath(new URL('../..', import.meta.url));

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane();
  ctx.dir = mkdtempSync(join(tmpdir(), 'meshlens-cli-'));
});
test.after.each(async (ctx) => {
  await ctx.plane.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

function cli(plane: TestPlane, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), ...args,
      '--url', `http://127.0.0.1:${plane.httpPort}`, '--token', plane.adminToken], { cwd: root },
    (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }));
  });
}

test('policy set, get, list, history, rollback and rollout status', async ({ plane, dir }) => {
  const file = join(dir, 'orders.json');
  writeFileSync(file, JSON.stringify({ target: { cluster: 'orders' }, breaker: { openMs: 4000 } }));
  const created = await cli(plane, 'policy', 'set', 'orders', '--file', file, '--expected-version', '0');
  assert.is(created.code, 0, created.stderr);
  assert.is(JSON.parse(created.stdout).version, 1);
  writeFileSync(file, JSON.stringify({ target: { cluster: 'orders' }, breaker: { openMs: 9000 } }));
  assert.is((await cli(plane, 'policy', 'set', 'orders', '--file', file, '--expected-version', '1')).code, 0);
  assert.is(JSON.parse((await cli(plane, 'policy', 'get', 'orders')).stdout).policy.breaker.openMs, 9000);
  assert.equal(JSON.parse((await cli(plane, 'policy', 'list')).stdout).policies.map((p: any) => p.id), ['orders']);
  const rolledBack = await cli(plane, 'policy', 'rollback', 'orders', '--to', '1', '--expected-version', '2');
  assert.is(JSON.parse(rolledBack.stdout).policy.breaker.openMs, 4000);
  const history = JSON.parse((await cli(plane, 'policy', 'history', 'orders')).stdout).entries;
  assert.equal(history.map((e: any) => e.kind), ['ROLLBACK', 'UPDATE', 'CREATE']);
  const rollout = JSON.parse((await cli(plane, 'rollout', 'status')).stdout);
  assert.equal([rollout.snapshotVersion, rollout.connected], ['3', 0]);
});

test('errors exit non-zero with the server\'s code and message', async ({ plane, dir }) => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ breaker: { errorRateThreshold: 2 } }));
  const invalid = await cli(plane, 'policy', 'set', 'p', '--file', file, '--expected-version', '0');
  assert.is(invalid.code, 1);
  assert.is(invalid.stderr, 'meshlens: 400 INVALID_ARGUMENT: invalid policy: breaker.errorRateThreshold must be in (0, 1]\n');
  const missing = await cli(plane, 'policy', 'get', 'nope');
  assert.is(missing.stderr, 'meshlens: 404 NOT_FOUND: policy nope not found\n');
});

test('usage errors name the problem and print the usage, never a stack trace', async ({ plane }) => {
  const help = await cli(plane, '--help');
  assert.is(help.code, 0);
  assert.match(help.stdout, /^usage: meshlens <command>/);
  assert.match(help.stdout, /rollout status/);
  const unknownOption = await cli(plane, 'policy', 'list', '--bogus');
  assert.is(unknownOption.code, 2);
  assert.match(unknownOption.stderr, /^meshlens: Unknown option '--bogus'/);
  assert.not.match(unknownOption.stderr, /\bat .*cli\.ts/);
  const unknownCommand = await cli(plane, 'frobnicate');
  assert.is(unknownCommand.code, 1);
  assert.match(unknownCommand.stderr, /^meshlens: unknown command "frobnicate"\nusage:/);
});

test('an unreachable control plane is reported with its address', async () => {
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), 'rollout', 'status',
      '--url', 'http://127.0.0.1:9', '--token', 'x'], { cwd: root },
    (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }));
  });
  assert.is(result.code, 1);
  assert.match(result.stderr, /^meshlens: cannot reach the control plane at http:\/\/127\.0\.0\.1:9: /);
});

test('generated tokens can be passed as --token T: none starts with "-", each names its kind', () => {
  // A bare base64url token starts with '-' once in 64 draws and parseArgs then refuses `--token <it>` as ambiguous;
  // 2,000 draws would hit that with probability 1 - (63/64)^2000, i.e. always.
  for (let draw = 0; draw < 1000; draw++) {
    const tokens = generateTokenFile();
    const admin = Object.values(tokens.admin)[0];
    assert.ok(!admin.startsWith('-') && !tokens.proxy.startsWith('-'), `${admin} ${tokens.proxy}`);
    assert.match(admin, /^meshlens_admin_[A-Za-z0-9_-]{32}$/);
    assert.match(tokens.proxy, /^meshlens_proxy_[A-Za-z0-9_-]{32}$/);
  }
});

test.run();
