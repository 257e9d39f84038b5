// Control-plane benchmark (npm run bench:control-plane). The control plane runs as its own child process (so its
// CPU and RSS are its own); simulated filters run in separate worker processes, each holding many discovery streams
// over several HTTP/2 connections and ACKing every response at once, as a filter VM would. Measured, at 1,000 and
// 10,000 streams: admin write → ACK on every stream (p50/p99/max per round, medians over rounds), CP CPU and RSS
// at rest with all streams connected, and Telemetry.Report ingest rate at full load. Baseline in the same run: a
// single stream's write → ACK. Prints one JSON object on the last line.
// reconverge_after_restart_ms: at the largest scale, streams that reconnect as filter VMs do (the filter's own backoff,
// test/control-plane/reconnecting-streams.ts) see the control plane restart (SIGTERM, 3 s down, same port and data);
// per stream, the time from the new process announcing it listens to its ACK of a write made then; p99 over streams.
// streams_per_proxy: K proxies of 5 VMs (the release filter in the Node host), server-side discovery streams / K
// (measureStreamsPerProxy at the end of this file).
// Env: MESHLENS_BENCH_ONLY=restart (only reconverge_after_restart_ms), scale (only the write → ACK rounds at each scale)
// or streams-per-proxy, MESHLENS_BENCH_STREAMS_PER_CONNECTION (default 10; 1 = one connection per stream, as proxies
// holding one stream each connect), MESHLENS_BENCH_PROXIES (K,
// default 20), MESHLENS_BENCH_SCALES (default "1000,10000"), MESHLENS_BENCH_WORKERS (default 4), MESHLENS_BENCH_ROUNDS (5),
// MESHLENS_BENCH_PICK (how the replicas' simulated proxies pick a replica: round-robin, the default, or random;
// test/control-plane/reconnecting-streams.ts Pick), MESHLENS_BENCH_WORKER_NODE_ARGS (the same for each harness worker), MESHLENS_BENCH_CP_NODE_ARGS (extra node flags for each control-plane process, replicas too, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import * as grpc from '@grpc/grpc-js';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LIMITS } from '../../control-plane/src/limits.ts';
import { messageType } from '../../control-plane/src/protos.ts';
import { CLI, ensureCliBuilt } from '../control-plane/cli-support.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const wallMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- worker side (simulated filters)
interface WorkerCommand {
  cmd: 'connect' | 'collect' | 'report' | 'close' | 'reconnecting' | 'acked' | 'mark' | 'failedOver' | 'bare';
  port?: number; token?: string; streams?: number; perConnection?: number; prefix?: string;
  version?: string; t0?: number; durationMs?: number; concurrency?: number; routes?: number;
  addresses?: string[]; address?: string; pick?: import('../control-plane/reconnecting-streams.ts').Pick;
}

async function runWorker(): Promise<void> {
  const requestType = messageType('DiscoveryRequest');
  const responseType = messageType('DiscoveryResponse');
  const reportType = messageType('TelemetryReport');
  const clients: grpc.Client[] = [];
  const calls: grpc.ClientDuplexStream<Uint8Array, Buffer>[] = [];
  const ackTimes = new Map<string, number[]>();        // version → ACK send times
  let connected = 0;
  const send = (message: unknown) => process.send!(message);

  let reconnecting: import('../control-plane/reconnecting-streams.ts').ReconnectingStreams | undefined;
  let marked: number[] = [];
  // From the kill on: this process's own CPU and event-loop delay (it stands for Envoys on other machines, so what it
  // spends here on the shared cores, and how late its timers fire, is reported beside the figure it inflates).
  let markedAt: { cpu: NodeJS.CpuUsage; statuses: Map<string, number>; loop: import('node:perf_hooks').IntervalHistogram } | undefined;
  process.on('message', async (command: WorkerCommand) => {
    if (command.cmd === 'reconnecting') {
      const { ReconnectingStreams } = await import('../control-plane/reconnecting-streams.ts');
      reconnecting = await ReconnectingStreams.open(command.addresses ?? `127.0.0.1:${command.port}`, command.token!, command.streams!, command.prefix!, Number(command.t0 ?? 1),
        command.pick);
      send({ evt: 'opened' });
    } else if (command.cmd === 'mark') {
      // The streams whose latest ACK came through `address` (the replica about to be killed).
      marked = Array.from({ length: reconnecting!.size }, (_, i) => i).filter((i) => reconnecting!.lastAck(i)?.address === command.address);
      const { monitorEventLoopDelay } = await import('node:perf_hooks');
      markedAt = { cpu: process.cpuUsage(), statuses: new Map(reconnecting!.statuses), loop: monitorEventLoopDelay({ resolution: 10 }) };
      markedAt.loop.enable();
      send({ evt: 'marked', count: marked.length });
    } else if (command.cmd === 'failedOver') {
      const wait = () => {
        const acks = marked.map((i) => reconnecting!.lastAck(i));
        if (!acks.every((a) => a && a.atMs > command.t0! && a.address !== command.address && a.version === command.version)) return setTimeout(wait, 20);
        const cpu = process.cpuUsage(markedAt!.cpu);
        markedAt!.loop.disable();
        const since = (times: Map<number, number>) => marked.map((i) => (times.get(i) ?? NaN) - command.t0!);
        // How the moved streams' attempts ended since the kill (gRPC status and details): the drop, and any refusal.
        const endings: Record<string, number> = {};
        for (const [k, v] of reconnecting!.statuses) if (v > (markedAt!.statuses.get(k) ?? 0)) endings[k] = v - (markedAt!.statuses.get(k) ?? 0);
        send({ evt: 'failedOver', latencies: acks.map((a) => a!.atMs - command.t0!), attempts: since(reconnecting!.attempts),
          ended: since(reconnecting!.ended), late: marked.map((i) => reconnecting!.attempts.get(i)! - reconnecting!.due.get(i)!),
          connected: since(reconnecting!.connected), responded: since(reconnecting!.responded), endings,
          cpuMs: (cpu.user + cpu.system) / 1000, loopDelayP99Ms: markedAt!.loop.percentile(99) / 1e6, loopDelayMaxMs: markedAt!.loop.max / 1e6 });
      };
      wait();
    } else if (command.cmd === 'bare') {
      // `streams` streams, each on its own connection, to the bare server; done when each has its first message.
      const { H2GrpcStream, requestHeaderBlock } = await import('../control-plane/h2-stream.ts');
      const address = `127.0.0.1:${command.port}`;
      const block = requestHeaderBlock(address, '/meshlens.v1.PolicyDiscovery/StreamPolicies', command.token!);
      const first = requestType.encode({ node: { id: 'bare', worker: 'main' } }).finish();
      const bare: import('../control-plane/h2-stream.ts').H2GrpcStream[] = [];
      let answered = 0;
      if (command.streams === 0) send({ evt: 'bare' });
      for (let i = 0; i < command.streams!; i++) {
        bare.push(new H2GrpcStream(address, block, first, {
          connected: () => {}, ended: () => {},
          message: () => { if (++answered === command.streams) { for (const stream of bare) stream.destroy(); send({ evt: 'bare' }); } },
        }));
      }
    } else if (command.cmd === 'acked') {
      const wait = () => {
        const times = reconnecting!.ackTimes(command.version!);
        if (!times) return setTimeout(wait, 20);
        send({ evt: 'acked', latencies: times.map((t) => t - command.t0!) });
      };
      wait();
    } else if (command.cmd === 'connect') {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${command.token}`);
      for (let i = 0; i < command.streams!; i++) {
        if (i % command.perConnection! === 0) {
          clients.push(new grpc.Client(`127.0.0.1:${command.port}`, grpc.credentials.createInsecure(),
            { 'grpc.use_local_subchannel_pool': 1 }));
        }
        const call = clients[clients.length - 1].makeBidiStreamRequest('/meshlens.v1.PolicyDiscovery/StreamPolicies',
          (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, metadata);
        let first = true;
        call.on('data', (bytes: Buffer) => {
          const response = responseType.decode(bytes) as unknown as { versionInfo: string; nonce: string };
          call.write(requestType.encode({ versionInfo: response.versionInfo, responseNonce: response.nonce }).finish());
          const now = wallMs();
          let times = ackTimes.get(response.versionInfo);
          if (!times) ackTimes.set(response.versionInfo, (times = []));
          times.push(now);
          if (first) { first = false; if (++connected === command.streams) send({ evt: 'connected' }); }
        });
        call.on('error', () => {});
        call.write(requestType.encode({ node: { id: `${command.prefix}-${i}`, worker: 'worker_0' } }).finish());
        calls.push(call);
      }
    } else if (command.cmd === 'collect') {
      const wait = () => {
        const times = ackTimes.get(command.version!) ?? [];
        if (times.length < calls.length) return setTimeout(wait, 5);
        send({ evt: 'collected', latencies: times.map((t) => t - command.t0!) });
      };
      wait();
    } else if (command.cmd === 'report') {
      const client = clients[0];
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${command.token}`);
      const routes = Array.from({ length: command.routes! }, (_, i) => ({
        cluster: `outbound|8080||svc-${i % 20}.default.svc.cluster.local`, pathTemplate: `/api/v1/items/{id}/${i % 5}`, tenant: `tenant-${i % 10}`,
        counters: { requests: 100, errors: 3, slowCalls: 1, durationMsSum: 4200, durationBuckets: [0, 1, 10, 30, 40, 15, 3, 1], retries: 2 },
      }));
      const connections = Array.from({ length: command.routes! }, (_, i) => ({
        localAddress: `10.1.${i >> 8}.${i & 255}:4${i % 10}000`, remoteAddress: `10.2.0.${i % 200}:8080`, cluster: 'outbound|8080||svc',
        counters: { requests: 100, errors: 3 },
      }));
      // Encoded once per second of wall time: the workers share the machine with the control plane, so their own
      // encoding cost must stay small next to what is measured.
      let cached: { second: number; bytes: Uint8Array } = { second: -1, bytes: new Uint8Array() };
      const encoded = () => {
        const now = Date.now();
        if (Math.floor(now / 1000) !== cached.second) {
          cached = { second: Math.floor(now / 1000), bytes: reportType.encode(reportType.fromObject({ node: { id: `${command.prefix}-r` },
            policyVersion: '1', windowStartUnixMs: now - 1000, windowEndUnixMs: now, routes, connections })).finish() };
        }
        return cached.bytes;
      };
      let sent = 0, entries = 0, errors = 0;
      const deadline = wallMs() + command.durationMs!;
      const loop = async () => {
        while (wallMs() < deadline) {
          const bytes = encoded();
          const error = await new Promise<grpc.ServiceError | null>((resolve) => client.makeUnaryRequest('/meshlens.v1.Telemetry/Report',
            (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, metadata, (e) => resolve(e)));
          if (error) errors++; else { sent++; entries += routes.length + connections.length; }
        }
      };
      await Promise.all(Array.from({ length: command.concurrency! }, loop));
      send({ evt: 'reported', sent, entries, errors });
    } else if (command.cmd === 'close') {
      reconnecting?.close();
      for (const call of calls) call.cancel();
      for (const client of clients) client.close();
      process.exit(0);
    }
  });
  send({ evt: 'ready' });
}

// ---------------------------------------------------------------- parent side
function request(worker: ChildProcess, command: WorkerCommand, evt: string): Promise<any> {
  return new Promise((resolve) => {
    const onMessage = (message: any) => { if (message.evt === evt) { worker.off('message', onMessage); resolve(message); } };
    worker.on('message', onMessage);
    worker.send(command);
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (values: number[]) => { const s = [...values].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const round1 = (n: number) => Math.round(n * 10) / 10;
const STREAMS_PER_CONNECTION = Number(process.env.MESHLENS_BENCH_STREAMS_PER_CONNECTION ?? 10);
// Past the control plane's limit the client would queue the extra streams forever (they are long-lived).
if (!(STREAMS_PER_CONNECTION >= 1 && STREAMS_PER_CONNECTION <= LIMITS.maxStreamsPerConnection)) {
  throw new Error(`invalid MESHLENS_BENCH_STREAMS_PER_CONNECTION: must be 1 to ${LIMITS.maxStreamsPerConnection} (LIMITS.maxStreamsPerConnection)`);
}

function procStats(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);             // utime + stime
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuSeconds: ticks / 100, rssBytes: rssKb * 1024 };
}

/**
 * A harness worker (this file with --worker: simulated VMs); MESHLENS_BENCH_WORKER_NODE_ARGS adds node flags to each,
 * e.g. --cpu-prof, to see what the simulated side costs on the cores it shares with the control plane.
 */
const forkWorker = () => fork(fileURLToPath(import.meta.url), ['--worker'], {
  execArgv: ['--import', 'tsx', ...(process.env.MESHLENS_BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean)], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});

/** MESHLENS_BENCH_CP_NODE_ARGS: extra node flags for every control-plane process (single, or each replica), e.g. --cpu-prof. */
const cpNodeArgs = () => (process.env.MESHLENS_BENCH_CP_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function startControlPlaneChild(dataDir: string, grpcPort = 0): Promise<{ child: ChildProcess; grpcPort: number; httpPort: number }> {
  // The compiled CLI, as the image runs it (control-plane/Containerfile ENTRYPOINT), rebuilt first if stale.
  const child = spawn(process.execPath, [...cpNodeArgs(), '--max-old-space-size=2048', ensureCliBuilt(), 'serve',
    '--data-dir', dataDir, '--grpc-port', String(grpcPort), '--http-port', '0', '--host', '127.0.0.1'],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MESHLENS_LOG_LEVEL: 'warn' } });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`control plane exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const event = JSON.parse(line);
      if (event.event === 'listening') resolve({ child, grpcPort: event.grpcPort, httpPort: event.httpPort });
    });
  });
}

async function adminPut(httpPort: number, token: string, id: string, expectedVersion: number, openMs: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/policies/${id}`, {
    method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ expectedVersion, policy: { target: { cluster: 'outbound|8080||orders.default.svc.cluster.local' }, breaker: { openMs } } }),
  });
  if (response.status !== 200) throw new Error(`admin write failed: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

async function measureScale(streams: number, workerCount: number, rounds: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-bench-'));
  const adminToken = 'a'.repeat(32), proxyToken = 'p'.repeat(32);
  writeFileSync(join(dataDir, 'tokens.json'), JSON.stringify({ admin: { bench: adminToken }, proxy: proxyToken }), { mode: 0o600 });
  const plane = await startControlPlaneChild(dataDir);
  const workers: ChildProcess[] = [];
  try {
    await adminPut(plane.httpPort, adminToken, 'orders', 0, 1000);
    let version = 1;
    const perWorker = Math.ceil(streams / workerCount);
    for (let w = 0; w < workerCount; w++) {
      const worker = forkWorker();
      await new Promise((resolve) => worker.once('message', resolve));
      workers.push(worker);
    }
    const connectStart = wallMs();
    await Promise.all(workers.map((worker, w) => request(worker, {
      cmd: 'connect', port: plane.grpcPort, token: proxyToken, streams: Math.min(perWorker, streams - w * perWorker), perConnection: STREAMS_PER_CONNECTION, prefix: `w${w}`,
    }, 'connected')));
    const connectMs = wallMs() - connectStart;

    // Round 0 is a warm-up (JIT, first-use allocations on 10,000 streams) and is not counted: convergence is a
    // steady-state figure, as istiod's pilot_proxy_convergence_time is.
    const roundStats: { p50: number; p99: number; max: number; cpMsPerPush: number }[] = [];
    for (let r = -1; r < rounds; r++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const t0 = wallMs();
      const cpuBefore = procStats(plane.child.pid!).cpuSeconds;
      await adminPut(plane.httpPort, adminToken, 'orders', version, 1000 + r + 2);
      version++;
      const snapshotVersion = String(version);
      const results = await Promise.all(workers.map((worker) => request(worker, { cmd: 'collect', version: snapshotVersion, t0 }, 'collected')));
      const latencies = results.flatMap((result) => result.latencies as number[]).sort((a, b) => a - b);
      // The control plane's CPU for the write, its push to every stream and their ACKs, per stream.
      const cpMsPerPush = ((procStats(plane.child.pid!).cpuSeconds - cpuBefore) * 1000) / streams;
      if (r >= 0) roundStats.push({ p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], cpMsPerPush });
    }

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const restStart = procStats(plane.child.pid!);
    const restWindowMs = 5000;
    await new Promise((resolve) => setTimeout(resolve, restWindowMs));
    const restEnd = procStats(plane.child.pid!);

    const ingestMs = 5000;
    const ingestStartCpu = procStats(plane.child.pid!);
    const ingestStart = wallMs();
    const reported = await Promise.all(workers.map((worker, w) => request(worker,
      { cmd: 'report', token: proxyToken, durationMs: ingestMs, concurrency: 32, routes: 250, prefix: `w${w}` }, 'reported')));
    const ingestElapsed = wallMs() - ingestStart;
    const ingestEndCpu = procStats(plane.child.pid!);
    const entries = reported.reduce((sum, r) => sum + r.entries, 0);
    const reportErrors = reported.reduce((sum, r) => sum + r.errors, 0);
    return {
      streams,
      connectSeconds: round1(connectMs / 1000),
      writeToAllAckMs: {
        p50: round1(median(roundStats.map((s) => s.p50))), p99: round1(median(roundStats.map((s) => s.p99))),
        max: round1(median(roundStats.map((s) => s.max))), rounds: roundStats.map((s) => ({ p50: round1(s.p50), p99: round1(s.p99), max: round1(s.max) })),
      },
      streamsPerConnection: STREAMS_PER_CONNECTION,
      cpMsPerPush: Math.round(median(roundStats.map((s) => s.cpMsPerPush)) * 1000) / 1000,
      restCpuPercentOfCore: round1(((restEnd.cpuSeconds - restStart.cpuSeconds) / (restWindowMs / 1000)) * 100),
      restRssMiB: round1(restEnd.rssBytes / 2 ** 20),
      ingestEntriesPerSecond: Math.round(entries / (ingestElapsed / 1000)),
      ingestReportErrors: reportErrors,
      ingestCpuPercentOfCore: round1(((ingestEndCpu.cpuSeconds - ingestStartCpu.cpuSeconds) / (ingestElapsed / 1000)) * 100),
      peakRssMiB: round1(procStats(plane.child.pid!).rssBytes / 2 ** 20),
    };
  } finally {
    for (const worker of workers) worker.send({ cmd: 'close' });
    plane.child.kill('SIGTERM');
    await new Promise((resolve) => plane.child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Restart reconvergence at `streams` reconnecting streams; p99/max over streams of listening → ACK (ms). */
async function measureRestart(streams: number, workerCount: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-bench-restart-'));
  const adminToken = 'a'.repeat(32), proxyToken = 'p'.repeat(32);
  writeFileSync(join(dataDir, 'tokens.json'), JSON.stringify({ admin: { bench: adminToken }, proxy: proxyToken }), { mode: 0o600 });
  let plane = await startControlPlaneChild(dataDir);
  const workers: ChildProcess[] = [];
  try {
    await adminPut(plane.httpPort, adminToken, 'orders', 0, 1000);
    const perWorker = Math.ceil(streams / workerCount);
    for (let w = 0; w < workerCount; w++) {
      const worker = forkWorker();
      await new Promise((resolve) => worker.once('message', resolve));
      workers.push(worker);
      await request(worker, { cmd: 'reconnecting', port: plane.grpcPort, token: proxyToken, streams: Math.min(perWorker, streams - w * perWorker),
        prefix: `r${w}`, t0: 1 + w * perWorker }, 'opened');
    }
    await Promise.all(workers.map((worker) => request(worker, { cmd: 'acked', version: '1', t0: 0 }, 'acked')));
    const port = plane.grpcPort;
    plane.child.kill('SIGTERM');
    await new Promise((resolve) => plane.child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    plane = await startControlPlaneChild(dataDir, port);
    const readyAt = wallMs();
    const cpuAtReady = procStats(plane.child.pid!).cpuSeconds;
    await adminPut(plane.httpPort, adminToken, 'orders', 1, 2000);
    const results = await Promise.all(workers.map((worker) => request(worker, { cmd: 'acked', version: '2', t0: readyAt }, 'acked')));
    // The control plane's own CPU from listening until every stream ACKed the write (every reconnect, its snapshot,
    // the write's push and the ACKs), per stream: the cost that bounds the storm on a busy core, whatever the load
    // of the machine does to wall time.
    const stormCpuMs = (procStats(plane.child.pid!).cpuSeconds - cpuAtReady) * 1000;
    const latencies = results.flatMap((r) => r.latencies as number[]).sort((a, b) => a - b);
    return {
      streams, p50: round1(percentile(latencies, 50)), p99: round1(percentile(latencies, 99)), max: round1(latencies[latencies.length - 1]),
      cpMsPerStream: Math.round((stormCpuMs / streams) * 1000) / 1000, cpCpuMs: Math.round(stormCpuMs),
    };
  } finally {
    for (const worker of workers) worker.send({ cmd: 'close' });
    plane.child.kill('SIGTERM');
    await new Promise((resolve) => plane.child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- replicas on etcd (issue 14)
// `streams` simulated proxies (one reconnecting stream each, the filter's backoff) over 3 `meshlens serve --store
// etcd` replicas on a 3-member etcd, all on this machine. write_to_all_ack_ms: an admin write through one replica
// (each round the next) until every stream, whichever replica holds it, ACKed it. failover_ms: kill -9 of the
// replica holding a third of the streams until each of those ACKed, through another replica, a write made right
// after the kill, with where that time went (phases), the CPU each party spent meanwhile, and how the moved streams'
// attempts ended (a refused or failed attempt shows there as an extra ending).
async function measureReplicas(streams: number, workerCount: number, rounds: number) {
  const { etcdCluster, etcdMissing } = await import('../support/etcd.ts');
  const missing = etcdMissing();
  if (missing) return { skipped: missing };
  ensureCliBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-bench-replicas-'));
  const adminToken = 'a'.repeat(32), proxyToken = 'p'.repeat(32);
  const tokenFile = join(dataDir, 'tokens.json');
  writeFileSync(tokenFile, JSON.stringify({ admin: { bench: adminToken }, proxy: proxyToken }), { mode: 0o600 });
  const etcd = await etcdCluster(3);
  const children: ChildProcess[] = [];
  const workers: ChildProcess[] = [];
  const pick = (process.env.MESHLENS_BENCH_PICK ?? 'round-robin') as import('../control-plane/reconnecting-streams.ts').Pick;
  if (pick !== 'round-robin' && pick !== 'random') throw new Error('invalid MESHLENS_BENCH_PICK: must be round-robin or random');
  try {
    await etcd.start();
    const replicas: { child: ChildProcess; grpcPort: number; httpPort: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, [...cpNodeArgs(), '--max-old-space-size=2048', CLI, 'serve', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','),
        '--data-dir', join(dataDir, `replica-${i}`), '--token-file', tokenFile, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MESHLENS_LOG_LEVEL: 'warn' } });
      children.push(child);
      replicas.push(await new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`replica ${i} exited with ${code}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (!line.startsWith('{')) return;
          const event = JSON.parse(line);
          if (event.event === 'listening') resolve({ child, grpcPort: event.grpcPort, httpPort: event.httpPort });
        });
      }));
    }
    const addresses = replicas.map((r) => `127.0.0.1:${r.grpcPort}`);
    await adminPut(replicas[0].httpPort, adminToken, 'orders', 0, 1000);
    let version = 1;
    const perWorker = Math.ceil(streams / workerCount);
    // Workers are started (tsx, the harness) before the clock runs: connecting is what the figure is about.
    const startStart = wallMs();
    for (let w = 0; w < workerCount; w++) {
      const worker = forkWorker();
      await new Promise((resolve) => worker.once('message', resolve));
      workers.push(worker);
    }
    const startMs = wallMs() - startStart;
    const connectStart = wallMs();
    await Promise.all(workers.map((worker, w) => request(worker, { cmd: 'reconnecting', addresses, token: proxyToken, pick,
      streams: Math.min(perWorker, streams - w * perWorker), prefix: `x${w}`, t0: 1 + w * perWorker }, 'opened')));
    await Promise.all(workers.map((worker) => request(worker, { cmd: 'acked', version: '1', t0: 0 }, 'acked')));
    const connectMs = wallMs() - connectStart;
    const roundStats: { p50: number; p99: number; max: number; via: number }[] = [];
    for (let r = -1; r < rounds; r++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const via = (r + 3) % 3;
      const t0 = wallMs();
      await adminPut(replicas[via].httpPort, adminToken, 'orders', version, 2000 + r);
      version++;
      const results = await Promise.all(workers.map((worker) => request(worker, { cmd: 'acked', version: String(version), t0 }, 'acked')));
      const latencies = results.flatMap((result) => result.latencies as number[]).sort((a, b) => a - b);
      if (r >= 0) roundStats.push({ p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], via: via + 1 });
    }
    // kill -9 the replica holding the streams of addresses[1]; they come back ACKed through 1 and 3.
    const killed = addresses[1];
    const marked = await Promise.all(workers.map((worker) => request(worker, { cmd: 'mark', address: killed }, 'marked')));
    const survivors = [replicas[0].child.pid!, replicas[2].child.pid!];
    const etcdPids = etcd.members.map((m) => m.process!.pid!);
    const cpuBefore = [...survivors, ...etcdPids].map((pid) => procStats(pid).cpuSeconds);
    const killAt = wallMs();
    replicas[1].child.kill('SIGKILL');
    // A stream reconnecting with the version it holds is counted ACKed by the new replica without a response to
    // observe, so a write made right after the kill is what each moved stream must ACK: failover is measured up to
    // that ACK through another replica (an upper bound of reconnect + resend).
    await adminPut(replicas[0].httpPort, adminToken, 'orders', version, 9999);
    version++;
    const failed = await Promise.all(workers.map((worker) => request(worker, { cmd: 'failedOver', address: killed, version: String(version), t0: killAt }, 'failedOver')));
    const failoverWallMs = wallMs() - killAt;
    const cpuAfter = [...survivors, ...etcdPids].map((pid) => procStats(pid).cpuSeconds);
    const cpuMs = (k: number) => Math.round((cpuAfter[k] - cpuBefore[k]) * 1000);
    const sorted = (key: string) => failed.flatMap((f) => f[key] as number[]).sort((a, b) => a - b);
    const failover = sorted('latencies');
    const attempts = sorted('attempts');
    const phase = (key: string) => { const xs = sorted(key); return { p50: round1(percentile(xs, 50)), p99: round1(percentile(xs, 99)) }; };
    // How the moved streams' attempts ended after the kill (gRPC status and details): more than one ending per
    // stream = refused or failed attempts before the one that worked.
    const endings: Record<string, number> = {};
    for (const f of failed) for (const [k, v] of Object.entries(f.endings as Record<string, number>)) endings[k] = (endings[k] ?? 0) + v;
    const movedStreams = marked.reduce((sum, m) => sum + m.count, 0);
    const floor = await bareHttp2Floor(workers, movedStreams);
    return {
      replicas: 3,
      etcdMembers: 3,
      pick,
      streams,
      workersStartSeconds: round1(startMs / 1000),
      connectSeconds: round1(connectMs / 1000),
      writeToAllAckMs: {
        p50: round1(median(roundStats.map((s) => s.p50))), p99: round1(median(roundStats.map((s) => s.p99))),
        max: round1(median(roundStats.map((s) => s.max))), rounds: roundStats.map((s) => ({ via: s.via, p50: round1(s.p50), p99: round1(s.p99), max: round1(s.max) })),
      },
      failoverMs: {
        streams: marked.reduce((sum, m) => sum + m.count, 0),
        p50: round1(percentile(failover, 50)), p99: round1(percentile(failover, 99)), max: round1(failover[failover.length - 1]),
        // When each moved stream's last (successful) connect attempt started: the filter's backoff share of it.
        lastAttemptP50: round1(percentile(attempts, 50)), lastAttemptP99: round1(percentile(attempts, 99)),
        // Per moved stream, from the kill: its latest failed attempt's end seen (the drop, or a refused reconnect), the
        // reconnect that worked started (and how late its timer fired against
        // the backoff's delay: the harness's own event loop), TCP + HTTP/2 preface done, the first response.
        phases: { lastFailureSeen: phase('ended'), attemptLate: phase('late'), connected: phase('connected'), firstResponse: phase('responded') },
        // CPU spent from the kill until every moved stream ACKed: the two surviving replicas, the etcd members, and
        // the simulated proxies (which on a real mesh run elsewhere); wall time of that window for scale.
        cpuMs: { windowWallMs: Math.round(failoverWallMs), replicas: [cpuMs(0), cpuMs(1)], etcd: etcdPids.map((_, k) => cpuMs(2 + k)),
          harness: Math.round(failed.reduce((sum, f) => sum + f.cpuMs, 0)) },
        harnessLoopDelayMs: { p99: round1(Math.max(...failed.map((f) => f.loopDelayP99Ms))), max: round1(Math.max(...failed.map((f) => f.loopDelayMaxMs))) },
        // Measured in the same run: the CPU a bare node:http2 server spends on as many connections, one stream each.
        // Under Envoy's round robin every moved stream lands on one survivor, so this is a floor under its share.
        bareNodeHttp2: floor,
      },
      streamEndings: endings,
    };
  } finally {
    for (const worker of workers) worker.send({ cmd: 'close' });
    // SIGTERM first (a replica's orderly stop; a --cpu-prof profile is written on exit), SIGKILL after 10 s.
    await Promise.all(children.filter((child) => child.exitCode === null && child.signalCode === null).map((child) => new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => { clearTimeout(force); resolve(); });
      child.kill('SIGTERM');
    })));
    await etcd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const scales = (process.env.MESHLENS_BENCH_SCALES ?? '1000,10000').split(',').map(Number);
  const workers = Number(process.env.MESHLENS_BENCH_WORKERS ?? 4);
  const rounds = Number(process.env.MESHLENS_BENCH_ROUNDS ?? 5);
  if (process.env.MESHLENS_BENCH_ONLY === 'replicas') {
    const replicated = await measureReplicas(Math.max(...scales), workers, rounds);
    process.stdout.write(JSON.stringify({ bench: 'control-plane', ...replicaFields(replicated), replicated, targets: replicaTargets(replicated) }) + '\n');
    return;
  }
  if (process.env.MESHLENS_BENCH_ONLY === 'streams-per-proxy') {
    const perProxy = await measureStreamsPerProxy(Number(process.env.MESHLENS_BENCH_PROXIES ?? 20));
    process.stdout.write(JSON.stringify({ bench: 'control-plane', streams_per_proxy: perProxy.streamsPerProxy, streamsPerProxy: perProxy }) + '\n');
    return;
  }
  if (process.env.MESHLENS_BENCH_ONLY === 'scale') {
    const results = [];
    for (const streams of scales) results.push(await measureScale(streams, workers, rounds));
    process.stdout.write(JSON.stringify({ bench: 'control-plane', scales: results }) + '\n');
    return;
  }
  if (process.env.MESHLENS_BENCH_ONLY === 'restart') {
    // Only the restart figure, at the largest scale (what reconverge_after_restart_ms is in the full run).
    const restart = await measureRestart(Math.max(...scales), workers);
    process.stdout.write(JSON.stringify({ bench: 'control-plane', reconverge_after_restart_ms: restart.p99, reconvergeAfterRestart: restart }) + '\n');
    return;
  }
  const baseline = await measureScale(1, 1, rounds);
  process.stderr.write(`baseline (1 stream): ${JSON.stringify(baseline.writeToAllAckMs)}\n`);
  const results = [];
  for (const streams of scales) {
    const result = await measureScale(streams, workers, rounds);
    process.stderr.write(`${streams} streams: ${JSON.stringify(result)}\n`);
    results.push(result);
  }
  const largest = results[results.length - 1];
  const restart = await measureRestart(largest.streams, workers);
  process.stderr.write(`restart at ${largest.streams} streams: ${JSON.stringify(restart)}\n`);
  const replicated = await measureReplicas(largest.streams, workers, rounds);
  process.stderr.write(`replicas at ${largest.streams} streams: ${JSON.stringify(replicated)}\n`);
  const perProxy = await measureStreamsPerProxy(Number(process.env.MESHLENS_BENCH_PROXIES ?? 20));
  process.stderr.write(`streams per proxy: ${JSON.stringify(perProxy)}\n`);
  process.stdout.write(JSON.stringify({
    bench: 'control-plane',
    ...replicaFields(replicated),
    replicated,
    cores: (await import('node:os')).availableParallelism(),
    baselineSingleStreamWriteToAckMs: { p50: baseline.writeToAllAckMs.p50, max: baseline.writeToAllAckMs.max },
    scales: results,
    reconverge_after_restart_ms: restart.p99,
    reconvergeAfterRestart: restart,
    streams_per_proxy: perProxy.streamsPerProxy,
    streamsPerProxy: perProxy,
    targets: {
      reconvergeAfterRestartP99Ms: { target: 5000, measured: restart.p99, ok: restart.p99 <= 5000 },
      convergedP99Ms: { target: 1000, measured: largest.writeToAllAckMs.p99, ok: largest.writeToAllAckMs.p99 <= 1000 },
      restRssMiB: { target: 1024, measured: largest.restRssMiB, ok: largest.restRssMiB <= 1024 },
      ingestEntriesPerSecond: { target: 100000, measured: largest.ingestEntriesPerSecond, ok: largest.ingestEntriesPerSecond >= 100000 },
      ...replicaTargets(replicated),
      streamsPerProxy: { target: 1, measured: perProxy.streamsPerProxy, ok: perProxy.streamsPerProxy === 1 },
    },
  }) + '\n');
}

/**
 * CPU of bare-http2-server.mjs while the harness workers open `streams` streams to it, each on its own connection
 * and answered once: the part of a survivor's work that is Node's before any meshlens code runs.
 */
async function bareHttp2Floor(workers: ChildProcess[], streams: number) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-http2-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bare-http2-server exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', resolve);
    }));
    const before = procStats(child.pid!).cpuSeconds;
    const started = wallMs();
    const per = Math.ceil(streams / workers.length);
    await Promise.all(workers.map((worker, w) => request(worker, { cmd: 'bare', port, token: 'b'.repeat(32), streams: Math.max(0, Math.min(per, streams - w * per)) }, 'bare')));
    const cpuMs = Math.round((procStats(child.pid!).cpuSeconds - before) * 1000);
    return { streams, cpuMs, perConnectionMs: streams > 0 ? Math.round((cpuMs / streams) * 1000) / 1000 : 0, wallMs: Math.round(wallMs() - started) };
  } finally {
    child.kill('SIGKILL');
  }
}

/** The headline figures of measureReplicas (null when etcd is missing here: the run says why in `replicated`). */
function replicaFields(r: Awaited<ReturnType<typeof measureReplicas>>) {
  if ('skipped' in r) return { replicas: null, write_to_all_ack_ms_p99: null, failover_ms: null };
  return { replicas: r.replicas, write_to_all_ack_ms_p99: r.writeToAllAckMs.p99, failover_ms: r.failoverMs.p99 };
}

function replicaTargets(r: Awaited<ReturnType<typeof measureReplicas>>) {
  if ('skipped' in r) return {};
  return {
    replicasWriteToAllAckP99Ms: { target: 1000, measured: r.writeToAllAckMs.p99, ok: r.writeToAllAckMs.p99 <= 1000 },
    failoverP99Ms: { target: 1000, measured: r.failoverMs.p99, ok: r.failoverMs.p99 <= 1000 },
  };
}

if (process.argv.includes('--worker')) await runWorker();
else await main();

// ---------------------------------------------------------------- streams_per_proxy
// K proxies of 4 workers + main each: the release filter in the Node host on the wall clock (each proxy its own
// shared data, as each Envoy process has), against the control plane child. Server-side discovery streams
// (meshlens_cp_connected_proxies on its /metrics) are sampled while the proxies sit idle over several leases and
// after a write every proxy ACKed; streams_per_proxy is the largest sample / K (1 when every proxy holds exactly one
// stream, 5 with one stream per VM). Also: the write's time to an ACK from every proxy (each ACK means all 5 VMs
// apply it), and the streams the filters opened per proxy (1: no VM took a stream over while nothing failed).
async function measureStreamsPerProxy(proxies: number) {
  const { ProxyWasmPlugin, SharedData } = await import('../../filter/host/index.ts');
  const { readFilterModule } = await import('../support/release-filter.ts');
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-bench-proxies-'));
  const adminToken = 'a'.repeat(32), proxyToken = 'p'.repeat(32);
  writeFileSync(join(dataDir, 'tokens.json'), JSON.stringify({ admin: { bench: adminToken }, proxy: proxyToken }), { mode: 0o600 });
  const plane = await startControlPlaneChild(dataDir);
  const plugins: Awaited<ReturnType<typeof ProxyWasmPlugin.create>>[] = [];
  const get = async (path: string, token?: string) => {
    const response = await fetch(`http://127.0.0.1:${plane.httpPort}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return response.text();
  };
  const streams = async () => Number(/^meshlens_cp_connected_proxies (\d+)$/m.exec(await get('/metrics'))?.[1] ?? NaN);
  const rollout = async () => JSON.parse(await get('/v1/rollout?pageSize=1', adminToken)) as { snapshotVersion: string; converged: number; connected: number };
  const untilAll = async (what: string) => {
    const deadline = wallMs() + 60_000;
    for (;;) {
      const status = await rollout();
      if (status.converged === proxies && status.connected === proxies) return status;
      if (wallMs() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  try {
    await adminPut(plane.httpPort, adminToken, 'orders', 0, 1000);
    const wasm = readFilterModule('meshlens.wasm');
    for (let k = 0; k < proxies; k++) {
      plugins.push(await ProxyWasmPlugin.create({
        wasm, workers: 4, sharedData: new SharedData(), logLevel: 'warn',
        configuration: JSON.stringify({
          tickMs: 200, reportIntervalMs: 5000, controlPlane: { cluster: 'cp', token: proxyToken, timeoutMs: 2000 },
          node: { id: `sidecar~10.1.${k >> 8}.${k & 255}~bench-${k}.default~default.svc.cluster.local`, workload: 'bench', namespace: 'default' },
        }),
        clusters: { cp: { address: `127.0.0.1:${plane.grpcPort}` } },
      }));
    }
    await untilAll('every proxy to subscribe');
    const samples: number[] = [];
    // Idle for three leases (1 s each at tickMs 200): renewals must keep one holder per proxy.
    for (let i = 0; i < 6; i++) {
      samples.push(await streams());
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const t0 = wallMs();
    await adminPut(plane.httpPort, adminToken, 'orders', 1, 2000);
    await untilAll('every proxy to ACK the write');
    const writeToAllAckMs = Math.round(wallMs() - t0);
    samples.push(await streams());
    const opened = plugins.reduce((n, p) => n + (p.stats.counter('meshlens_control_plane_streams_opened_total') ?? 0), 0);
    return {
      proxies, vmsPerProxy: 5, streamsSamples: samples, streamsPerProxy: Math.max(...samples) / proxies,
      streamsPerProxyMin: Math.min(...samples) / proxies, writeToAllAckMs, streamsOpenedPerProxy: opened / proxies,
    };
  } finally {
    for (const plugin of plugins) await plugin.close();
    plane.child.kill('SIGTERM');
    await new Promise((resolve) => plane.child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
