// 1,000 discovery streams pacing their reconnects with the filter's own backoff (each on its own connection, as
// each Envoy worker's VM): after a control-plane restart every one retries within one backoff cap of the new control
// plane being ready, and every one is back and has ACKed a write made then within 5 s (p99; bench:control-plane's
// reconverge_after_restart_ms measures the same at 10,000 streams with the control plane in its own process).
// Where the time went when this took 10 s: the gRPC port's accept queue (Node's default backlog, 511) overflowed as
// the reconnects arrived and every dropped connection waited for TCP's 1 s handshake retransmission (fixed:
// control-plane/src/grpc-listener.ts), and each simulated VM cost this process ~1.5 ms in a grpc-js channel of its
// own (fixed: reconnecting-streams.ts speaks HTTP/2 directly). The printed split (connect attempt → connection up →
// ACK) shows which side any later regression is on.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { needs } from '../support/skip.ts';
import { until } from '../support/until.ts';
import { LIMITS } from '../../control-plane/src/limits.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { ReconnectingStreams } from './reconnecting-streams.ts';

const STREAMS = 1000;
let reconvergedP99: number | undefined;
const test = suite('reconvergence after a restart');

const start = (dataDir: string, grpcPort = 0) => startControlPlane({
  dataDir, grpcHost: '127.0.0.1', grpcPort, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger,
});

const allAcked = (streams: ReconnectingStreams, version: string, timeoutMs: number) =>
  until(() => streams.ackTimes(version), `${STREAMS} ACKs of ${version}`, timeoutMs, 10);

test(`${STREAMS} streams retry within one backoff cap of a restart and all come back ACKed`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-reconverge-'));
  let cp: ControlPlane = await start(dataDir);
  const streams = await ReconnectingStreams.open(`127.0.0.1:${cp.grpcPort}`, cp.tokens.proxy, STREAMS, 'sidecar~10.0.0.1~p.default~default.svc.cluster.local');
  try {
    await cp.operations.set('test', 'orders', 0, { target: { cluster: 'orders' } });
    await allAcked(streams, '1', 60_000);
    const port = cp.grpcPort;
    await cp.close();
    await new Promise((resolve) => setTimeout(resolve, 3000));     // down long enough for every stream to back off
    cp = await start(dataDir, port);
    const readyAt = performance.timeOrigin + performance.now();
    await cp.operations.set('test', 'orders', 1, { target: { cluster: 'orders' }, breaker: { openMs: 5000 } });
    const times = (await allAcked(streams, '2', 30_000)).map((t) => t - readyAt).sort((a, b) => a - b);
    const p99 = times[Math.ceil(0.99 * times.length) - 1];
    const attempts = [...streams.attempts.values()].map((t) => t - readyAt).sort((a, b) => a - b);
    const acked = streams.ackTimes('2')!;
    const split = (of: (i: number) => number) => {
      const values = acked.map((_, i) => of(i)).sort((a, b) => a - b);
      return `p50 ${Math.round(values[values.length >> 1])} ms, max ${Math.round(values[values.length - 1])} ms`;
    };
    process.stderr.write(`stream ends: ${JSON.stringify([...streams.statuses])}\n`);
    process.stderr.write(`last connect attempts after ready: p50 ${Math.round(attempts[attempts.length >> 1])} ms, max ${Math.round(attempts[attempts.length - 1])} ms\n`);
    process.stderr.write(`attempt → connection up: ${split((i) => streams.connected.get(i)! - streams.attempts.get(i)!)}; ` +
      `connection up → ACK: ${split((i) => acked[i] - streams.connected.get(i)!)}\n`);
    process.stderr.write(`reconverged after restart: p50 ${Math.round(times[times.length >> 1])} ms, p99 ${Math.round(p99)} ms, max ${Math.round(times[times.length - 1])} ms\n`);
    // What the filter's backoff guarantees: every stream tries again within one cap (2 s) of the control plane being
    // ready, plus scheduling slack. Back-and-ACKed time on top of that is the control plane's and the machine's
    // (bench:control-plane reports reconverge_after_restart_ms with the control plane in its own process).
    assert.ok(attempts[attempts.length - 1] <= 2000 + 1000, `last reconnect attempt ${Math.round(attempts[attempts.length - 1])} ms after ready`);
    // The times above are when each VM sent its ACK; the control plane reads the last ones a moment later (CI once
    // asserted while it still had 999 of 1,000 on a loaded machine). Every one must land on its rollout row, or the
    // wait fails.
    await until(() => cp.operations.rolloutStatus().converged === STREAMS, `the control plane to record all ${STREAMS} ACKs`);
    reconvergedP99 = p99;
  } finally {
    streams.close();
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// Back within 5 s is CPU time: this process serves 1,000 reconnects and runs the 1,000 simulated VMs (together
// ~1 s of CPU). With the machine's load average above its core count it gets a fraction of a core (measured at load
// 10 on 2 cores: p99 2.7 s to 6.1 s between runs), so the bound is judged on a machine that is not overloaded and
// the figure above is printed either way.
const load = loadavg()[0], cores = availableParallelism();
needs(load > cores ? `a machine that is not overloaded to judge reconvergence p99 ≤ 5 s (load average ${load.toFixed(1)} on ${cores} cores)` : null, test)(
  `${STREAMS} streams are back and ACKed within 5 s of the restart (p99)`, () => {
    assert.ok(reconvergedP99 !== undefined, 'the restart test ran');
    assert.ok(reconvergedP99 <= 5000, `p99 ${Math.round(reconvergedP99!)} ms from ready to back and ACKed`);
  });

// Send-Q of a listening socket is its accept-queue limit (ss(8)); the kernel caps it at net.core.somaxconn.
const ssMissing = spawnSync('ss', ['-V']).status === 0 ? null : 'ss (iproute2) to read the gRPC listener\'s backlog';
needs(ssMissing, test)('the gRPC port queues a reconnect storm instead of dropping it: its backlog is LIMITS.grpcListenBacklog', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-backlog-'));
  const cp = await start(dataDir);
  try {
    const listening = spawnSync('ss', ['-Hltn', `sport = :${cp.grpcPort}`], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    assert.is(listening[0], 'LISTEN');
    assert.is(Number(listening[2]), Math.min(LIMITS.grpcListenBacklog, somaxconn), `Send-Q of ${listening.join(' ')}`);
    assert.ok(Number(listening[2]) > 511, 'more than Node\'s default backlog');
  } finally {
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
