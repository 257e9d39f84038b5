// Retransmit storm: 50 persistent HTTP connections streaming between two network namespaces while nftables drops 5 %
// of the receiver's input. Three interleaved configurations per round, medians over rounds:
//   baseline  - no collector;
//   meshlens  - the BPF loader (in-kernel per-flow aggregation, one NDJSON line per second);
//   bpftrace  - a per-event program on tracepoint:tcp:tcp_retransmit_skb printing what tcpretrans.bt prints.
// Reported: segments counted vs the netns TcpRetransSegs delta, user-space CPU seconds per million retransmitted
// segments after attach (program load excluded), and client throughput. Prints one JSON object on the last line.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NetnsPair, Lines, kernelTestsMissing } from '../bpf/helpers/netns.ts';
import { LoaderRun, sumBy } from '../bpf/helpers/loader-run.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 50;
const REQUESTS = 2;
const BYTES = 1_000_000;
const LOSS_PERCENT = 5;
const PORT = 8080;

const serverScript = fileURLToPath(new URL('../bpf/fixtures/http-server.mjs', import.meta.url));
const clientScript = fileURLToPath(new URL('../bpf/fixtures/http-client.mjs', import.meta.url));

/** On-CPU time (user + system) of every thread of `pid`, in seconds, from schedstat's nanosecond run time. */
function cpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1e9;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

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

interface Run {
  kernelSegs: number;
  countedSegs: number;
  cpuSeconds: number;
  throughputMBps: number;
}

async function traffic(pair: NetnsPair): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const child = pair.spawnIn(pair.client, [process.execPath, clientScript, pair.serverAddr, String(PORT), String(CONNECTIONS), String(REQUESTS), String(BYTES)]);
  const lines = new Lines(child, 'bench client');
  const done = JSON.parse(await lines.next((l) => l.includes('"event":"done"')));
  const seconds = (performance.now() - started) / 1000;
  child.stdin!.write('close\n');
  await lines.next((l) => l.includes('"event":"closed"'));
  return { seconds, bytes: done.bytes };
}

async function runBaseline(pair: NetnsPair): Promise<Run> {
  const before = pair.mib(pair.server);
  const t = await traffic(pair);
  const after = pair.mib(pair.server);
  return { kernelSegs: after.TcpRetransSegs! - before.TcpRetransSegs!, countedSegs: 0, cpuSeconds: 0, throughputMBps: t.bytes / t.seconds / 1e6 };
}

async function runMeshlens(pair: NetnsPair): Promise<Run> {
  const loader = new LoaderRun(['-i', '1000', '-n', String(pair.inode(pair.server))]);
  await loader.started();
  const cpuAtAttach = cpuSeconds(loader.child.pid!);
  const before = pair.mib(pair.server);
  const t = await traffic(pair);
  const target = CONNECTIONS;
  // all flows closed and reported: nothing of this round is left in the map
  await loader.until((iv) => new Set(iv.flatMap((i) => i.flows).filter((f) => f.lport === PORT && f.closed).map((f) => f.rport)).size >= target);
  const after = pair.mib(pair.server);
  const cpu = cpuSeconds(loader.child.pid!) - cpuAtAttach;
  await loader.stop();
  const countedSegs = sumBy(loader.intervals().flatMap((i) => i.flows), (f) => f.retransSegs);
  return { kernelSegs: after.TcpRetransSegs! - before.TcpRetransSegs!, countedSegs, cpuSeconds: cpu, throughputMBps: t.bytes / t.seconds / 1e6 };
}

async function runBpftrace(pair: NetnsPair): Promise<Run> {
  const child = spawn('bpftrace', ['-e', bpftraceProgram(pair.inode(pair.server))], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = new Lines(child, 'bpftrace');
  await lines.next((l) => /^Attaching \d+ probe/.test(l));
  const cpuAtAttach = cpuSeconds(child.pid!);
  // bpftrace prints "Attaching" before the probe is live; one retransmit-free second settles it
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = pair.mib(pair.server);
  const t = await traffic(pair);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // trailing FIN retransmits, as the loader waits for closes
  const after = pair.mib(pair.server);
  const cpu = cpuSeconds(child.pid!) - cpuAtAttach;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
  const countedSegs = sumBy(lines.all.filter((l) => /^\d\d:\d\d:\d\d /.test(l)), (l) => Number(l.trim().split(/\s+/).pop()));
  return { kernelSegs: after.TcpRetransSegs! - before.TcpRetransSegs!, countedSegs, cpuSeconds: cpu, throughputMBps: t.bytes / t.seconds / 1e6 };
}

function summarise(runs: Run[]) {
  const kernel = sumBy(runs, (r) => r.kernelSegs);
  const counted = sumBy(runs, (r) => r.countedSegs);
  return {
    kernelRetransSegs: kernel,
    countedRetransSegs: counted,
    countedOverKernel: kernel ? Number((counted / kernel).toFixed(4)) : null,
    cpuSecondsPerMillionRetransmits: Number(median(runs.map((r) => (r.kernelSegs ? r.cpuSeconds / (r.kernelSegs / 1e6) : 0))).toFixed(3)),
    throughputMBpsMedian: Number(median(runs.map((r) => r.throughputMBps)).toFixed(1)),
    perRound: runs.map((r) => ({ kernel: r.kernelSegs, counted: r.countedSegs, cpuS: Number(r.cpuSeconds.toFixed(4)), MBps: Number(r.throughputMBps.toFixed(1)) })),
  };
}

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
    await new Lines(server, 'bench server').next((l) => l === 'listening');
    pair.addInputRule(pair.client, `tcp sport ${PORT} numgen random mod 100 < ${LOSS_PERCENT} drop`);
    const results = { baseline: [] as Run[], meshlens: [] as Run[], bpftrace: [] as Run[] };
    for (let round = 0; round < ROUNDS; round++) {
      // rotate the order so no configuration always runs first after the previous one's teardown
      const phases = [
        async () => results.baseline.push(await runBaseline(pair)),
        async () => results.meshlens.push(await runMeshlens(pair)),
        async () => results.bpftrace.push(await runBpftrace(pair)),
      ];
      for (let i = 0; i < phases.length; i++) await phases[(round + i) % phases.length]!();
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
    const baseline = median(results.baseline.map((r) => r.throughputMBps));
    const meshlens = summarise(results.meshlens);
    const bpftrace = summarise(results.bpftrace);
    console.log(JSON.stringify({
      bench: 'bpf', connections: CONNECTIONS, requestsPerConnection: REQUESTS, bytesPerRequest: BYTES, lossPercent: LOSS_PERCENT, rounds: ROUNDS,
      baseline: { throughputMBpsMedian: Number(baseline.toFixed(1)), kernelRetransSegs: sumBy(results.baseline, (r) => r.kernelSegs) },
      meshlens: { ...meshlens, throughputVsBaseline: Number((meshlens.throughputMBpsMedian / baseline).toFixed(3)) },
      bpftrace: { ...bpftrace, throughputVsBaseline: Number((bpftrace.throughputMBpsMedian / baseline).toFixed(3)) },
    }));
  } finally {
    pair.cleanup();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
