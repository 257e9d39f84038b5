// The pure breaker (filter/assembly/policy/circuit-breaker.ts) driven through the AS test harness with explicit
// time: thresholds, minimum volume, slow calls, the sliding window, HalfOpen probes and growing open times.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadHarness } from './load-harness.ts';

const h = await loadHarness();
const CLOSED = 0, OPEN = 1, HALF_OPEN = 2;
const ADMIT = 0, REJECT = 1, PROBE = 2;
const T0 = 1_700_000_000_000; // a realistic epoch-ms start, so bucket epochs are large numbers

const policy = (breaker: Record<string, unknown>) => JSON.stringify({ breaker });
const ok = (b: number, t: number, ms = 10) => h.breakerRecord(b, 200, -1, '', ms, false, 0, t) as string;
const fail = (b: number, t: number) => h.breakerRecord(b, 503, -1, '', 10, false, 0, t) as string;

const trip = suite('breaker: tripping');

trip('does not trip before minRequests, trips exactly when volume is reached', () => {
  const b = h.breakerCreate(policy({ minRequests: 20 }));
  for (let i = 0; i < 19; i++) assert.is(fail(b, T0 + i), '', `failure ${i + 1} of 19 must not trip`);
  assert.is(h.breakerState(b), CLOSED);
  assert.is(fail(b, T0 + 19), 'Open');
  assert.is(h.breakerState(b), OPEN);
});

trip('trips exactly at the error-rate threshold, not just below it', () => {
  const below = h.breakerCreate(policy({ minRequests: 20, errorRateThreshold: 0.3 }));
  for (let i = 0; i < 15; i++) ok(below, T0 + i);
  for (let i = 0; i < 5; i++) fail(below, T0 + 20 + i); // 5 / 20 = 0.25
  assert.is(h.breakerState(below), CLOSED);

  const at = h.breakerCreate(policy({ minRequests: 20, errorRateThreshold: 0.3 }));
  for (let i = 0; i < 14; i++) ok(at, T0 + i);
  for (let i = 0; i < 5; i++) assert.is(fail(at, T0 + 20 + i), ''); // 19 requests: below minRequests
  assert.is(fail(at, T0 + 30), 'Open'); // 6 / 20 = 0.3
});

trip('slow calls trip on their own, with no failures at all', () => {
  const b = h.breakerCreate(policy({ minRequests: 20, slowCallMs: 800, slowCallRateThreshold: 0.5 }));
  for (let i = 0; i < 10; i++) ok(b, T0 + i, 799); // just under the slow threshold
  for (let i = 0; i < 9; i++) assert.is(ok(b, T0 + 20 + i, 800), '');
  assert.is(h.breakerWindow(b, T0 + 30), '19,0,9,0');
  assert.is(ok(b, T0 + 30, 800), 'Open'); // 10 slow / 20
});

trip('outcomes older than the window no longer count', () => {
  const b = h.breakerCreate(policy({ minRequests: 20, windowMs: 10000 }));
  for (let i = 0; i < 19; i++) fail(b, T0 + i);
  assert.is(h.breakerWindow(b, T0 + 5000), '19,19,0,0');
  // 10 buckets of 1 s: at T0 + 10 s the bucket holding T0 has left the window.
  assert.is(h.breakerWindow(b, T0 + 10000), '0,0,0,0');
  assert.is(fail(b, T0 + 10000), '');
  assert.is(h.breakerState(b), CLOSED);
});

trip('a disabled breaker never trips', () => {
  const b = h.breakerCreate(policy({ enabled: false, minRequests: 1 }));
  for (let i = 0; i < 50; i++) fail(b, T0 + i);
  assert.is(h.breakerState(b), CLOSED);
  assert.is(h.breakerAdmit(b, T0 + 60), ADMIT);
});

trip.run();

const cycle = suite('breaker: Open, HalfOpen and back');

function tripped(extra: Record<string, unknown> = {}) {
  const b = h.breakerCreate(policy({ minRequests: 5, openMs: 30000, maxOpenMs: 100000, halfOpenProbes: 3, halfOpenSuccesses: 2, ...extra }));
  for (let i = 0; i < 5; i++) fail(b, T0 + i);
  assert.is(h.breakerState(b), OPEN);
  return b;
}

cycle('Open rejects until openMs has passed, then admits HalfOpen probes up to halfOpenProbes', () => {
  const b = tripped();
  const openedAt = T0 + 4;
  assert.is(h.breakerOpenUntil(b), openedAt + 30000);
  assert.is(h.breakerAdmit(b, openedAt + 29999), REJECT);
  assert.is(h.breakerAdmit(b, openedAt + 30000), PROBE);
  assert.is(h.breakerState(b), HALF_OPEN);
  assert.is(h.breakerAdmit(b, openedAt + 30001), PROBE);
  assert.is(h.breakerAdmit(b, openedAt + 30002), PROBE);
  assert.is(h.breakerAdmit(b, openedAt + 30003), REJECT, 'a fourth probe in flight exceeds halfOpenProbes');
  // A finished probe frees its slot.
  assert.is(h.breakerRecord(b, 200, -1, '', 5, true, 0, openedAt + 30010), '');
  assert.is(h.breakerAdmit(b, openedAt + 30011), PROBE);
});

cycle('halfOpenSuccesses successful probes close the breaker with a clean window', () => {
  const b = tripped();
  const t = T0 + 4 + 30000;
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerRecord(b, 200, -1, '', 5, true, 0, t + 1), '');
  assert.is(h.breakerRecord(b, 200, -1, '', 5, true, 0, t + 2), 'Closed');
  assert.is(h.breakerState(b), CLOSED);
  assert.is(h.breakerOpenCount(b), 0);
  assert.is(h.breakerWindow(b, t + 3), '0,0,0,0', 'failures from before the Open must not re-trip');
  assert.is(h.breakerAdmit(b, t + 3), ADMIT);
});

cycle('a failed probe reopens with a doubled open time, capped at maxOpenMs; closing resets it', () => {
  const b = tripped();
  let t = T0 + 4 + 30000;
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerRecord(b, 503, -1, '', 5, true, 0, t), 'Open');
  assert.is(h.breakerOpenUntil(b) - t, 60000);
  t += 60000;
  assert.is(h.breakerAdmit(b, t - 1), REJECT);
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerRecord(b, 0, -1, 'UF', 5, true, 0, t), 'Open');
  assert.is(h.breakerOpenUntil(b) - t, 100000, '120 s capped at maxOpenMs 100 s');
  t += 100000;
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerAdmit(b, t), PROBE);
  h.breakerRecord(b, 200, -1, '', 5, true, 0, t);
  assert.is(h.breakerRecord(b, 200, -1, '', 5, true, 0, t), 'Closed');
  for (let i = 0; i < 5; i++) fail(b, t + 10 + i);
  assert.is(h.breakerOpenUntil(b) - (t + 14), 30000, 'the first Open after closing is openMs again');
});

cycle('the record keeps why it opened: the window that tripped it, cleared by a failed probe', () => {
  const b = tripped();
  assert.is(h.breakerTrip(b), '5/5/0', '5 of 5 failed');
  assert.is(h.breakerAdmit(b, T0 + 4 + 30000), PROBE);
  assert.is(h.breakerRecord(b, 503, -1, '', 5, true, 0, T0 + 4 + 30000), 'Open');
  assert.is(h.breakerTrip(b), '0/0/0', 'reopened by a failed probe');
  const slow = h.breakerCreate(policy({ minRequests: 4, slowCallMs: 100, slowCallRateThreshold: 0.5 }));
  for (let i = 0; i < 4; i++) ok(slow, T0 + i, i < 2 ? 150 : 10);
  assert.is(h.breakerState(slow), OPEN);
  assert.is(h.breakerTrip(slow), '4/0/2', '2 of 4 slow');
});

cycle('a slow probe counts as a failed probe', () => {
  const b = tripped({ slowCallMs: 100 });
  const t = T0 + 4 + 30000;
  assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerRecord(b, 200, -1, '', 150, true, 0, t + 150), 'Open');
});

cycle('time alone moves Open to HalfOpen on evaluation', () => {
  const b = tripped();
  assert.is(h.breakerTick(b, T0 + 4 + 29999), '');
  assert.is(h.breakerTick(b, T0 + 4 + 30000), 'HalfOpen');
});

cycle.run();

const classify = suite('breaker: what counts as a failure');

classify('who answered decides: an upstream response counts as itself whatever flags ride on it', () => {
  const SUCCESS = 0, FAILURE = 1, IGNORED = 2;
  const UPSTREAM = true, ENVOY = false;
  // [code, gRPC status, flags, who answered (response.code_details == via_upstream), outcome]
  const table: [number, number, string, boolean, number][] = [
    [200, -1, '', UPSTREAM, SUCCESS],
    [404, -1, '', UPSTREAM, SUCCESS],
    [429, -1, '', UPSTREAM, SUCCESS],
    [500, -1, '', UPSTREAM, FAILURE],
    [503, -1, 'URX', UPSTREAM, FAILURE], // retries ran out on the upstream's 503
    [503, -1, 'UO', UPSTREAM, FAILURE], // retry circuit breaker overflowed: the upstream's 503 is passed on
    [503, -1, 'UO,URX', UPSTREAM, FAILURE],
    [200, -1, 'UO', UPSTREAM, SUCCESS], // overflow on a response that was fine
    [200, -1, 'UF', UPSTREAM, SUCCESS], // an earlier try failed to connect, the retry got a 200
    [503, -1, 'DC', UPSTREAM, FAILURE], // the caller left after the upstream had already failed
    [200, -1, 'DC', UPSTREAM, SUCCESS],
    [200, 14, '', UPSTREAM, FAILURE], // UNAVAILABLE
    [200, 4, '', UPSTREAM, FAILURE], // DEADLINE_EXCEEDED
    [200, 13, '', UPSTREAM, FAILURE], // INTERNAL
    [200, 8, '', UPSTREAM, FAILURE], // RESOURCE_EXHAUSTED
    [200, 0, '', UPSTREAM, SUCCESS],
    [200, 1, '', UPSTREAM, SUCCESS], // CANCELLED: the caller gave up
    [200, 5, '', UPSTREAM, SUCCESS], // NOT_FOUND
    [200, 3, '', UPSTREAM, SUCCESS], // INVALID_ARGUMENT
    [200, 12, '', UPSTREAM, SUCCESS], // UNIMPLEMENTED
    [503, -1, 'UO', ENVOY, IGNORED], // Envoy's own overflow (pending requests, maintenance mode): not the upstream
    [503, -1, 'UO,UC', ENVOY, FAILURE], // overflow on the retry of a connection the upstream dropped
    [504, -1, 'UT', ENVOY, FAILURE],
    [503, -1, 'UF', ENVOY, FAILURE],
    [503, -1, 'UF,URX', ENVOY, FAILURE],
    [503, -1, 'UC', ENVOY, FAILURE],
    [503, -1, 'UH', ENVOY, FAILURE],
    [0, -1, 'UF', ENVOY, FAILURE],
    [0, -1, 'UR', ENVOY, FAILURE],
    [404, -1, 'NR', ENVOY, IGNORED], // no route: configuration, not the upstream's health
    [0, -1, 'DC', ENVOY, IGNORED],
    [503, -1, 'DC,UC', ENVOY, IGNORED], // the caller left first: nothing to learn
    [503, -1, '', ENVOY, IGNORED], // another filter's local reply
    [0, -1, '', ENVOY, IGNORED],
  ];
  for (const [code, grpc, flags, fromUpstream, want] of table) {
    assert.is(h.classify(code, grpc, flags, fromUpstream), want, `${code} grpc=${grpc} flags=${flags} upstream=${fromUpstream}`);
  }
});

classify.run();

const layout = suite('breaker: shared-data layout');

layout('a record survives encode/decode in a fixed 304-byte layout', () => {
  const b = tripped();
  assert.is(h.breakerRoundTrip(b), 304, 'byte for byte, the open cause and trip counts included');
  const c = h.breakerCreate(policy({}));
  ok(c, T0);
  assert.is(h.breakerRoundTrip(c), 304);
});

layout('foreign or truncated bytes are refused rather than trusted', () => {
  assert.is(h.decodeBytes(new Uint8Array(304)), -1, 'layout version 0');
  assert.is(h.decodeBytes(new Uint8Array(10)), -1, 'truncated');
  const v1 = new Uint8Array(288);
  v1[0] = 1;
  new DataView(v1.buffer).setFloat64(24, 1000, true);
  assert.is(h.decodeBytes(v1), -1, 'layout version 1 (before the open cause) starts afresh');
  const bogus = new Uint8Array(304);
  bogus[0] = 2; bogus[1] = 7; // unknown state
  new DataView(bogus.buffer).setFloat64(24, 1000, true);
  assert.is(h.decodeBytes(bogus), -1);
  bogus[1] = 1; // Open
  assert.is(h.decodeBytes(bogus), OPEN);
});

layout.run();

const lost = suite('breaker: lost probes');

lost('probes whose outcome never arrives free their slots after a whole window', () => {
  const b = tripped({ windowMs: 10000 });
  const t = T0 + 4 + 30000;
  for (let i = 0; i < 3; i++) assert.is(h.breakerAdmit(b, t), PROBE);
  assert.is(h.breakerAdmit(b, t + 9999), REJECT, 'still waiting for the three in flight');
  assert.is(h.breakerAdmit(b, t + 10000), PROBE);
  assert.is(h.breakerState(b), HALF_OPEN);
});

lost.run();
