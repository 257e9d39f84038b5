// `npm run bench:correlation`: how fast and how cleanly the control plane tells the network from the application.
//   join: CPU of joining and judging one window of 10,000 kernel flows and 10,000 connection entries over 1,000
//         (cluster, path template, tenant) routes (median of JOIN_RUNS, synthetic reports through the real code).
//         join_cpu_ms_per_window forces a full collection before each run, which also makes V8 drop the join's
//         compiled code (traced with --trace-opt --trace-deopt: every run recompiles it, TurboFan's CPU counted in
//         the process's): a cold join. join_cpu_ms_per_window_warm is the join as the correlator runs it, once per
//         window in a process that keeps its code: fresh windows, no forced collection (ingest the same:
//         ingest_cpu_ms_per_window cold, ingest_cpu_ms_per_window_warm);
//   verdicts: TRIALS runs of the real-kernel scenario (test/correlation/scenario.ts: release filter in the Node
//         sidecar, eBPF node agent, control plane; B loses LOSS_PERCENT % of its input packets, C answers 503 to 20 %),
//         each with WARMUP_WINDOWS clean windows (false positives counted) then both faults; time from onset to
//         B network-suspect and C app-failing.
//   network-aware: one run of test/correlation/network-aware.ts (the same traffic to a cluster of B with
//         breaker.networkAware on, one with it off, and C's cluster with it on; B losing NETWORK_AWARE_LOSS_PERCENT %):
//         the client-visible error rate and the breaker scopes opened on each lossy cluster from onset on.
// Prints one JSON object on the last line.
// MESHLENS_BENCH_ONLY=join runs the join part alone (no kernel, no root, ~30 s): the last line is then the JSON object
// with the join fields only (join_*, evaluate_cpu_ms_per_window, ingest_cpu_ms_per_window, reference_cpu_ms), e.g.
//   MESHLENS_BENCH_ONLY=join npm run bench:correlation
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CorrelationWindows, type ConnectionInput, type FlowInput } from '../../control-plane/src/correlation-windows.ts';
import { Correlator } from '../../control-plane/src/correlator.ts';
import { joinWindow } from '../../control-plane/src/correlation.ts';
import { kernelTestsMissing } from '../bpf/helpers/netns.ts';
import { sleep, startScenario, WASM } from '../correlation/scenario.ts';
import { LOSS_PERCENT as NETWORK_AWARE_LOSS_PERCENT, runNetworkAware, type NetworkAwareResult } from '../correlation/network-aware.ts';

const REPORT_INTERVAL_MS = 1000;
const TRIALS = Number(process.env.TRIALS ?? 5);
const WARMUP_WINDOWS = Number(process.env.WARMUP_WINDOWS ?? 12);
// As test/correlation/kernel-verdicts.test.ts: 5 % loss (the range is 2 to 5 %), 12 requests in flight.
const LOSS_PERCENT = 5;
const CONCURRENCY = 12;
const FLOWS = 10_000;
const ROUTES = 1_000;
const JOIN_RUNS = 15;

const median = (values: number[]) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
// Collections between measurements, so each figure pays for its own garbage and not for what the previous step left.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const cpuMs = (fn: () => void) => {
  collect();
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

/** One window of FLOWS flows on FLOWS connections of 100 endpoints, each connection used by 3 of ROUTES routes;
 * `ingestCpuMs`, when given, receives the CPU of handing the two reports to the windows (after a full collection
 * unless `warm`). */
function syntheticWindows(ingestCpuMs?: number[], warm = false): CorrelationWindows {
  const windows = new CorrelationWindows({ maxFlowsPerWindow: FLOWS, maxConnectionsPerWindow: FLOWS });
  const entries: ConnectionInput[] = [];
  const flows: FlowInput[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const local = `10.1.${i >> 8}.${i & 255}:${40000 + (i % 20000)}`;
    const remote = `10.2.0.${i % 100}:8080`;
    const routes = [0, 1, 2].map((k) => {
      const route = (i * 7 + k * 331) % ROUTES;
      return { pathTemplate: `/api/r${route % 100}/{id}`, tenant: `tenant-${Math.floor(route / 100)}`, requests: 3 + k, errors: k === 2 ? 1 : 0 };
    });
    const requests = routes.reduce((n, r) => n + r.requests, 0);
    entries.push({
      localAddress: local, remoteAddress: remote, cluster: 'outbound|8080||orders.shop.svc.cluster.local', requests, errors: 1, slowCalls: 0,
      durationMsSum: requests * 3, buckets: [0, 0, requests], routes,
    });
    flows.push({ netns: 4026532000 + (i % 50), localAddress: local, remoteAddress: remote, retransSegs: i % 10 === 0 ? 2 : 0, segsOut: 40, srttUs: 300, direction: 'FLOW_DIRECTION_OUTBOUND' as const });
  }
  const identities = Array.from({ length: 50 }, (_, n) => ({ netns: 4026532000 + n, proxyId: 'client-1' }));
  // Every proxy of the node reports the same connection entries here: one proxy id is enough for the join's cost.
  const ingest = () => {
    windows.addFilterReport('client-1', 0, REPORT_INTERVAL_MS, entries);
    windows.addKernelReport('node-a', 0, REPORT_INTERVAL_MS, flows, identities);
  };
  if (!ingestCpuMs) ingest();
  else if (!warm) ingestCpuMs.push(cpuMs(ingest));
  else {
    const start = process.cpuUsage();
    ingest();
    const used = process.cpuUsage(start);
    ingestCpuMs.push((used.user + used.system) / 1000);
  }
  return windows;
}

/**
 * CPU of a reference workload the size of the join's bookkeeping (10,000 keyed map entries of 3 small objects,
 * looked up again): this machine's speed, so join_cpu_ms_per_window can be read against it on a shared or slow host.
 */
function referenceCpuMs(): number {
  const runs: number[] = [];
  for (let run = 0; run < JOIN_RUNS; run++) {
    runs.push(cpuMs(() => {
      const map = new Map<string, { n: number; parts: { x: number; key: string }[] }>();
      for (let i = 0; i < FLOWS; i++) {
        const key = `p\u000010.1.${i >> 8}.${i & 255}:${40000 + i}|10.2.0.${i % 100}:8080`;
        map.set(key, { n: i, parts: [1, 2, 3].map((x) => ({ x, key: key + x })) });
      }
      let total = 0;
      for (let i = 0; i < FLOWS; i++) total += map.get(`p\u000010.1.${i >> 8}.${i & 255}:${40000 + i}|10.2.0.${i % 100}:8080`)!.n;
      if (total < 0) throw new Error('unreachable');
    }));
  }
  return median(runs)!;
}

function joinBench() {
  const ingest: number[] = [];
  const joinOnly: number[] = [];
  const evaluate: number[] = [];
  let routes = 0;
  for (let run = 0; run < JOIN_RUNS; run++) {
    // A fresh window each run: the connection index is built at ingest, so ingest is measured apart.
    const windows = syntheticWindows(ingest);
    const list = windows.windows();
    joinOnly.push(cpuMs(() => {
      const join = joinWindow(list, 0, false);
      routes = join.routes.length;
    }));
    const correlator = new Correlator(windows);
    evaluate.push(cpuMs(() => correlator.evaluate(10 * REPORT_INTERVAL_MS)));
  }
  // Warm: JOIN_RUNS more fresh windows joined without forced collections in between (the first ones warm the code).
  const warm: number[] = [];
  const warmIngest: number[] = [];
  for (let run = 0; run < 2 * JOIN_RUNS; run++) {
    const list = syntheticWindows(warmIngest, true).windows();
    const start = process.cpuUsage();
    joinWindow(list, 0, false);
    const used = process.cpuUsage(start);
    if (run >= JOIN_RUNS) warm.push((used.user + used.system) / 1000);
  }
  // The fastest run too: on a shared VM a run's CPU time includes whatever the host took from it (no steal-time
  // accounting here; the same join measured 66 to 350 ms in one process), the least disturbed run is the join's own.
  return {
    join_cpu_ms_per_window: median(joinOnly), join_cpu_ms_per_window_min: Math.min(...joinOnly), join_cpu_ms_per_window_warm: median(warm),
    evaluate_cpu_ms_per_window: median(evaluate),
    ingest_cpu_ms_per_window: median(ingest), ingest_cpu_ms_per_window_warm: median(warmIngest.slice(JOIN_RUNS)), join_routes: routes,
  };
}

async function trial(index: number) {
  const scenario = await startScenario({ reportIntervalMs: REPORT_INTERVAL_MS, lossPercent: LOSS_PERCENT, twin: false, concurrency: CONCURRENCY });
  try {
    const flaggedWindows = new Set<number>();
    const warmupStartWindow = scenario.plane.correlator.evaluatedWindows;
    const warmupEnd = Date.now() + WARMUP_WINDOWS * REPORT_INTERVAL_MS;
    while (Date.now() < warmupEnd) {
      await sleep(100);
      for (const e of scenario.endpoints()) if (e.verdict !== 'healthy' && e.verdict !== 'unknown') flaggedWindows.add(e.windowEndUnixMs);
    }
    // Windows evaluated from the first one in which every endpoint had a baseline-free verdict on.
    const clean = scenario.plane.correlator.evaluatedWindows - warmupStartWindow;
    const onset = await scenario.faults();
    const seen: Record<string, number> = {};
    const want: Record<string, string> = { B: 'network-suspect', C: 'app-failing' };
    while (Date.now() < onset + 10 * REPORT_INTERVAL_MS && Object.keys(seen).length < 2) {
      await sleep(25);
      for (const [name, verdict] of Object.entries(scenario.verdicts())) if (verdict === want[name] && seen[name] === undefined) seen[name] = Date.now() - onset;
    }
    const d = scenario.verdicts().D;
    // The end of the first window judged so, from onset: how much of the fault the verdict needed (seen − this is
    // the wait for that window's reports).
    const windowEnd = (name: string) => {
      const entered = scenario.endpoints().find((e) => e.name === name)?.history.find((h) => h.to === want[name]);
      return entered ? entered.windowEndUnixMs - onset : undefined;
    };
    process.stderr.write(`trial ${index}: B ${seen.B ?? 'missed'} ms (window end ${windowEnd('B')}), C ${seen.C ?? 'missed'} ms (window end ${windowEnd('C')}), D ${d}, clean windows ${clean}, flagged ${flaggedWindows.size}, sent ${scenario.traffic.sent}\n`);
    return { network: seen.B, app: seen.C, networkWindowEnd: windowEnd('B'), appWindowEnd: windowEnd('C'), dHealthy: d === 'healthy', clean, falsePositives: flaggedWindows.size };
  } finally {
    await scenario.stop();
  }
}

const only = process.env.MESHLENS_BENCH_ONLY ?? '';
if (only !== '' && only !== 'join') throw new Error(`invalid MESHLENS_BENCH_ONLY: ${only} must be "join" or unset`);
const join = joinBench();
const reference = referenceCpuMs();
process.stderr.write(`join of ${FLOWS} flows over ${join.join_routes} routes: ${join.join_cpu_ms_per_window} ms CPU (warm ${join.join_cpu_ms_per_window_warm} ms; join + verdicts ${join.evaluate_cpu_ms_per_window} ms; reference workload ${reference} ms)\n`);
const joinFields = {
  join_flows: FLOWS,
  join_routes: join.join_routes,
  join_cpu_ms_per_window: join.join_cpu_ms_per_window,
  join_cpu_ms_per_window_min: join.join_cpu_ms_per_window_min,
  join_cpu_ms_per_window_warm: join.join_cpu_ms_per_window_warm,
  evaluate_cpu_ms_per_window: join.evaluate_cpu_ms_per_window,
  reference_cpu_ms: reference,
  join_cost_in_reference_workloads: join.join_cpu_ms_per_window === null ? null : Math.round((join.join_cpu_ms_per_window / reference) * 100) / 100,
  ingest_cpu_ms_per_window: join.ingest_cpu_ms_per_window,
  ingest_cpu_ms_per_window_warm: join.ingest_cpu_ms_per_window_warm,
};
if (only === 'join') {
  console.log(JSON.stringify({ bench: 'correlation', only: 'join', ...joinFields }));
  process.exit(0);
}
const missing = kernelTestsMissing() ?? (existsSync(WASM) ? null : 'the release filter (npm run build:filter)');
const trials = [];
if (missing === null) for (let i = 0; i < TRIALS; i++) trials.push(await trial(i + 1));
else process.stderr.write(`verdict trials skipped: this machine lacks ${missing}\n`);
let networkAware: NetworkAwareResult | undefined;
if (missing === null) {
  networkAware = await runNetworkAware({ reportIntervalMs: REPORT_INTERVAL_MS, maxWaitMs: 120_000 });
  process.stderr.write(`network-aware:\n${networkAware.summary}\n`);
}
const network = trials.map((t) => t.network).filter((v): v is number => v !== undefined);
const app = trials.map((t) => t.app).filter((v): v is number => v !== undefined);
console.log(JSON.stringify({
  bench: 'correlation',
  report_interval_ms: REPORT_INTERVAL_MS,
  trials: trials.length,
  loss_percent: LOSS_PERCENT,
  network_verdict_ms_median: median(network),
  network_verdicts_missed: trials.length - network.length,
  app_verdict_ms_median: median(app),
  app_verdicts_missed: trials.length - app.length,
  network_verdict_ms: network,
  app_verdict_ms: app,
  network_verdict_window_end_ms: trials.map((t) => t.networkWindowEnd ?? null),
  app_verdict_window_end_ms: trials.map((t) => t.appWindowEnd ?? null),
  clean_endpoint_stayed_healthy: trials.filter((t) => t.dHealthy).length,
  false_positive_windows: trials.reduce((n, t) => n + t.falsePositives, 0),
  clean_windows_observed: trials.reduce((n, t) => n + t.clean, 0),
  ...joinFields,
  client_error_rate_network_aware_on: networkAware?.arms.on.clientErrorRate ?? null,
  client_error_rate_network_aware_off: networkAware?.arms.off.clientErrorRate ?? null,
  breaker_opens_network_aware_on: networkAware?.arms.on.opens ?? null,
  breaker_opens_network_aware_off: networkAware?.arms.off.opens ?? null,
  network_aware_loss_percent: NETWORK_AWARE_LOSS_PERCENT,
  network_aware_requests_per_cluster: networkAware ? Math.min(networkAware.arms.on.sent, networkAware.arms.off.sent) : null,
  network_aware_suspect_acked_ms: networkAware?.suspectAckedMs ?? null,
  network_aware_excused_requests: networkAware?.arms.on.networkSuspectFailures ?? null,
  breaker_opens_app_failing_network_aware_on: networkAware?.arms.broken.opens ?? null,
  skipped: missing ?? undefined,
}));
process.exit(0);
