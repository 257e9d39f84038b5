// 1,000 discovery streams pacing their reconnects with the filter's own backoff: after a control-plane restart
// every one is back and has ACKed the current snapshot within 5 s of the new control plane being ready.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { ReconnectingStreams } from './reconnecting-streams.ts';

const STREAMS = 1000;
const test = suite('reconvergence after a restart');

const start = (dataDir: string, grpcPort = 0) => startControlPlane({
  dataDir, grpcHost: '127.0.0.1', grpcPort, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger,
});

async function allAcked(streams: ReconnectingStreams, version: string, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const times = streams.ackTimes(version);
    if (times) return times;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${STREAMS} ACKs of ${version}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test(`${STREAMS} streams back and ACKed within 5 s of the restarted control plane being ready`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-reconverge-'));
  let cp: ControlPlane = await start(dataDir);
  const streams = await ReconnectingStreams.open(`127.0.0.1:${cp.grpcPort}`, cp.tokens.proxy, STREAMS, 'sidecar~10.0.0.1~p.default~default.svc.cluster.local');
  try {
    cp.operations.set('test', 'orders', 0, { target: { cluster: 'orders' } });
    await allAcked(streams, '1', 60_000);
    const port = cp.grpcPort;
    await cp.close();
    await new Promise((resolve) => setTimeout(resolve, 3000));     // down long enough for every stream to back off
    cp = await start(dataDir, port);
    const readyAt = performance.timeOrigin + performance.now();
    cp.operations.set('test', 'orders', 1, { target: { cluster: 'orders' }, breaker: { openMs: 5000 } });
    const times = (await allAcked(streams, '2', 30_000)).map((t) => t - readyAt).sort((a, b) => a - b);
    const p99 = times[Math.ceil(0.99 * times.length) - 1];
    process.stderr.write(`reconverged after restart: p50 ${Math.round(times[times.length >> 1])} ms, p99 ${Math.round(p99)} ms, max ${Math.round(times[times.length - 1])} ms\n`);
    assert.ok(times[times.length - 1] <= 5000, `last stream back after ${Math.round(times[times.length - 1])} ms`);
    assert.is(cp.operations.rolloutStatus().converged, STREAMS);
  } finally {
    streams.close();
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
