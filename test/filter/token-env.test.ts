// controlPlane.tokenEnv: the release filter reads its control-plane bearer token from the VM environment
// (vm_config.environment_variables, through WASI environ_*) in on_configure. The real control plane accepts the
// streams of every VM only with that token; a missing, empty or oversized variable refuses the plugin with one line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { readWasm } from './support.ts';
import { assertConfigRefused, RawHost } from './raw-host.ts';
import { until } from '../support/until.ts';

const wasm = readWasm('meshlens.wasm');
const CP_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~10.0.0.7~orders-1.default~default.svc.cluster.local';
const VAR = 'MESHLENS_PROXY_TOKEN';
const TICK_MS = 100;
const WORKERS = 2;

const configuration = JSON.stringify({
  tickMs: TICK_MS, reportIntervalMs: 60_000,
  controlPlane: { cluster: CP_CLUSTER, tokenEnv: VAR, timeoutMs: 2000 },
  node: { id: NODE_ID, workload: 'orders', namespace: 'default' },
});

async function withControlPlane(run: (cp: ControlPlane) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-token-env-'));
  const cp = await startControlPlane({
    dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger,
  });
  try {
    await run(cp);
  } finally {
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function plugin(cp: ControlPlane, environment: Record<string, string>, clock: ManualClock): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({
    wasm, configuration, environment, workers: WORKERS, clock, clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${cp.grpcPort}` } },
  });
}

const auth = suite('tokenEnv: the token from the VM environment authenticates every VM');

auth('the variable\'s value is the bearer token: every VM subscribes and ACKs the current snapshot', () => withControlPlane(async (cp) => {
  const clock = new ManualClock(Date.now());
  // Neighbours whose names share a prefix or suffix with the one named must not be taken for it.
  const p = await plugin(cp, {
    [`${VAR}_OLD`]: 'not-the-proxy-token', POD_NAME: 'orders-1', [VAR]: cp.tokens.proxy, [`X${VAR}`]: 'also-wrong',
  }, clock);
  try {
    clock.advance(TICK_MS);
    const snapshot = cp.operations.rolloutStatus().snapshotVersion;
    const mine = () => cp.operations.rolloutStatus().nodes.filter((n) => n.nodeId === NODE_ID);
    // The VMs hold one stream for the proxy: one row, ACKed once every VM applied the snapshot.
    await until(() => mine().length === 1 && mine().every((n) => n.connected && n.ackedVersion === snapshot), 'the proxy\'s ACK');
    assert.equal(mine().map((n) => n.worker), ['proxy']);
    assert.is(p.stats.counter('meshlens_control_plane_acks_total'), 1);
    assert.is(p.stats.counter('meshlens_control_plane_stream_failures_total') ?? 0, 0);
    assert.equal(p.logs.filter((l) => l.level === 'critical'), []);
  } finally {
    await p.close();
  }
}));

auth('a wrong token in the variable is refused by the control plane (UNAUTHENTICATED on every VM)', () => withControlPlane(async (cp) => {
  const clock = new ManualClock(Date.now());
  const p = await plugin(cp, { [VAR]: `${cp.tokens.proxy}x` }, clock);
  try {
    clock.advance(TICK_MS);
    await until(() => p.logs.filter((l) => l.message.includes('stream closed with gRPC status 16')).length === 1, 'UNAUTHENTICATED on the proxy\'s stream');
    assert.is(cp.operations.rolloutStatus().nodes.length, 0);
    assert.is(p.stats.counter('meshlens_control_plane_acks_total') ?? 0, 0);
  } finally {
    await p.close();
  }
}));

auth('an inline token needs no environment, and the environment is not read for it', async () => {
  const raw = new RawHost();
  await raw.load(wasm);
  assert.ok(raw.configure(JSON.stringify({ controlPlane: { cluster: CP_CLUSTER, token: 'inline' } })));
  assert.is(raw.calls.get('environ_get') ?? 0, 0);
  assert.is(raw.calls.get('environ_sizes_get') ?? 0, 0);
});

auth.run();

const refused = suite('tokenEnv: the plugin is refused with one line when the variable cannot supply a token');

const unset = `invalid filter config: controlPlane.tokenEnv must name a VM environment variable that is set (${VAR} is not)`;

refused('no VM environment at all', () => assertConfigRefused(wasm, configuration, unset));
refused('the variable is absent among others', () => assertConfigRefused(wasm, configuration, unset,
  { [`${VAR}_FILE`]: '/var/run/token', POD_NAME: 'orders-1', [VAR.toLowerCase()]: 'case matters' }));
refused('the variable is empty', () => assertConfigRefused(wasm, configuration, unset, { [VAR]: '' }));
refused('the value is longer than an inline token may be', () => assertConfigRefused(wasm, configuration,
  `invalid filter config: controlPlane.tokenEnv must name a variable of at most 4096 characters (${VAR} has 4097)`,
  { [VAR]: 'x'.repeat(4097) }));
refused('token and tokenEnv together, even with the variable set', () => assertConfigRefused(wasm,
  JSON.stringify({ controlPlane: { cluster: CP_CLUSTER, token: 'inline', tokenEnv: VAR } }),
  'invalid filter config: controlPlane.tokenEnv must not be set together with controlPlane.token', { [VAR]: 'from-env' }));
refused('a name that is not an environment variable name', () => assertConfigRefused(wasm,
  JSON.stringify({ controlPlane: { cluster: CP_CLUSTER, tokenEnv: 'MESHLENS-PROXY-TOKEN' } }),
  'invalid filter config: controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*',
  { 'MESHLENS-PROXY-TOKEN': 'from-env' }));

refused.run();
