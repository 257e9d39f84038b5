// The compiled meshlens CLI (dist/, as `npx meshlens` runs it) against a real control plane: every output format,
// YAML apply (create, update, unchanged, strict versions, several documents), diff, history as diffs, refusal of
// empty input, the token and 401 messages, exit codes, help, version and shell completion.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { generateTokenFile } from '../../control-plane/src/auth.ts';
import { makePki, opensslMissing } from '../support/pki.ts';
import { needs } from '../support/skip.ts';
import { runCli, root } from './cli-support.ts';
import { startTestPlane, type TestPlane } from './helpers.ts';

const test = suite<{ plane: TestPlane; dir: string }>('cli');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane();
  ctx.dir = mkdtempSync(join(tmpdir(), 'meshlens-cli-'));
});
test.after.each(async (ctx) => {
  await ctx.plane.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const client = (plane: TestPlane) => ['--url', `http://127.0.0.1:${plane.httpPort}`, '--token', plane.adminToken];
const cli = (plane: TestPlane, ...args: string[]) => runCli([...args, ...client(plane)]);
const cliStdin = (plane: TestPlane, stdin: string, ...args: string[]) => runCli([...args, ...client(plane)], { stdin });

const ORDERS = 'outbound|8080||orders.default.svc.cluster.local';

test('policy set, get, list, history, rollback and rollout status keep their JSON answers', async ({ plane, dir }) => {
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
  const history = JSON.parse((await cli(plane, 'policy', 'history', 'orders', '-o', 'json')).stdout).entries;
  assert.equal(history.map((e: any) => e.kind), ['ROLLBACK', 'UPDATE', 'CREATE']);
  const rollout = JSON.parse((await cli(plane, 'rollout', 'status')).stdout);
  assert.equal([rollout.snapshotVersion, rollout.connected], ['3', 0]);
});

test('-o json, yaml and table print the same policies', async ({ plane }) => {
  await plane.operations.set('admin', 'orders', 0, { target: { cluster: ORDERS, pathTemplate: '/api/orders/{id}' } });
  await plane.operations.set('admin', 'payments', 0, { target: { cluster: 'payments', perTenant: false } });
  const json = await cli(plane, 'policy', 'list', '-o', 'json');
  const yaml = await cli(plane, 'policy', 'list', '-o', 'yaml');
  const table = await cli(plane, 'policy', 'list', '-o', 'table');
  for (const r of [json, yaml, table]) assert.is(r.code, 0, r.stderr);
  assert.equal(parseYaml(yaml.stdout), JSON.parse(json.stdout));
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+VERSION\s+CLUSTER\s+PATH\s+PER-TENANT\s+UPDATED BY\s+UPDATED AT$/);
  assert.match(lines[1]!, /^orders\s+1\s+outbound\|8080\|\|orders\.default\.svc\.cluster\.local\s+\/api\/orders\/\{id\}\s+true\s+admin\s+2027-01-15T08:00:00\.000Z$/);
  assert.match(lines[2]!, /^payments\s+1\s+payments\s+\*\s+false\s+admin\s+/);
  assert.is(lines.length, 3);
  // Every read command takes -o; a format outside the three is a usage error.
  for (const args of [['policy', 'get', 'orders'], ['rollout', 'status'], ['endpoints'], ['correlations'], ['policy', 'status'], ['policy', 'history', 'orders'], ['version']]) {
    for (const format of ['json', 'yaml', 'table']) {
      const r = await cli(plane, ...args, '-o', format);
      assert.is(r.code, 0, `${args.join(' ')} -o ${format}: ${r.stderr}`);
      if (format === 'json') JSON.parse(r.stdout);
      if (format === 'yaml') assert.ok(parseYaml(r.stdout) !== null);
    }
  }
  const bad = await cli(plane, 'policy', 'list', '-o', 'xml');
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^meshlens: invalid flag: -o must be one of json, yaml, table\nusage: meshlens policy list/);
});

test('policy apply -f: several YAML documents created, unchanged, updated; strict versions refuse a stale write', async ({ plane, dir }) => {
  const file = join(dir, 'policies.yaml');
  const write = (openMs: number) => writeFileSync(file, [
    '# two policies in one file',
    'id: orders',
    'policy:',
    `  target: {cluster: "${ORDERS}", pathTemplate: "*"}`,
    `  breaker: {errorRateThreshold: 0.5, openMs: ${openMs}}`,
    '---',
    'id: payments',
    'policy:',
    '  target: {cluster: payments}',
    '',
  ].join('\n'));
  write(4000);
  const created = await cli(plane, 'policy', 'apply', '-f', file);
  assert.is(created.code, 0, created.stderr);
  assert.is(created.stdout, 'policy/orders created (version 1)\npolicy/payments created (version 1)\n');
  assert.is((await plane.operations.get('orders')).policy.breaker.openMs, 4000);

  const again = await cli(plane, 'policy', 'apply', '-f', file);
  assert.is(again.stdout, 'policy/orders unchanged (version 1)\npolicy/payments unchanged (version 1)\n');
  assert.is((await plane.operations.history('orders')).length, 1, 'an unchanged policy is not written again');

  write(9000);
  const updated = await cli(plane, 'policy', 'apply', '-f', file, '-o', 'json');
  assert.equal(JSON.parse(updated.stdout).map((r: any) => [r.id, r.action, r.version]), [['orders', 'configured', 2], ['payments', 'unchanged', 1]]);
  assert.is((await plane.operations.get('orders')).policy.breaker.openMs, 9000);

  // --expected-version: the write must replace exactly that version.
  const single = join(dir, 'orders.yaml');
  writeFileSync(single, `id: orders\npolicy:\n  target: {cluster: "${ORDERS}"}\n  breaker: {openMs: 7000}\n`);
  const stale = await cli(plane, 'policy', 'apply', '-f', single, '--expected-version', '1');
  assert.is(stale.code, 1);
  assert.is(stale.stderr, 'meshlens: 409 FAILED_PRECONDITION: stale write: policy orders is at version 2, the request expected version 1\n');
  const strict = await cli(plane, 'policy', 'apply', '-f', single, '--expected-version', '2');
  assert.is(strict.stdout, 'policy/orders configured (version 3)\n');
  const ambiguous = await cli(plane, 'policy', 'apply', '-f', file, '--expected-version', '3');
  assert.is(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /--expected-version applies to a single document/);

  // JSON works too, from stdin; a server-side validation error names the field and stores nothing.
  const invalid = await cliStdin(plane, JSON.stringify({ id: 'bad', policy: { breaker: { errorRateThreshold: 2 } } }), 'policy', 'apply', '-f', '-');
  assert.is(invalid.code, 1);
  assert.is(invalid.stderr, 'meshlens: 400 INVALID_ARGUMENT: invalid policy: breaker.errorRateThreshold must be in (0, 1]\n');
  assert.equal((await plane.operations.list()).policies.map((p) => p.id), ['orders', 'payments']);
});

test('policy diff shows the change against the stored version with defaults applied; history is diffs, not policies', async ({ plane, dir }) => {
  await plane.operations.set('admin', 'orders', 0, { target: { cluster: ORDERS }, breaker: { openMs: 4000 } });
  const file = join(dir, 'orders.yaml');
  writeFileSync(file, `id: orders\npolicy:\n  target: {cluster: "${ORDERS}"}\n  breaker: {openMs: 9000}\n---\nid: fresh\npolicy:\n  target: {cluster: fresh}\n`);
  const diff = await cli(plane, 'policy', 'diff', '-f', file);
  assert.is(diff.code, 0, diff.stderr);
  const [orders, fresh] = diff.stdout.split(/(?=^--- )/m);
  assert.match(orders!, /^--- orders version 1 \(stored\)\n\+\+\+ orders \(.*orders\.yaml document 1\)\n@@ -\d+,7 \+\d+,7 @@\n/);
  assert.equal(orders!.split('\n').filter((l) => /^[-+] /.test(l)), ['-  openMs: 4000', '+  openMs: 9000'], 'only the changed line, defaults are equal');
  assert.match(fresh!, /^--- \/dev\/null\n/);
  assert.match(fresh!, /^\+  cluster: fresh$/m);
  assert.is((await plane.operations.get('orders')).version, 1, 'diff writes nothing');
  const same = join(dir, 'same.yaml');
  writeFileSync(same, `id: orders\npolicy:\n  target: {cluster: "${ORDERS}"}\n  breaker: {openMs: 4000}\n`);
  assert.is((await cli(plane, 'policy', 'diff', '-f', same)).stdout, 'policy/orders: no differences\n');

  for (const openMs of [5000, 6000]) {
    const current = await plane.operations.get('orders');
    await plane.operations.set('admin', 'orders', current.version, { target: { cluster: ORDERS }, breaker: { openMs } });
  }
  const history = await cli(plane, 'policy', 'history', 'orders');
  assert.is(history.code, 0, history.stderr);
  const entries = history.stdout.split(/\n(?=version )/);
  assert.is(entries.length, 3);
  assert.match(entries[0]!, /^version 3  UPDATE  by admin  at 2027-01-15T08:00:00\.000Z  \(snapshot 3\)\n  --- orders before version 3\n  \+\+\+ orders version 3\n/);
  assert.equal(entries[0]!.split('\n').filter((l) => /^ {2}[-+] /.test(l)), ['  -  openMs: 5000', '  +  openMs: 6000']);
  // An update shows its changed line with 3 lines of context, not the whole policy (CREATE shows it once).
  const policyLines = (await cli(plane, 'policy', 'get', 'orders', '-o', 'yaml')).stdout.split('\n').length;
  assert.ok(entries[0]!.split('\n').length < 16 && policyLines > 40, `${entries[0]!.split('\n').length} lines for an update, a policy has ${policyLines}`);
  assert.match(entries[2]!, /^version 1  CREATE  by admin/);
  assert.match(entries[2]!, /^ {2}--- \/dev\/null$/m);
});

test('empty input and {} are refused with a clear error; nothing is stored', async ({ plane, dir }) => {
  const emptyObject = await cliStdin(plane, '{}', 'policy', 'set', 'x', '--file', '-');
  assert.is(emptyObject.code, 1);
  assert.is(emptyObject.stderr, 'meshlens: invalid input: stdin must not be an empty policy: {} would apply every default to every cluster; name at least target.cluster\n');
  const nothing = await cliStdin(plane, '  \n', 'policy', 'set', 'x', '--file', '-');
  assert.is(nothing.stderr, 'meshlens: invalid input: stdin must not be empty\n');
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'id: x\npolicy: {}\n');
  const emptyPolicy = await cli(plane, 'policy', 'apply', '-f', file);
  assert.is(emptyPolicy.stderr, `meshlens: invalid input: ${file}: policy must not be an empty policy: {} would apply every default to every cluster; name at least target.cluster\n`);
  writeFileSync(file, '---\n---\n');
  assert.is((await cli(plane, 'policy', 'apply', '-f', file)).stderr, `meshlens: invalid input: ${file} must hold at least one document\n`);
  writeFileSync(file, 'id: x\npolicies:\n  target: {cluster: a}\n');
  assert.is((await cli(plane, 'policy', 'apply', '-f', file)).stderr,
    `meshlens: invalid input: ${file}: policies must not be present (allowed: id, policy, expectedVersion, confirm)\n`);
  const missingFile = await cli(plane, 'policy', 'apply', '-f', join(dir, 'nope.yaml'));
  assert.is(missingFile.stderr, `meshlens: cannot read ${join(dir, 'nope.yaml')}: no such file\n`);
  assert.equal((await plane.operations.list()).policies, []);
});

test('token errors: a missing token file is named with how to get one; a 401 says which token was used', async ({ plane, dir }) => {
  const url = ['--url', `http://127.0.0.1:${plane.httpPort}`];
  const missing = await runCli(['policy', 'list', ...url, '--data-dir', dir]);
  assert.is(missing.code, 1);
  assert.is(missing.stderr, `meshlens: no admin token: the token file ${join(dir, 'tokens.json')} does not exist. The control plane writes tokens.json ` +
    'into its data directory on first start (npm start and meshlens serve: ./.meshlens/, or --data-dir); pass --token-file FILE or ' +
    '--data-dir DIR, or the token itself with --token or MESHLENS_TOKEN\n');
  const otherFile = join(dir, 'other-tokens.json');
  writeFileSync(otherFile, JSON.stringify(generateTokenFile()));
  const wrongFile = await runCli(['policy', 'list', ...url, '--token-file', otherFile]);
  assert.is(wrongFile.code, 1);
  assert.is(wrongFile.stderr, 'meshlens: 401 UNAUTHENTICATED: unauthenticated: authorization must carry a valid admin bearer token ' +
    `(the admin token came from the token file ${otherFile} (identity "admin"); is it this control plane's?)\n`);
  const wrongEnv = await runCli(['policy', 'list', ...url], { env: { MESHLENS_TOKEN: 'meshlens_admin_not-this-one-at-all' } });
  assert.match(wrongEnv.stderr, /\(the admin token came from the environment variable MESHLENS_TOKEN; is it this control plane's\?\)\n$/);
  // The control plane's own token file, found through --data-dir as `npm start` lays it out, works.
  const right = await runCli(['policy', 'list', ...url, '--data-dir', plane.dataDir]);
  assert.is(right.code, 0, right.stderr);
  writeFileSync(otherFile, '{"proxy": "x"}');
  assert.is((await runCli(['policy', 'list', ...url, '--token-file', otherFile])).stderr,
    `meshlens: invalid token file ${otherFile}: admin must map at least one identity to a token\n`);
});

test('exit codes: 0 ok, 1 server error or unreachable, 2 usage; usage errors name the problem, never a stack trace', async ({ plane }) => {
  const help = await cli(plane, '--help');
  assert.is(help.code, 0);
  assert.match(help.stdout, /^usage: meshlens <command>/);
  assert.match(help.stdout, /^ {2}policy apply\s+create or update the policies of a YAML\/JSON file$/m);
  assert.match(help.stdout, /exit codes: 0 ok, 1 the request failed .*, 2 usage error/);
  const applyHelp = await cli(plane, 'policy', 'apply', '--help');
  assert.is(applyHelp.code, 0);
  assert.match(applyHelp.stdout, /^usage: meshlens policy apply \[options\]/);
  assert.match(applyHelp.stdout, /--confirm-within DURATION/);
  assert.is((await cli(plane, 'help', 'policy', 'apply')).stdout, applyHelp.stdout);
  const group = await cli(plane, 'policy');
  assert.is(group.code, 2);
  assert.match(group.stderr, /^meshlens: policy needs a command\n/);

  const unknownOption = await cli(plane, 'policy', 'list', '--bogus');
  assert.is(unknownOption.code, 2);
  assert.match(unknownOption.stderr, /^meshlens: Unknown option '--bogus'\nusage: meshlens policy list \[options\]/);
  assert.not.match(unknownOption.stderr, /\bat .*cli\.[tj]s/);
  const unknownCommand = await cli(plane, 'frobnicate');
  assert.is(unknownCommand.code, 2);
  assert.match(unknownCommand.stderr, /^meshlens: unknown command "frobnicate"\n/);
  const missingId = await cli(plane, 'policy', 'get');
  assert.is(missingId.code, 2);
  assert.match(missingId.stderr, /^meshlens: policy get needs <id>\nusage: meshlens policy get <id>/);
  const badVersion = await cli(plane, 'policy', 'delete', 'x', '--expected-version', 'two');
  assert.is(badVersion.code, 2);
  assert.match(badVersion.stderr, /^meshlens: invalid flag: --expected-version must be a non-negative integer\n/);

  const notFound = await cli(plane, 'policy', 'get', 'nope');
  assert.is(notFound.code, 1);
  assert.is(notFound.stderr, 'meshlens: 404 NOT_FOUND: policy nope not found\n');
  const unreachable = await runCli(['rollout', 'status', '--url', 'http://127.0.0.1:9', '--token', 'x']);
  assert.is(unreachable.code, 1);
  assert.match(unreachable.stderr, /^meshlens: cannot reach the control plane at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
  const badUrl = await runCli(['rollout', 'status', '--url', 'ftp://x', '--token', 'x']);
  assert.is(badUrl.code, 2);
});

test('version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const text = await runCli(['version']);
  assert.is(text.stdout, `meshlens ${version} (node ${process.versions.node})\n`);
  assert.equal(JSON.parse((await runCli(['version', '-o', 'json'])).stdout), { version, node: process.versions.node });
});

// The HTTP admin API over TLS, as `meshlens serve --tls-cert/--tls-key` serves it, with a certificate from a test CA.
needs(opensslMissing(), test)('https:// URLs: verified with --ca or MESHLENS_CA, refused without', async ({ dir }) => {
  makePki(dir);
  const plane = await startTestPlane({ tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') } });
  try {
    await plane.operations.set('admin', 'orders', 0, { target: { cluster: ORDERS } });
    const url = `https://127.0.0.1:${plane.httpPort}`;
    const flagCa = await runCli(['policy', 'list', '-o', 'json', '--url', url, '--token', plane.adminToken, '--ca', join(dir, 'ca.crt')]);
    assert.is(flagCa.code, 0, flagCa.stderr);
    assert.equal(JSON.parse(flagCa.stdout).policies.map((p: any) => p.id), ['orders']);
    const envCa = await runCli(['policy', 'get', 'orders', '--token', plane.adminToken], { env: { MESHLENS_URL: url, MESHLENS_CA: join(dir, 'ca.crt') } });
    assert.is(envCa.code, 0, envCa.stderr);
    const unverified = await runCli(['policy', 'list', '--url', url, '--token', plane.adminToken]);
    assert.is(unverified.code, 1);
    assert.match(unverified.stderr, new RegExp(`^meshlens: cannot reach the control plane at ${url.replace(/\./g, '\\.')}: (self[- ]signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate)\n$`));
    const missingCa = await runCli(['policy', 'list', '--url', url, '--token', plane.adminToken, '--ca', join(dir, 'nope.crt')]);
    assert.is(missingCa.code, 1);
    assert.match(missingCa.stderr, /^meshlens: cannot read the CA file .*nope\.crt: ENOENT/);
    const plain = await runCli(['policy', 'list', '--url', `http://127.0.0.1:${plane.httpPort}`, '--token', plane.adminToken]);
    assert.is(plain.code, 1, 'the TLS port does not answer plain HTTP');
  } finally {
    await plane.stop();
  }
});

const hasBash = spawnSync('bash', ['--version']).status === 0;

test('completion bash completes commands, subcommands, options and formats; zsh wraps it', async () => {
  if (!hasBash) throw new Error('bash is part of every supported machine');
  const script = (await runCli(['completion', 'bash'])).stdout;
  const complete = (...words: string[]) => execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _meshlens; echo "\${COMPREPLY[*]}"`]).toString().trim();
  assert.is(complete('meshlens', 'pol'), 'policy');
  assert.is(complete('meshlens', 'policy', 'ap'), 'apply');
  assert.is(complete('meshlens', '--url', 'http://x', 'policy', 'd'), 'diff delete');
  assert.is(complete('meshlens', 'policy', 'apply', '--conf'), '--confirm-within');
  assert.is(complete('meshlens', 'policy', 'list', '-o', ''), 'json yaml table');
  assert.is(complete('meshlens', 'completion', ''), 'bash zsh');
  const zsh = (await runCli(['completion', 'zsh'])).stdout;
  assert.match(zsh, /^#compdef meshlens\n/);
  assert.ok(zsh.includes(script), 'zsh runs the same function through bashcompinit');
  const bad = await runCli(['completion', 'fish']);
  assert.is(bad.code, 2);
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
