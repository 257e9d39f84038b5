// Breaker and retry benchmark (npm run bench:breaker). Deterministic time throughout; prints one JSON object last.
//
// 1. Time to enforce: from the first failing response of a total outage to the moment every one of four workers
//    rejects, in ms and in tick periods. Measured on the Resilience glue with four workers sharing one CAS store,
//    against a baseline measured in the same run: four workers with private breakers (no shared data, as a
//    proxy-wasm filter without shared data or Envoy's per-thread admission control behaves). 21 trials, the outage
//    starting at a different phase of the tick each time; medians quoted. When the release filter runs in the Node
//    host, the same measurement is repeated through it (real shared data, real ticks).
// 2. Retry amplification under total outage: upstream attempts per offered request with no budget (baseline), with
//    the default 20 % budget, and with the breaker on as well.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { ensureFilterBuilt, buildDir } from '../filter/support.ts';
import { loadHarness } from '../policy/load-harness.ts';

const h = await loadHarness();
const WORKERS = 4;
const TICK_MS = 200;
const TRIALS = 21;
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const T0 = 1_700_000_000_000;

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// ms/ticks: first failing response → every worker rejecting; spreadMs: first worker rejecting → every worker rejecting.
interface EnforceResult { ms: number; ticks: number; spreadMs: number }

// Offered load: `rps` requests per second spread round-robin over the workers; from `outageAt` every response fails.
function enforceOnGlue(isolated: boolean, rps: number, preludeMs: number, phaseMs: number): EnforceResult {
  const policy = JSON.stringify([{ breaker: { minRequests: 20, errorRateThreshold: 0.3 } }]);
  const err = isolated ? h.workersCreateIsolated(WORKERS, policy) : h.workersCreate(WORKERS, policy);
  if (err !== '') throw new Error(err);
  const gapMs = 1000 / rps;
  const outageAt = T0 + preludeMs + phaseMs; // healthy traffic first, so the window may hold successes
  // Each worker's timer runs on its own phase, like separate threads.
  const nextTick = Array.from({ length: WORKERS }, (_, w) => T0 + ((w * 53) % TICK_MS) + 1);
  const rejecting = new Set<number>();
  let firstFailure = -1;
  let firstReject = -1;
  let ticksFired = 0;
  for (let i = 0; ; i++) {
    const t = T0 + i * gapMs;
    for (let w = 0; w < WORKERS; w++) {
      while (nextTick[w] <= t) {
        h.workerTick(w, nextTick[w]);
        if (firstFailure >= 0 && w === 0) ticksFired++;
        nextTick[w] += TICK_MS;
      }
    }
    const w = i % WORKERS;
    const id = h.workerAdmit(w, CLUSTER, 'acme', '/orders/{id}', 'GET', false, t);
    if ((h.admissionInfo(id) as string).startsWith('reject')) {
      if (firstFailure >= 0) rejecting.add(w);
      if (firstReject < 0) firstReject = t;
      if (rejecting.size === WORKERS) return { ms: t - firstFailure, ticks: ticksFired, spreadMs: t - firstReject };
      continue;
    }
    const failing = t >= outageAt;
    if (failing && firstFailure < 0) firstFailure = t + 1;
    h.workerRecord(w, id, failing ? 503 : 200, -1, failing ? 'URX' : '', 1, 1, t + 1);
    if (t > outageAt + 600_000) throw new Error('breaker never enforced');
  }
}

function enforceOnFilter(wasm: Uint8Array, rps: number, preludeMs: number, phaseMs: number): Promise<EnforceResult | null> {
  return (async () => {
    const clock = new ManualClock(T0);
    const p = await ProxyWasmPlugin.create({
      wasm, clock, workers: WORKERS,
      configuration: JSON.stringify({ tickMs: TICK_MS, defaultPolicy: { breaker: { minRequests: 20, errorRateThreshold: 0.3 } } }),
    });
    try {
      const gapMs = 1000 / rps;
      const outageAt = T0 + preludeMs + phaseMs;
      const rejecting = new Set<number>();
      let firstFailure = -1;
      let firstReject = -1;
      let t = T0;
      for (let i = 0; ; i++) {
        const target = T0 + i * gapMs;
        clock.advance(target - t); // fires every VM tick due on the way
        t = target;
        const w = i % WORKERS;
        const failing = t >= outageAt;
        const result = p.request(w, {
          cluster: CLUSTER,
          requestHeaders: [[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']],
          response: { responseCode: failing ? 503 : 200, durationMs: 1, attemptCount: 1, ...(failing ? { responseFlags: 'URX' } : {}) },
        });
        if (p.failedVms().length > 0) return null;
        if (result.localReply?.details === 'meshlens_breaker_open') {
          if (firstFailure >= 0) rejecting.add(w);
          if (firstReject < 0) firstReject = t;
          if (rejecting.size === WORKERS) {
            return { ms: t - firstFailure, ticks: Math.floor((t - firstFailure) / TICK_MS), spreadMs: t - firstReject };
          }
          continue;
        }
        if (failing && firstFailure < 0) firstFailure = t;
        if (t > outageAt + 600_000) throw new Error('breaker never enforced');
      }
    } finally { await p.close(); }
  })();
}

function summarise(results: EnforceResult[]) {
  return {
    medianMs: median(results.map((r) => r.ms)), maxMs: Math.max(...results.map((r) => r.ms)),
    medianTicks: median(results.map((r) => r.ticks)), maxTicks: Math.max(...results.map((r) => r.ticks)),
    medianSpreadMs: median(results.map((r) => r.spreadMs)), maxSpreadMs: Math.max(...results.map((r) => r.spreadMs)),
  };
}

// Attempts the upstream sees per offered request during a 30 s total outage at 1000 rps; each granted request
// spends all its retries, as Envoy's router would against a 503-only upstream.
function amplification(policy: object): { attemptsPerRequest: number; rejectedShare: number } {
  const err = h.workersCreate(WORKERS, JSON.stringify([policy]));
  if (err !== '') throw new Error(err);
  let offered = 0, attempts = 0, rejected = 0;
  for (let i = 0; i < 30_000; i++) {
    const t = T0 + i;
    const w = i % WORKERS;
    if (i % 50 === 0) for (let v = 0; v < WORKERS; v++) h.workerTick(v, t);
    const id = h.workerAdmit(w, CLUSTER, 'acme', '/orders/{id}', 'GET', false, t);
    const info = h.admissionInfo(id) as string;
    offered++;
    if (info.startsWith('reject')) { rejected++; continue; }
    const max = /x-envoy-max-retries: (\d+)/.exec(info);
    const tries = 1 + (max ? Number(max[1]) : 0);
    attempts += tries;
    h.workerRecord(w, id, 503, -1, 'URX', 1, tries, t + 1);
  }
  return { attemptsPerRequest: +(attempts / offered).toFixed(4), rejectedShare: +(rejected / offered).toFixed(4) };
}

const phases = Array.from({ length: TRIALS }, (_, i) => (i * TICK_MS) / TRIALS);
const scenarios: Record<string, unknown> = {};
// Low traffic from a cold start, where minRequests binds; then steady traffic where the error rate binds.
for (const [name, rps, preludeMs] of [['40rps-cold', 40, 0], ['100rps-after-2s-healthy', 100, 2000], ['1000rps-after-2s-healthy', 1000, 2000]] as const) {
  const shared = phases.map((ph) => enforceOnGlue(false, rps, preludeMs, ph));
  const isolated = phases.map((ph) => enforceOnGlue(true, rps, preludeMs, ph));
  scenarios[name] = { sharedBreaker: summarise(shared), perWorkerBaseline: summarise(isolated) };
}

let releaseFilter: Record<string, unknown> | string = 'unavailable';
try {
  ensureFilterBuilt();
  const wasm = new Uint8Array(readFileSync(join(buildDir, 'meshlens.wasm')));
  const out: Record<string, unknown> = {};
  for (const [name, rps, preludeMs] of [['40rps-cold', 40, 0], ['100rps-after-2s-healthy', 100, 2000]] as const) {
    const results: EnforceResult[] = [];
    for (const ph of phases.slice(0, 7)) {
      const r = await enforceOnFilter(wasm, rps, preludeMs, ph);
      if (r === null) throw new Error('a VM failed in the host (see test/policy/filter-breaker.test.ts)');
      results.push(r);
    }
    out[name] = { trials: results.length, ...summarise(results) };
  }
  releaseFilter = out;
} catch (err) {
  releaseFilter = `unavailable: ${(err as Error).message.split('\n')[0]}`;
}

const unbounded = { breaker: { enabled: false }, retry: { budgetRatio: 1, minRetriesPerSecond: 100000 } };
const budgeted = { breaker: { enabled: false } };
const result = {
  bench: 'breaker',
  workers: WORKERS,
  tickMs: TICK_MS,
  trials: TRIALS,
  timeToAllWorkersRejecting: scenarios,
  releaseFilter,
  retryAmplificationTotalOutage: {
    noBudgetBaseline: amplification(unbounded),
    budget20pct: amplification(budgeted),
    budget20pctWithBreaker: amplification({}),
  },
};
console.log(JSON.stringify(result));
