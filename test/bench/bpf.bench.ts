// Sustained retransmit storm between two network namespaces: CONNECTIONS TCP connections stream bulk data while
// nftables drops LOSS_PERCENT % of what the receiver gets, for WINDOW_S seconds per configuration. Three interleaved
// configurations per round, medians over rounds:
//   none      - no collector;
//   meshlens  - the node agent as deployed (it runs the BPF loader, parses its NDJSON once per second, exports
//               Prometheus metrics and sends KernelTelemetry reports to a gRPC server in this process);
//   bpftrace  - a per-event program on tracepoint:tcp:tcp_retransmit_skb printing what tcpretrans.bt prints, its
//               output drained from a pipe by this process.
// CPU is sampled at the start and end of the storm window only (start-up and attach excluded for both tools); it is
// reported per million retransmitted segments by the kernel's own count (TcpRetransSegs), for the loader alone and for
// loader + agent. The agent is a daemon: it runs AGENT_SETTLE_MS before the storm so that V8's one-off start-up work
// (module compilation, the post-start garbage collections, which alone cost more than a storm window) is not charged
// to retransmits; what that start-up costs is reported on its own (agent_startup_cpu_seconds). Counts cover everything from before the first connection to after the last close, so "exact" means
// every retransmit of the storm. Prints one JSON object on the last line.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NetnsPair, Lines, kernelTestsMissing, mibOfProcess } from '../bpf/helpers/netns.ts';
import { startKernelTelemetryServer } from '../bpf/helpers/kernel-telemetry-server.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);
// 400 connections at 20 % loss gave the highest retransmit rate of a sweep on this 2-CPU machine (50 at 5 %: ~50k/s;
// 400 at 20 %: ~300k/s; more connections or more loss collapse the senders' windows and lower it)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 400);
const LOSS_PERCENT = Number(process.env.BENCH_LOSS_PERCENT ?? 20);
// slow start and the first losses settle, and the agent's per-flow code is compiled, before the window opens
const WARMUP_MS = 5000;
// measured: an idle agent's CPU falls to ~1 ms per 3 s about 12 s after start
const AGENT_SETTLE_MS = 20_000;
const PORT = 8080;

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const AGENT = fileURLToPath(new URL('../../bpf/agent/main.ts', import.meta.url));
const serverScript = fileURLToPath(new URL('../bpf/fixtures/storm-server.mjs', import.meta.url));
const clientScript = fileURLToPath(new URL('../bpf/fixtures/storm-client.mjs', import.meta.url));

/** On-CPU time (user + system) of every thread of `pid`, in seconds, from schedstat's nanosecond run time. */
function cpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread exited between readdir and read */
    }
  }
  return ns / 1e9;
}

function childPids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round3 = (n: number) => Number(n.toFixed(3));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// tcp_skb_pcount(skb) = skb->cb (offset 40 in this kernel's struct sk_buff) + tcp_gso_segs (offset 8 in tcp_skb_cb);
// bpftrace 0.17 miscompiles the equivalent struct cast, so the baseline reads it by offset.
const SKB_GSO_SEGS_OFFSET = 48;
const bpftraceProgram = (netns: number) => `
tracepoint:tcp:tcp_retransmit_skb /args->err == 0/ {
  $sk = (struct sock *)args->skaddr;
  if ($sk->__sk_common.skc_net.net->ns.inum == ${netns}) {
    $segs = *(uint16 *)((uint64)args->skbaddr + ${SKB_GSO_SEGS_OFFSET});
    time("%H:%M:%S ");
    printf("%-6d %-20s:%-6d %-20s:%-6d %d %d\\n", pid, ntop(args->saddr), args->sport, ntop(args->daddr), args->dport, args->state, $segs);
  }
}`;

interface Window {
  seconds: number;
  bytes: number;
  kernelSegs: number;
  /** CPU seconds in the window per measured process, by role */
  cpu: Record<string, number>;
}

interface Run {
  window: Window;
  /** TcpRetransSegs from before the first connection to after the last close */
  kernelTotal: number;
  counted: number;
  /** events the tool itself reports it did not see (meshlens missed_events, bpftrace "Lost N events") */
  lostEvents: number;
  /** meshlens only: agent CPU seconds from spawn to the end of its settle time */
  agentStartupCpu?: number;
  mapFullDrops?: number;
  evictedFlows?: number;
  kernelFailed?: number;
}

class Storm {
  constructor(private readonly pair: NetnsPair, private readonly serverPid: number) {}

  /**
   * Waits until the server namespace has no connection that could still retransmit (only the listener and TIME_WAIT
   * left: the previous configuration's FINs are done), then returns TcpRetransSegs. The kernel has no event for this,
   * so it polls.
   */
  async quiesce(): Promise<number> {
    const live = () => ['tcp', 'tcp6'].flatMap((file) => readFileSync(`/proc/${this.serverPid}/net/${file}`, 'utf8').trim().split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/)[3]).filter((state) => state !== '0A' && state !== '06').length;
    while (live() > 0) await delay(50);
    return this.retransSegs();
  }

  /** Connects, warms up, measures one window (CPU of `pids` sampled at its edges), closes every connection. */
  async run(pids: Record<string, number>): Promise<{ window: Window }> {
    const client = this.pair.spawnIn(this.pair.client, [process.execPath, clientScript, this.pair.serverAddr, String(PORT), String(CONNECTIONS)]);
    const lines = new Lines(client, 'storm client');
    await lines.next((l) => l.includes('"event":"connected"'));
    await delay(WARMUP_MS);
    const start = await this.sample(client, lines, pids);
    await delay(WINDOW_S * 1000);
    const end = await this.sample(client, lines, pids);
    client.stdin!.write('close\n');
    await lines.next((l) => l.includes('"event":"closed"'));
    const cpu: Record<string, number> = {};
    for (const role of Object.keys(pids)) cpu[role] = end.cpu[role]! - start.cpu[role]!;
    return {
      window: { seconds: (end.ms - start.ms) / 1000, bytes: end.bytes - start.bytes, kernelSegs: end.kernel - start.kernel, cpu },
    };
  }

  retransSegs(): number {
    return mibOfProcess(this.serverPid).TcpRetransSegs!;
  }

  /** Segments the kernel counted as retransmitted although their transmission failed (also in TcpRetransSegs). */
  retransFailed(): number {
    return mibOfProcess(this.serverPid).TcpExtTCPRetransFail!;
  }

  private async sample(client: ChildProcess, lines: Lines, pids: Record<string, number>) {
    const seen = lines.all.length;
    const cpu: Record<string, number> = {};
    for (const [role, pid] of Object.entries(pids)) cpu[role] = cpuSeconds(pid);
    const kernel = this.retransSegs();
    client.stdin!.write('mark\n');
    const mark = JSON.parse(await lines.next((l) => l.includes('"event":"mark"'), seen));
    return { cpu, kernel, bytes: mark.bytes as number, ms: mark.ms as number };
  }
}

async function runNone(storm: Storm): Promise<Run> {
  const kernelBefore = await storm.quiesce();
  const { window } = await storm.run({});
  return { window, kernelTotal: storm.retransSegs() - kernelBefore, counted: 0, lostEvents: 0 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

async function scrape(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sums: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(meshlens_[a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) sums[m[1]!] = (sums[m[1]!] ?? 0) + Number(m[2]);
  }
  return sums;
}

async function runMeshlens(storm: Storm, netns: number): Promise<Run> {
  // before the collector starts: it counts every retransmit in the namespace from attach on
  const kernelBefore = await storm.quiesce();
  const failedBefore = storm.retransFailed();
  const telemetry = await startKernelTelemetryServer();
  const metricsPort = await freePort();
  const agent = spawn(process.execPath, ['--import', 'tsx', AGENT, '--netns', String(netns), '--control-plane', telemetry.address,
    '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let agentLog = '';
  agent.stderr!.on('data', (d) => {
    agentLog += d;
  });
  agent.stdout!.resume();
  try {
    // the first report proves the loader attached and the whole pipeline runs
    await Promise.race([telemetry.waitFor(1), new Promise((_, reject) => agent.once('exit', () => reject(new Error(`agent exited: ${agentLog}`))))]);
    const [loaderPid] = childPids(agent.pid!);
    if (!loaderPid) throw new Error(`agent has no loader child: ${agentLog}`);
    await delay(AGENT_SETTLE_MS);
    const agentStartupCpu = cpuSeconds(agent.pid!);
    const { window } = await storm.run({ loader: loaderPid, agent: agent.pid! });
    // every storm connection closed and reported: the server namespace has none left
    for (;;) {
      const reported = telemetry.reports.length;
      if (telemetry.reports.at(-1)?.activeConnections === '0') break;
      await telemetry.waitFor(reported + 1);
    }
    const kernelTotal = storm.retransSegs() - kernelBefore;
    const metrics = await scrape(metricsPort);
    return {
      window, kernelTotal, agentStartupCpu, counted: metrics.meshlens_tcp_retransmits_total ?? 0,
      lostEvents: metrics.meshlens_tcp_collector_missed_events_total ?? 0,
      mapFullDrops: metrics.meshlens_tcp_collector_map_full_drops_total ?? 0,
      evictedFlows: metrics.meshlens_tcp_collector_evicted_flows_total ?? 0,
      kernelFailed: storm.retransFailed() - failedBefore,
    };
  } finally {
    await new Promise<void>((resolve) => {
      if (agent.exitCode !== null || agent.signalCode !== null) return resolve();
      agent.once('exit', () => resolve());
      agent.kill('SIGTERM');
    });
    await telemetry.close();
  }
}

/** Sums the segment column of bpftrace's per-event lines as they stream in, without keeping them. */
class BpftraceOutput {
  events = 0;
  segs = 0;
  lost = 0;
  private rest = '';
  private attachedResolve!: () => void;
  readonly attached = new Promise<void>((resolve) => {
    this.attachedResolve = resolve;
  });

  feed(chunk: string): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) {
      const c = line.charCodeAt(0);
      if (c >= 48 && c <= 57 && line.charCodeAt(2) === 58) {
        this.events++;
        this.segs += Number(line.slice(line.lastIndexOf(' ') + 1));
      } else this.other(line);
    }
  }

  other(line: string): void {
    const lost = /Lost (\d+) events/.exec(line);
    if (lost) this.lost += Number(lost[1]);
    if (/^Attaching \d+ probe/.test(line)) this.attachedResolve();
  }
}

async function runBpftrace(storm: Storm, netns: number): Promise<Run> {
  const kernelBefore = await storm.quiesce();
  const child = spawn('bpftrace', ['-e', bpftraceProgram(netns)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new BpftraceOutput();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => out.feed(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => d.split('\n').forEach((l) => out.other(l)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([out.attached, exited.then(() => Promise.reject(new Error('bpftrace exited before attaching')))]);
    // bpftrace prints "Attaching" before the probe is live; one retransmit-free second settles it
    await delay(1000);
    const { window } = await storm.run({ bpftrace: child.pid! });
    await delay(1500); // trailing FIN retransmits, as the agent waits for closes
    const kernelTotal = storm.retransSegs() - kernelBefore;
    child.kill('SIGINT');
    await exited;
    return { window, kernelTotal, counted: out.segs, lostEvents: out.lost };
  } finally {
    child.kill('SIGKILL');
  }
}

const perMillion = (r: Run, roles: string[]) => roles.reduce((s, role) => s + r.window.cpu[role]!, 0) / (r.window.kernelSegs / 1e6);
const mbps = (r: Run) => (r.window.bytes * 8) / r.window.seconds / 1e6;
const rate = (r: Run) => r.window.kernelSegs / r.window.seconds;
const spread = (values: number[]) => ({ median: round3(median(values)), min: round3(Math.min(...values)), max: round3(Math.max(...values)) });

async function main(): Promise<void> {
  const missing = kernelTestsMissing();
  if (missing) {
    process.stderr.write(`SKIPPED (machine lacks it): ${missing}\n`);
    console.log(JSON.stringify({ bench: 'bpf', skipped: missing }));
    return;
  }
  const pair = new NetnsPair();
  try {
    const server = pair.spawnIn(pair.server, [process.execPath, serverScript, pair.serverAddr, String(PORT)]);
    await new Lines(server, 'storm server').next((l) => l === 'listening');
    pair.addInputRule(pair.client, `tcp sport ${PORT} numgen random mod 100 < ${LOSS_PERCENT} drop`);
    const storm = new Storm(pair, server.pid!);
    const netns = pair.inode(pair.server);
    const results = { none: [] as Run[], meshlens: [] as Run[], bpftrace: [] as Run[] };
    for (let round = 0; round < ROUNDS; round++) {
      // rotate the order so no configuration always runs first after the previous one's teardown
      const phases = [
        async () => results.none.push(await runNone(storm)),
        async () => results.meshlens.push(await runMeshlens(storm, netns)),
        async () => results.bpftrace.push(await runBpftrace(storm, netns)),
      ];
      for (let i = 0; i < phases.length; i++) await phases[(round + i) % phases.length]!();
      const last = (runs: Run[]) => runs.at(-1)!;
      const m = last(results.meshlens);
      process.stderr.write(`round ${round + 1}/${ROUNDS}: meshlens counted ${m.counted} of ${m.kernelTotal} (missed ${m.lostEvents}, map full ${m.mapFullDrops}, evicted ${m.evictedFlows}, kernel TCPRetransFail ${m.kernelFailed}); segs/s none ${Math.round(rate(last(results.none)))} meshlens ${Math.round(rate(last(results.meshlens)))} ` +
        `bpftrace ${Math.round(rate(last(results.bpftrace)))}; meshlens cpu ${JSON.stringify(last(results.meshlens).window.cpu)} bpftrace cpu ${JSON.stringify(last(results.bpftrace).window.cpu)}\n`);
    }
    const sum = (runs: Run[], f: (r: Run) => number) => runs.reduce((s, r) => s + f(r), 0);
    const meshCounted = sum(results.meshlens, (r) => r.counted);
    const meshKernel = sum(results.meshlens, (r) => r.kernelTotal);
    const loader = median(results.meshlens.map((r) => perMillion(r, ['loader'])));
    const agent = median(results.meshlens.map((r) => perMillion(r, ['agent'])));
    const loaderPlusAgent = median(results.meshlens.map((r) => perMillion(r, ['loader', 'agent'])));
    const bpftrace = median(results.bpftrace.map((r) => perMillion(r, ['bpftrace'])));
    const all = [...results.none, ...results.meshlens, ...results.bpftrace];
    console.log(JSON.stringify({
      bench: 'bpf', connections: CONNECTIONS, loss_percent: LOSS_PERCENT, window_s: WINDOW_S, rounds: ROUNDS,
      retransmit_segments_per_second: Math.round(median(all.map(rate))),
      retransmit_segments_per_second_by_config: Object.fromEntries(Object.entries(results).map(([k, runs]) => [k, Math.round(median(runs.map(rate)))])),
      meshlens: { counted: meshCounted, kernel: meshKernel, exact: meshCounted === meshKernel, missed_events: sum(results.meshlens, (r) => r.lostEvents),
        map_full_drops: sum(results.meshlens, (r) => r.mapFullDrops!), evicted_flows: sum(results.meshlens, (r) => r.evictedFlows!) },
      bpftrace: { counted: sum(results.bpftrace, (r) => r.counted), kernel: sum(results.bpftrace, (r) => r.kernelTotal), lost_events_reported: sum(results.bpftrace, (r) => r.lostEvents) },
      cpu_seconds_per_million: { meshlens_loader: round3(loader), meshlens_agent: round3(agent), meshlens_loader_plus_agent: round3(loaderPlusAgent), bpftrace: round3(bpftrace) },
      agent_startup_cpu_seconds: round3(median(results.meshlens.map((r) => r.agentStartupCpu!))),
      cpu_ratio_vs_bpftrace: { meshlens_loader: round3(loader / bpftrace), meshlens_loader_plus_agent: round3(loaderPlusAgent / bpftrace) },
      throughput_mbps: { none: round3(median(results.none.map(mbps))), meshlens: round3(median(results.meshlens.map(mbps))), bpftrace: round3(median(results.bpftrace.map(mbps))) },
      throughput_mbps_spread: Object.fromEntries(Object.entries(results).map(([k, runs]) => [k, spread(runs.map(mbps))])),
    }));
  } finally {
    pair.cleanup();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
