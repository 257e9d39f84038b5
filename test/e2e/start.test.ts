// `npm start` end to end (issue 4): filter/host/main.ts as a real child process on ephemeral ports with a temporary
// data dir — demo upstream, sidecar running the release filter, and the embedded control plane the filter's VMs
// stream policies from. Traffic goes through the sidecar, the CLI (control-plane/src/cli.ts, admin token read from
// the data dir) changes a breaker threshold, `rollout status` must show every filter VM ACKing it, and SIGTERM must
// shut everything down with exit code 0.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startMain as spawnMain, until, type Ready, type Started } from '../support/start-main.ts';
import { request } from '../sidecar/support.ts';

const DEMO_CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const WORKERS = 2;

interface RolloutNode {
  nodeId: string;
  worker: string;
  ackedVersion: string;
  nackedVersion: string;
  connected: boolean;
}

interface Rollout {
  snapshotVersion: string;
  nodes: RolloutNode[];
}

/** Spawns `npm start`'s entry point (demo upstream, no Prometheus) and resolves once it prints its ready line. */
function startMain(dataDir: string): Promise<Started> {
  return spawnMain({ dataDir, workers: WORKERS });
}

/** Runs the meshlens CLI against the started control plane; the admin token comes from the data dir's token file. */
function cli(ready: Ready, args: string[], stdin?: string): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'control-plane/src/cli.ts', '--url', `http://127.0.0.1:${ready.httpPort}`,
    '--token-file', join(ready.dataDir, 'tokens.json'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`meshlens ${args.join(' ')} failed (${code}): ${err}`)))));
}

/**
 * GET /v1/rollout over HTTP with the admin token from the data dir, which is what `rollout status` calls: polling
 * through the CLI would start a Node process per probe, too slow on a loaded machine. The CLI is run once, after.
 */
async function rolloutStatus(ready: Ready): Promise<Rollout> {
  const tokens = JSON.parse(readFileSync(join(ready.dataDir, 'tokens.json'), 'utf8')) as { admin: Record<string, string> };
  const response = await request(ready.httpPort, '/v1/rollout', { authorization: `Bearer ${Object.values(tokens.admin)[0]}` });
  assert.is(response.status, 200, response.body);
  return JSON.parse(response.body) as Rollout;
}

function mine(rollout: Rollout, ready: Ready): RolloutNode[] {
  return rollout.nodes.filter((n) => n.nodeId === ready.nodeId && n.connected);
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const start = suite<{ dataDir?: string; started?: Started }>('npm start: sidecar + filter + control plane in one process');

start.before.each((ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'meshlens-start-'));
});
start.after.each((ctx) => {
  if (ctx.started && ctx.started.child.exitCode === null) ctx.started.child.kill('SIGKILL');
  if (ctx.dataDir) rmSync(ctx.dataDir, { recursive: true, force: true });
});

start('traffic, a CLI threshold change ACKed by every filter VM, metrics, and a clean SIGTERM', async (ctx) => {
  const started = (ctx.started = await startMain(ctx.dataDir!));
  const { ready } = started;
  assert.is(ready.vms, WORKERS + 1, 'one VM per worker plus the main thread');
  assert.ok(existsSync(join(ctx.dataDir!, 'tokens.json')), 'the control plane generated its tokens in MESHLENS_DATA_DIR');
  assert.is((await request(ready.adminPort, '/ready')).status, 200);

  // The VMs elect one holder of the proxy's discovery stream on their first ticks; it ACKs the initial snapshot
  // once every VM applied it. One rollout row for the proxy.
  const initial = await until(async () => {
    const rollout = await rolloutStatus(ready);
    return mine(rollout, ready).length === 1 ? rollout : undefined;
  }, 'the proxy connected');
  const before = initial.snapshotVersion;

  for (let id = 1; id <= 5; id++) {
    const response = await request(ready.listenerPort, `/api/orders/${id}`, { 'x-tenant-id': 'acme' });
    assert.is(response.status, 200, response.body);
  }

  const policy = { target: { cluster: DEMO_CLUSTER, pathTemplate: '*' }, breaker: { errorRateThreshold: 0.5 } };
  const set = (await cli(ready, ['policy', 'set', 'orders', '--file', '-', '--expected-version', '0'], JSON.stringify(policy))) as {
    version: number; snapshotVersion: number; policy: { breaker: { errorRateThreshold: number } };
  };
  assert.is(set.version, 1);
  assert.is(set.policy.breaker.errorRateThreshold, 0.5);
  const version = String(set.snapshotVersion);
  assert.is.not(version, before, 'the change made a new snapshot');

  await until(async () => {
    const nodes = mine(await rolloutStatus(ready), ready);
    return nodes.length === 1 && nodes.every((n) => n.ackedVersion === version) ? nodes : undefined;
  }, `the proxy (every filter VM) to ACK snapshot ${version}`);
  // Once converged, the operator's `rollout status` shows it.
  const converged = mine((await cli(ready, ['rollout', 'status'])) as Rollout, ready);
  assert.equal(converged.map((n) => n.worker), ['proxy']);
  assert.ok(converged.every((n) => n.ackedVersion === version), JSON.stringify(converged));
  assert.ok(converged.every((n) => n.nackedVersion === ''), 'no NACK');

  const metrics = (await request(ready.adminPort, '/stats/prometheus')).body;
  const requests = metrics.split('\n').find((l) =>
    l.startsWith('meshlens_requests_total{') && l.includes('path="/api/orders/{id}"') && l.includes('response_code="200"') && l.includes('tenant="acme"'));
  assert.ok(requests, metrics);
  assert.is(Number(requests!.slice(requests!.lastIndexOf(' ') + 1)), 5);
  const acks = metrics.split('\n').find((l) => l.startsWith('meshlens_control_plane_acks_total'));
  assert.ok(acks && Number(acks.slice(acks.lastIndexOf(' ') + 1)) >= 2, `the proxy ACKed both snapshots: ${acks}`);

  started.child.kill('SIGTERM');
  const exit = await started.exited;
  assert.equal(exit, { code: 0, signal: null }, started.stderr.join('\n'));
  assert.ok(started.stdout.includes('meshlens: stopped'));
  for (const port of [ready.listenerPort, ready.adminPort, ready.grpcPort, ready.httpPort]) {
    assert.ok(await refusesConnections(port), `port ${port} is closed after shutdown`);
  }
});

start('the printed CLI example names the real HTTP API and token file', async (ctx) => {
  const started = (ctx.started = await startMain(ctx.dataDir!));
  const { ready } = started;
  const printed = started.stdout.join('\n');
  assert.ok(printed.includes(`--url http://127.0.0.1:${ready.httpPort} --token-file ${join(ready.dataDir, 'tokens.json')} policy set`), printed);
  assert.ok(printed.includes('rollout status'));
  started.child.kill('SIGTERM');
  assert.equal(await started.exited, { code: 0, signal: null });
});

start.run();
