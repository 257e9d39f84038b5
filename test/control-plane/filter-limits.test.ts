// The release filter in the Node host (4 workers + main, wall clock) against the real control plane: writes are
// refused before the snapshot grows past what a filter receives, every VM keeps converging on later writes, and
// after a control-plane restart every VM is back and ACKed within 5 s.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ProxyWasmPlugin } from '../../filter/host/index.ts';
import { ControlPlaneError } from '../../control-plane/src/errors.ts';
import { LIMITS } from '../../control-plane/src/limits.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { releaseFilterPath } from '../support/release-filter.ts';
import { until } from '../support/until.ts';

const CP_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~10.0.0.7~cart-1.shop~shop.svc.cluster.local';
const WORKERS = 4;
const STREAMS = 1;   // the WORKERS + 1 VMs hold one stream and one rollout row for the proxy
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';

const test = suite<{ dataDir: string; cp: ControlPlane; plugin: ProxyWasmPlugin }>('snapshot limits and reconvergence through real filters');

const start = (dataDir: string, grpcPort = 0) => startControlPlane({
  dataDir, grpcHost: '127.0.0.1', grpcPort, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger,
});

function converged(cp: ControlPlane): boolean {
  const status = cp.operations.rolloutStatus();
  const mine = status.nodes.filter((n) => n.nodeId === NODE_ID && n.connected);
  return mine.length === STREAMS && mine.every((n) => n.ackedVersion === status.snapshotVersion);
}

test.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'meshlens-filter-limits-'));
  ctx.cp = await start(ctx.dataDir);
  ctx.plugin = await ProxyWasmPlugin.create({
    wasm: readFileSync(releaseFilterPath()),
    configuration: JSON.stringify({
      tickMs: 100, controlPlane: { cluster: CP_CLUSTER, token: ctx.cp.tokens.proxy, timeoutMs: 2000 },
      node: { id: NODE_ID, workload: 'cart', namespace: 'shop' },
    }),
    workers: WORKERS, clusters: { [CP_CLUSTER]: { address: `127.0.0.1:${ctx.cp.grpcPort}` } },
  });
});

test.after(async (ctx) => {
  await ctx.plugin?.close();
  await ctx.cp?.close();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

test('after a control-plane restart every VM is back and ACKed within 5 s of it being ready', async (ctx) => {
  await until(() => converged(ctx.cp), 'converged before the restart', 60_000);
  const port = ctx.cp.grpcPort;
  await ctx.cp.close();
  // Down for 3 s: the holder fails its reconnects meanwhile and climbs its backoff, as during a real rollout.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  ctx.cp = await start(ctx.dataDir, port);
  const ready = performance.now();
  await ctx.cp.operations.set('test', 'after-restart', 0, { target: { cluster: CLUSTER } });
  await until(() => ctx.cp.discovery.openStreams === STREAMS, 'the proxy\'s stream after the restart', 20_000);
  const connectedMs = performance.now() - ready;
  await until(() => converged(ctx.cp), 'the proxy back after the restart', 20_000);
  const backMs = performance.now() - ready;
  process.stderr.write(`real filter VMs connected ${Math.round(connectedMs)} ms and ACKed ${Math.round(backMs)} ms after the restart\n`);
  assert.ok(backMs <= 5000, `back after ${Math.round(backMs)} ms`);
});

test('writes up to the snapshot limit reach every VM; the one past it is refused; later writes still converge', async (ctx) => {
  await until(() => converged(ctx.cp), 'the proxy on the initial snapshot', 60_000);
  const big = (i: number) => ({ target: { cluster: CLUSTER, pathTemplate: `/${String(i).padStart(4, '0')}/${'x'.repeat(LIMITS.maxPathTemplateBytes - 6)}` } });
  let refused: ControlPlaneError | undefined;
  let i = 0;
  for (; i < 2000 && !refused; i++) {
    try {
      await ctx.cp.operations.set('test', `p${i}`, 0, big(i));
    } catch (error) {
      refused = error as ControlPlaneError;
    }
  }
  assert.ok(refused, 'the snapshot limit was reached');
  assert.is(refused!.code, 'RESOURCE_EXHAUSTED');
  assert.match(refused!.message, /limit maxSnapshotBytes/);
  // The largest snapshot the control plane accepted is taken by every VM (no "larger than max", no NACK).
  await until(() => converged(ctx.cp), 'the proxy to ACK the largest accepted snapshot', 60_000);
  const largest = ctx.cp.operations.rolloutStatus();
  assert.ok(largest.nodes.every((n) => n.nackReason === ''), 'no NACK');
  assert.ok(ctx.cp.discovery.openStreams === STREAMS);
  // And a later small change arrives too.
  const before = Number(largest.snapshotVersion);
  await ctx.cp.operations.set('test', 'p0', 1, { target: { cluster: CLUSTER } });
  await until(() => converged(ctx.cp), 'the proxy to ACK the write after the refusal', 60_000);
  assert.is(ctx.cp.operations.rolloutStatus().snapshotVersion, String(before + 1));
});

test.run();
