// Dry-run breaker replay over synthetic 1-second outcome slots: trip thresholds, minRequests, sliding window,
// HalfOpen probing with exponential reopen, slow calls recomputed from the duration histogram.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { replayBreaker } from '../../control-plane/src/breaker-replay.ts';
import { validatePolicy } from '../../control-plane/src/policy-model.ts';
import { DURATION_BUCKET_COUNT, slowCallsFromBuckets, type OutcomeSlot } from '../../control-plane/src/telemetry-store.ts';

const test = suite('breaker replay');
const T0 = 1_800_000_000_000;

function slots(spec: [seconds: number, requests: number, errors: number][]): OutcomeSlot[] {
  const out: OutcomeSlot[] = [];
  let t = T0;
  for (const [seconds, requests, errors] of spec) {
    for (let s = 0; s < seconds; s++, t += 1000) {
      out.push({ startMs: t, requests, errors, slowCalls: 0, buckets: new Array(DURATION_BUCKET_COUNT).fill(0) });
    }
  }
  return out;
}
const breaker = (overrides: Record<string, unknown> = {}) => validatePolicy({ breaker: overrides }).breaker;

test('stays Closed below the error threshold and below minRequests', () => {
  const healthy = replayBreaker(breaker(), { cluster: 'c', tenant: '', slots: slots([[60, 10, 2]]) });
  assert.equal([healthy.transitions, healthy.finalState, healthy.wouldReject], [0, 'Closed', 0]);
  const sparse = replayBreaker(breaker({ minRequests: 100, windowMs: 5000 }), { cluster: 'c', tenant: '', slots: slots([[60, 10, 10]]) });
  assert.is(sparse.transitions, 0, '50 requests per 5 s window never reach minRequests 100');
});

test('trips when the window error rate reaches the threshold, rejects while Open', () => {
  const result = replayBreaker(breaker({ openMs: 10_000, maxOpenMs: 10_000 }), { cluster: 'c', tenant: '', slots: slots([[5, 10, 0], [3, 10, 10], [20, 10, 0]]) });
  // Window 10 s: after 5 healthy seconds, errors accumulate 10, 20: 20/70 < 0.3, 30/80 ≥ 0.3 at the third failing second.
  assert.is(result.firstTripUnixMs, T0 + 8000);
  assert.is(result.wouldReject, 105, 'ten Open seconds of 10 rps, then 5 requests beyond the 5 HalfOpen probes');
  assert.equal([result.transitions, result.finalState], [3, 'Closed'], 'Open → HalfOpen → Closed after the successful probes');
});

test('HalfOpen closes after enough successful probes, reopens with doubled open time on failures', () => {
  const recovers = replayBreaker(breaker({ openMs: 2000, halfOpenProbes: 5, halfOpenSuccesses: 3 }), { cluster: 'c', tenant: '', slots: slots([[3, 10, 10], [10, 10, 0]]) });
  // Seconds 0-1 reach minRequests 20 at 100 % errors: Open at +2 s until +4 s (seconds 2, 3 rejected: 20). Second 4
  // is HalfOpen: 5 successful probes ≥ 3, 5 requests rejected beyond them, Closed at +5 s.
  assert.equal([recovers.transitions, recovers.finalState], [3, 'Closed'], 'Closed → Open → HalfOpen → Closed');
  assert.is(recovers.firstTripUnixMs, T0 + 2000);
  assert.is(recovers.wouldReject, 25);
  const flapping = replayBreaker(breaker({ openMs: 2000, maxOpenMs: 8000 }), { cluster: 'c', tenant: '', slots: slots([[60, 10, 10]]) });
  // Open at +2 s for 2 s; every HalfOpen second fails its 5 probes (rejecting the other 5) and reopens for twice as
  // long, capped at 8 s: HalfOpen at seconds 4, 8, 16, 24, 32, 40, 48, 56 (8 × 2 transitions after the first trip),
  // Open seconds 2-3, 5-7, six runs of 7, 57-59: 50 × 10 rejected, plus 8 × 5 beyond the probes.
  assert.is(flapping.firstTripUnixMs, T0 + 2000);
  assert.is(flapping.transitions, 1 + 8 * 2);
  assert.is(flapping.wouldReject, 50 * 10 + 8 * 5);
  assert.is(flapping.finalState, 'Open', 'reopened at second 56 until second 64');
});

test('disabled breaker never trips', () => {
  const result = replayBreaker(breaker({ enabled: false }), { cluster: 'c', tenant: '', slots: slots([[30, 10, 10]]) });
  assert.equal([result.transitions, result.requests, result.errors], [0, 300, 300]);
});

test('slow calls come from the duration histogram under the proposed slowCallMs', () => {
  const buckets = new Array(DURATION_BUCKET_COUNT).fill(0);
  buckets[8] = 10;      // (250, 500] ms
  buckets[9] = 10;      // (500, 1000] ms
  assert.is(slowCallsFromBuckets(buckets, 250), 20);
  assert.is(slowCallsFromBuckets(buckets, 500), 10);
  assert.is(slowCallsFromBuckets(buckets, 750), 5, 'linear share of the straddling bucket');
  assert.is(slowCallsFromBuckets(buckets, 1000), 0);
  assert.is(slowCallsFromBuckets(new Array(DURATION_BUCKET_COUNT).fill(0), 1), undefined);
  const slow = slots([[30, 20, 0]]).map((slot) => ({ ...slot, buckets }));
  // Under 300 ms: 10 calls of (500, 1000] plus 8 of the 10 in (250, 500] are slow, 18 of 20 per second, so the
  // first second (20 = minRequests) trips at +1 s; the default 30 s open time covers the 29 seconds left.
  const tripped = replayBreaker(breaker({ slowCallMs: 300, slowCallRateThreshold: 0.5 }), { cluster: 'c', tenant: '', slots: slow });
  assert.equal([tripped.slowCalls, tripped.firstTripUnixMs, tripped.transitions, tripped.wouldReject, tripped.finalState],
    [18 * 30, T0 + 1000, 1, 29 * 20, 'Open']);
  assert.is(replayBreaker(breaker({ slowCallMs: 900, slowCallRateThreshold: 0.5 }), { cluster: 'c', tenant: '', slots: slow }).transitions, 0);
});

test.run();
