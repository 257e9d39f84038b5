// The retry budget of the shipped release filter across four worker VMs (the Envoy-like Node host, ManualClock):
// total upstream attempts must stay within (1 + budgetRatio) × requests + minRetriesPerSecond × elapsed seconds
// however the requests are spread over the workers, because every granted retry is reserved in shared data first.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { readWasm } from '../filter/support.ts';

const wasm = readWasm('meshlens.wasm');
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const T0 = 1_700_000_000_000;
const BUDGET_RATIO = 0.2;
const MIN_RETRIES_PER_SECOND = 5;

// Breaker off: the budget alone must bound the attempts. A 1 s window, so the runs span many of them.
const POLICY = {
  breaker: { enabled: false, windowMs: 1000 },
  retry: { budgetRatio: BUDGET_RATIO, minRetriesPerSecond: MIN_RETRIES_PER_SECOND },
};

async function plugin(clock: ManualClock, workers: number): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({ wasm, clock, workers, configuration: JSON.stringify({ tickMs: 200, defaultPolicy: POLICY }) });
}

function grantedRetries(forwarded: [string, string][]): number {
  return Number(forwarded.find(([name]) => name === 'x-envoy-max-retries')?.[1] ?? 0);
}

// Starts a request on `worker`; finishing it reports what Envoy's router would: every granted retry spent on a
// failing upstream, none on a healthy one.
function start(p: ProxyWasmPlugin, worker: number) {
  const stream = p.openStream(worker, { cluster: CLUSTER });
  const admitted = stream.requestHeaders([[':method', 'GET'], [':path', '/orders/1'], [':authority', 'orders'], [':scheme', 'http']], true);
  assert.is(admitted.action, 'continue');
  const granted = grantedRetries(stream.forwardedRequestHeaders());
  return {
    granted,
    finish(status: number): number {
      const attempts = status >= 500 ? 1 + granted : 1;
      stream.responseHeaders([[':status', String(status)]], true);
      stream.log({ responseCode: status, durationMs: 1, attemptCount: attempts, responseFlags: status >= 500 && granted > 0 ? 'URX' : undefined });
      return attempts;
    },
  };
}

class Tally {
  requests = 0;
  attempts = 0;
  add(attempts: number) { this.requests++; this.attempts += attempts; }
  bound(elapsedMs: number) { return (1 + BUDGET_RATIO) * this.requests + MIN_RETRIES_PER_SECOND * elapsedMs / 1000; }
}

const budget = suite('filter: one retry budget for every worker VM');

budget('total outage, four workers, a request every millisecond: attempts stay within the budget bound', async () => {
  const clock = new ManualClock(T0);
  const p = await plugin(clock, 4);
  try {
    const tally = new Tally();
    let granted = 0;
    for (let i = 0; i < 4000; i++) {
      const request = start(p, i % 4);
      if (request.granted > 0) granted++;
      tally.add(request.finish(503));
      clock.advance(1);
    }
    const bound = tally.bound(4000);
    assert.ok(tally.attempts <= bound, `${tally.attempts} attempts for ${tally.requests} requests must be ≤ ${bound}`);
    // The budget is spent, not merely refused: about budgetRatio of the requests get retries.
    assert.ok(tally.attempts - tally.requests >= 0.15 * tally.requests, `${tally.attempts - tally.requests} retries`);
    assert.ok(granted > 0 && granted < tally.requests);
    assert.ok(sumCounter(p, 'budget_exhausted') > 0, 'the budget refuses some requests');
    assert.equal(p.failedVms(), []);
  } finally { await p.close(); }
});

// Short bursts after idle periods: the window has emptied, so only the floor (5 retries per window) and the
// burst's own requests fund retries, and no later traffic in the same window makes up for an overdraft.
const BURSTS = [
  { name: '16 requests in flight at once (4 per worker)', inFlight: 16, rounds: 1, stepMs: 1 },
  { name: 'one request per worker at a time, five rounds 2 ms apart', inFlight: 4, rounds: 5, stepMs: 2 },
  { name: '8 in flight, three rounds', inFlight: 8, rounds: 3, stepMs: 1 },
];
for (const shape of BURSTS) {
  budget(`bursts after idle periods, ${shape.name}: attempts stay within the bound`, async () => {
    const clock = new ManualClock(T0);
    const p = await plugin(clock, 4);
    try {
      const tally = new Tally();
      const IDLE_MS = 1100;
      for (let burst = 0; burst < 8; burst++) {
        for (let round = 0; round < shape.rounds; round++) {
          const inFlight = Array.from({ length: shape.inFlight }, (_, i) => start(p, i % 4));
          for (const request of inFlight) tally.add(request.finish(503));
          clock.advance(shape.stepMs);
        }
        clock.advance(IDLE_MS);
      }
      const bound = tally.bound(8 * (shape.rounds * shape.stepMs + IDLE_MS));
      assert.ok(tally.attempts <= bound, `${tally.attempts} attempts for ${tally.requests} requests must be ≤ ${bound.toFixed(1)}`);
      assert.ok(tally.attempts > tally.requests, 'retries happen');
      assert.equal(p.failedVms(), []);
    } finally { await p.close(); }
  });
}

budget('a healthy upstream gets its retries granted on every worker: unused reservations are given back', async () => {
  const clock = new ManualClock(T0);
  const p = await plugin(clock, 4);
  try {
    let refused = 0;
    // 8 requests in flight at a time, each holding a reservation of 2 retries until it finishes. The first 100 ms
    // are left out: until enough requests have finished, the floor (5 retries per window) cannot cover 16.
    for (let round = 0; round < 1000; round++) {
      const inFlight = Array.from({ length: 8 }, (_, k) => start(p, (round + k) % 4));
      for (const request of inFlight) {
        if (round >= 100 && request.granted !== 2) refused++;
        request.finish(200);
      }
      clock.advance(1);
    }
    assert.is(refused, 0, 'no request lost its retries to reservations of finished requests');
    // An outage right after: the budget is still the full ratio, not eaten by the 4,000 settled grants.
    let granted = 0;
    for (let i = 0; i < 40; i++) if (start(p, i % 4).granted > 0) granted++;
    assert.ok(granted >= 40 * 0.5, `${granted} of 40 requests granted after healthy traffic`);
  } finally { await p.close(); }
});

function sumCounter(p: ProxyWasmPlugin, decision: string): number {
  let total = 0;
  for (const line of p.stats.renderPrometheus().split('\n')) {
    if (line.startsWith('meshlens_retry_decisions_total{') && line.includes(`decision="${decision}"`)) total += Number(line.split(' ').pop());
  }
  return total;
}

budget.run();
