// Circuit breaker over a sliding time window, designed to be shared by every worker VM of one Envoy process.
//
// Vocabulary (the same words in code, protos, metrics and docs):
//   Closed   — admits every request; outcomes are counted in the window.
//   Open     — rejects every request until openUntilMs.
//   HalfOpen — admits up to halfOpenProbes probes in flight; closes after halfOpenSuccesses successful probes,
//              reopens on the first failed (or slow) probe.
// A Closed scope trips to Open when, over the last windowMs, total ≥ minRequests and
// (failures / total ≥ errorRateThreshold or slow / total ≥ slowCallRateThreshold). The n-th consecutive Open
// lasts openMs × 2^(n−1), capped at maxOpenMs; closing resets n (like Envoy's outlier ejection multiplier and
// Linkerd's failure-accrual penalty, which both grow with consecutive ejections).
//
// What counts as a failure (classifyOutcome). The first question is who answered: Envoy sets local flags on
// responses that came from the upstream too (URX when retries ran out; UO when the retry circuit breaker
// overflowed and the router passes the upstream's response on), so a response the upstream sent counts as that
// response, whatever flags ride on it. Envoy's response.code_details tells the two apart: Filter::onUpstreamHeaders
// sets RetryStatus::NoOverflow's UO flag and then code details "via_upstream" for the response it forwards, while
// its own replies (maintenance mode's UO, pool overflow, resets) carry other details (envoy
// source/common/router/router.cc, read at a 1.40-dev snapshot; the same code paths exist since 1.2x).
//
//   answered by   flags                                    code / gRPC status                     outcome
//   upstream      any (UO, URX, DC, UF of an earlier try)  ≥ 500, or a gRPC failure status          Failure
//   upstream      any                                      anything else                           Success
//   Envoy         UF UH UC UR UT LR URX SI UMSDR           any (the upstream could not answer)     Failure
//   Envoy         DC, UO (pending/connection overflow),    any                                     Ignored
//                 NR, no flag (another filter's reply)
//   nobody        —                                        0 (no response at all)                  per flags above
//
// Failure statuses follow Envoy's own success definitions: every 5xx (admission control and outlier detection);
// gRPC DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE, DATA_LOSS: the complement of Envoy
// admission control's default gRPC success set (OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, NOT_FOUND,
// ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED), which are
// caller errors that say nothing about the upstream's health. Responses from this filter itself are never
// recorded: callers must not record requests the breaker rejected. The breaker, the telemetry window and the
// control plane's dry-run (which replays the telemetry's error counts) all use this one function.
// A call is slow when its duration ≥ slowCallMs; slow and failure are counted independently, as resilience4j does.
//
// Cross-worker design. The per-scope BreakerRecord is the process-wide truth, stored in proxy-wasm shared data in
// the fixed little-endian layout of encodeRecord (RECORD_BYTES). A worker never updates it per request: it counts
// outcomes into its own delta (BreakerCounts: the same buckets plus probe outcomes) and merges the delta with a CAS
// loop (mergeDelta + evaluate) on tick or every few tens of ms (resilience/resilience.ts decides when), so N
// workers' traffic trips one breaker. Probe outcomes are merged as soon as the probe finishes, so they count towards
// the HalfOpen period that admitted them; mergeDelta drops them once the record is no longer HalfOpen. Claiming a
// HalfOpen probe writes through CAS at admission (claimProbe): probes are few and must be bounded process-wide.
//
// Pure: no host calls; every function takes nowMs.

import { BreakerPolicy } from "./resilience-policy";

export enum BreakerState {
  Closed = 0,
  Open = 1,
  HalfOpen = 2,
}

export function breakerStateName(state: BreakerState): string {
  if (state == BreakerState.Open) return "Open";
  if (state == BreakerState.HalfOpen) return "HalfOpen";
  return "Closed";
}

export const enum Outcome {
  Success = 0,
  Failure = 1,
  Ignored = 2,
}

export const BUCKET_COUNT: i32 = 10;

// ---- outcome classification ----------------------------------------------------------------------------------

// Envoy's response.flags property: a bitmask of the legacy response flags (proxy-wasm-envoy.md §6).
export const FLAG_NO_HEALTHY_UPSTREAM: u64 = 0x2; // UH
export const FLAG_UPSTREAM_REQUEST_TIMEOUT: u64 = 0x4; // UT
export const FLAG_LOCAL_RESET: u64 = 0x8; // LR
export const FLAG_UPSTREAM_REMOTE_RESET: u64 = 0x10; // UR
export const FLAG_UPSTREAM_CONNECTION_FAILURE: u64 = 0x20; // UF
export const FLAG_UPSTREAM_CONNECTION_TERMINATION: u64 = 0x40; // UC
export const FLAG_UPSTREAM_OVERFLOW: u64 = 0x80; // UO
export const FLAG_NO_ROUTE_FOUND: u64 = 0x100; // NR
export const FLAG_DOWNSTREAM_CONNECTION_TERMINATION: u64 = 0x4000; // DC
export const FLAG_UPSTREAM_RETRY_LIMIT_EXCEEDED: u64 = 0x8000; // URX
export const FLAG_STREAM_IDLE_TIMEOUT: u64 = 0x10000; // SI
export const FLAG_UPSTREAM_MAX_STREAM_DURATION_REACHED: u64 = 0x80000; // UMSDR

const FAILURE_FLAGS: u64 = FLAG_NO_HEALTHY_UPSTREAM | FLAG_UPSTREAM_REQUEST_TIMEOUT | FLAG_LOCAL_RESET |
  FLAG_UPSTREAM_REMOTE_RESET | FLAG_UPSTREAM_CONNECTION_FAILURE | FLAG_UPSTREAM_CONNECTION_TERMINATION |
  FLAG_UPSTREAM_RETRY_LIMIT_EXCEEDED | FLAG_STREAM_IDLE_TIMEOUT | FLAG_UPSTREAM_MAX_STREAM_DURATION_REACHED;

export function isGrpcFailureStatus(grpcStatus: i32): bool {
  // DEADLINE_EXCEEDED 4, RESOURCE_EXHAUSTED 8, ABORTED 10, INTERNAL 13, UNAVAILABLE 14, DATA_LOSS 15
  return grpcStatus == 4 || grpcStatus == 8 || grpcStatus == 10 || grpcStatus == 13 || grpcStatus == 14 || grpcStatus == 15;
}

// Whether classifyOutcome needs to know who answered (response.code_details): only a response that carries a flag
// or a 5xx can change outcome with the answer. A flagless response below 500 is taken as the upstream's without
// asking, which keeps the common path at no extra host call; the price is that another filter's flagless local
// reply below 500 (an authz 403) counts as a success instead of being ignored.
export function needsResponder(responseCode: i32, responseFlags: u64): bool {
  return responseCode > 0 && (responseFlags != 0 || responseCode >= 500);
}

// grpcStatus < 0 means none. Pass it for gRPC requests only: for other requests Envoy derives response.grpc_status
// from the HTTP status (400 → INTERNAL, 429 → UNAVAILABLE), which would turn caller errors into failures.
// fromUpstream: response.code_details was "via_upstream" (see the table above).
export function classifyOutcome(responseCode: i32, grpcStatus: i32, responseFlags: u64, fromUpstream: bool): Outcome {
  if (fromUpstream && responseCode > 0) {
    if (responseCode >= 500) return Outcome.Failure;
    if (grpcStatus >= 0 && isGrpcFailureStatus(grpcStatus)) return Outcome.Failure;
    return Outcome.Success;
  }
  if ((responseFlags & FLAG_DOWNSTREAM_CONNECTION_TERMINATION) != 0) return Outcome.Ignored;
  if ((responseFlags & FAILURE_FLAGS) != 0) return Outcome.Failure;
  return Outcome.Ignored;
}

// ---- sliding window --------------------------------------------------------------------------------------------

export class WindowSums {
  total: u32 = 0;
  failures: u32 = 0;
  slow: u32 = 0;
  retries: u32 = 0;
}

// BUCKET_COUNT fixed buckets of bucketMs each; bucket i holds epoch e (= floor(nowMs / bucketMs)) with
// e % BUCKET_COUNT == i. The window at nowMs is the buckets whose epoch is within the last BUCKET_COUNT epochs,
// so it spans between windowMs − bucketMs and windowMs of history (Hystrix's rolling window).
// `retries` is the retry budget's column: retries reserved when admit() grants them (x-envoy-max-retries), settled
// to the retries actually made (attempts − 1) in on_log. `refunds` is only used in a worker's delta: granted but
// unused retries to take back out of the shared record's bucket of the same epoch at the next merge (u32 columns
// cannot carry a negative delta). A record or view applies a refund at once (refundAt).
export class SlidingWindow {
  epochs: StaticArray<i64> = new StaticArray<i64>(BUCKET_COUNT);
  totals: StaticArray<u32> = new StaticArray<u32>(BUCKET_COUNT);
  failures: StaticArray<u32> = new StaticArray<u32>(BUCKET_COUNT);
  slows: StaticArray<u32> = new StaticArray<u32>(BUCKET_COUNT);
  retries: StaticArray<u32> = new StaticArray<u32>(BUCKET_COUNT);
  refunds: StaticArray<u32> = new StaticArray<u32>(BUCKET_COUNT);

  constructor(public bucketMs: f64) {
    this.clear();
  }

  clear(): void {
    for (let i = 0; i < BUCKET_COUNT; i++) {
      this.epochs[i] = -1;
      this.totals[i] = 0;
      this.failures[i] = 0;
      this.slows[i] = 0;
      this.retries[i] = 0;
      this.refunds[i] = 0;
    }
  }

  epochAt(nowMs: f64): i64 {
    return <i64>Math.floor(nowMs / this.bucketMs);
  }

  isEmpty(): bool {
    for (let i = 0; i < BUCKET_COUNT; i++) {
      if (this.epochs[i] >= 0) return false;
    }
    return true;
  }

  // Adds counts to the bucket of `epoch`; a bucket still holding an older epoch is recycled first, and counts for
  // an epoch older than the bucket's are dropped (they fell out of every window already).
  addAt(epoch: i64, total: u32, failures: u32, slow: u32, retries: u32): void {
    const i = <i32>(epoch % BUCKET_COUNT);
    const current = this.epochs[i];
    if (current > epoch) return;
    if (current < epoch) {
      this.epochs[i] = epoch;
      this.totals[i] = 0;
      this.failures[i] = 0;
      this.slows[i] = 0;
      this.retries[i] = 0;
      this.refunds[i] = 0;
    }
    this.totals[i] += total;
    this.failures[i] += failures;
    this.slows[i] += slow;
    this.retries[i] += retries;
  }

  add(nowMs: f64, total: u32, failures: u32, slow: u32, retries: u32): void {
    this.addAt(this.epochAt(nowMs), total, failures, slow, retries);
  }

  // Takes `retries` back out of the bucket of `epoch`, never below zero; nothing when that bucket has been recycled
  // (the reservation already left every window).
  refundAt(epoch: i64, retries: u32): void {
    const i = <i32>(epoch % BUCKET_COUNT);
    if (this.epochs[i] != epoch) return;
    const held = this.retries[i];
    this.retries[i] = held > retries ? held - retries : 0;
  }

  // Notes a refund to apply to another window's bucket of `epoch` when this one is merged into it.
  deferRefundAt(epoch: i64, retries: u32): void {
    this.addAt(epoch, 0, 0, 0, 0);
    const i = <i32>(epoch % BUCKET_COUNT);
    if (this.epochs[i] == epoch) this.refunds[i] += retries;
  }

  mergeFrom(other: SlidingWindow): void {
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const epoch = other.epochs[i];
      if (epoch < 0) continue;
      this.addAt(epoch, other.totals[i], other.failures[i], other.slows[i], other.retries[i]);
      const refunds = other.refunds[i];
      if (refunds > 0) this.refundAt(epoch, refunds);
    }
  }

  sum(nowMs: f64, out: WindowSums): WindowSums {
    const newest = this.epochAt(nowMs);
    const oldest = newest - BUCKET_COUNT + 1;
    out.total = 0;
    out.failures = 0;
    out.slow = 0;
    out.retries = 0;
    // Every column has BUCKET_COUNT entries: bounds checks would only cost time on each admit and record.
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const epoch = unchecked(this.epochs[i]);
      if (epoch < oldest || epoch > newest) continue;
      out.total += unchecked(this.totals[i]);
      out.failures += unchecked(this.failures[i]);
      out.slow += unchecked(this.slows[i]);
      out.retries += unchecked(this.retries[i]);
    }
    return out;
  }
}

export function bucketMsFor(policy: BreakerPolicy): f64 {
  return policy.windowMs / <f64>BUCKET_COUNT;
}

// ---- the shared record and a worker's delta ------------------------------------------------------------------

// Window counts plus HalfOpen probe outcomes: what one worker saw since its last successful merge (its delta),
// and the counting part of the shared record.
export class BreakerCounts {
  window: SlidingWindow;
  probeSuccesses: u32 = 0;
  probeFailures: u32 = 0;

  constructor(bucketMs: f64) {
    this.window = new SlidingWindow(bucketMs);
  }

  isEmpty(): bool {
    return this.probeSuccesses == 0 && this.probeFailures == 0 && this.window.isEmpty();
  }

  clear(): void {
    this.window.clear();
    this.probeSuccesses = 0;
    this.probeFailures = 0;
  }
}

export class BreakerRecord extends BreakerCounts {
  state: BreakerState = BreakerState.Closed;
  // Consecutive opens since the scope last closed; sets the length of the next Open.
  openCount: u32 = 0;
  // When the current state began (last transition).
  stateSinceMs: f64 = 0;
  openUntilMs: f64 = 0;
  // Probes admitted in the current HalfOpen period, by all workers.
  probesAdmitted: u32 = 0;
  // Incremented on every transition.
  transitions: u32 = 0;
  // The window it last tripped on (zero when a failed probe reopened it): what an operator reads as "why".
  tripTotal: u32 = 0;
  tripFailures: u32 = 0;
  tripSlow: u32 = 0;

  constructor(bucketMs: f64) {
    super(bucketMs);
  }

  reset(bucketMs: f64): void {
    this.state = BreakerState.Closed;
    this.openCount = 0;
    this.stateSinceMs = 0;
    this.openUntilMs = 0;
    this.probesAdmitted = 0;
    this.probeSuccesses = 0;
    this.probeFailures = 0;
    this.transitions = 0;
    this.tripTotal = 0;
    this.tripFailures = 0;
    this.tripSlow = 0;
    this.window.bucketMs = bucketMs;
    this.window.clear();
  }

  probesInFlight(): u32 {
    const done = this.probeSuccesses + this.probeFailures;
    return this.probesAdmitted > done ? this.probesAdmitted - done : 0;
  }

  copyFrom(other: BreakerRecord): void {
    this.state = other.state;
    this.openCount = other.openCount;
    this.stateSinceMs = other.stateSinceMs;
    this.openUntilMs = other.openUntilMs;
    this.probesAdmitted = other.probesAdmitted;
    this.probeSuccesses = other.probeSuccesses;
    this.probeFailures = other.probeFailures;
    this.transitions = other.transitions;
    this.tripTotal = other.tripTotal;
    this.tripFailures = other.tripFailures;
    this.tripSlow = other.tripSlow;
    const w = this.window;
    const o = other.window;
    w.bucketMs = o.bucketMs;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      w.epochs[i] = o.epochs[i];
      w.totals[i] = o.totals[i];
      w.failures[i] = o.failures[i];
      w.slows[i] = o.slows[i];
      w.retries[i] = o.retries[i];
      w.refunds[i] = o.refunds[i];
    }
  }
}

// Counts one finished request into `counts` (a worker's delta, or a record it applies outcomes to directly).
// A HalfOpen probe's outcome goes to the probe counters, not the window; a slow probe is a failed probe.
// `retries` (those the request made beyond what admit() reserved for it) feeds the retry budget for every outcome,
// ignored ones included: the upstream saw them.
export function recordOutcome(counts: BreakerCounts, outcome: Outcome, slow: bool, probe: bool, retries: u32, nowMs: f64): void {
  if (probe) {
    if (outcome == Outcome.Failure || slow) counts.probeFailures++;
    else if (outcome == Outcome.Success) counts.probeSuccesses++;
    if (retries > 0) counts.window.add(nowMs, 0, 0, 0, retries);
    return;
  }
  if (outcome == Outcome.Ignored) {
    if (retries > 0) counts.window.add(nowMs, 0, 0, 0, retries);
    return;
  }
  counts.window.add(nowMs, 1, outcome == Outcome.Failure ? 1 : 0, slow ? 1 : 0, retries);
}

export function mergeDelta(record: BreakerRecord, delta: BreakerCounts): void {
  record.window.mergeFrom(delta.window);
  if (record.state == BreakerState.HalfOpen) {
    record.probeSuccesses += delta.probeSuccesses;
    record.probeFailures += delta.probeFailures;
  }
}

export function openDurationMs(policy: BreakerPolicy, openCount: u32): f64 {
  const exponent = openCount > 0 ? openCount - 1 : 0;
  // 2^40 × 1 ms already exceeds any allowed maxOpenMs; clamp so the power stays finite.
  const duration = policy.openMs * Math.pow(2, <f64>(exponent > 40 ? 40 : exponent));
  return duration < policy.maxOpenMs ? duration : policy.maxOpenMs;
}

// Keeps the window a Closed scope trips on (the sums shouldTrip just accepted); a failed HalfOpen probe clears it.
function noteTrip(record: BreakerRecord, total: u32, failures: u32, slow: u32): void {
  record.tripTotal = total;
  record.tripFailures = failures;
  record.tripSlow = slow;
}

function transitionTo(record: BreakerRecord, policy: BreakerPolicy, state: BreakerState, nowMs: f64): void {
  record.state = state;
  record.transitions++;
  record.stateSinceMs = nowMs;
  record.probesAdmitted = 0;
  record.probeSuccesses = 0;
  record.probeFailures = 0;
  if (state == BreakerState.Open) {
    record.openCount++;
    record.openUntilMs = nowMs + openDurationMs(policy, record.openCount);
  } else if (state == BreakerState.Closed) {
    record.openCount = 0;
    // Failures from before the Open must not re-trip a scope its probes just proved healthy.
    record.window.clear();
  }
}

export function shouldTrip(sums: WindowSums, policy: BreakerPolicy): bool {
  if (sums.total == 0 || sums.total < <u32>policy.minRequests) return false;
  const total = <f64>sums.total;
  return <f64>sums.failures / total >= policy.errorRateThreshold || <f64>sums.slow / total >= policy.slowCallRateThreshold;
}

// Applies at most one transition and returns the new state, or -1 if nothing changed. Callers loop while it
// returns ≥ 0 (at most three steps: Closed→Open cannot be followed by another in the same instant).
export function evaluate(record: BreakerRecord, policy: BreakerPolicy, nowMs: f64, scratch: WindowSums): i32 {
  if (!policy.enabled) {
    if (record.state == BreakerState.Closed) return -1;
    transitionTo(record, policy, BreakerState.Closed, nowMs);
    return BreakerState.Closed;
  }
  if (record.state == BreakerState.Closed) {
    if (!shouldTrip(record.window.sum(nowMs, scratch), policy)) return -1;
    noteTrip(record, scratch.total, scratch.failures, scratch.slow);
    transitionTo(record, policy, BreakerState.Open, nowMs);
    return BreakerState.Open;
  }
  if (record.state == BreakerState.Open) {
    if (nowMs < record.openUntilMs) return -1;
    transitionTo(record, policy, BreakerState.HalfOpen, nowMs);
    return BreakerState.HalfOpen;
  }
  if (record.probeFailures > 0) {
    noteTrip(record, 0, 0, 0);
    transitionTo(record, policy, BreakerState.Open, nowMs);
    return BreakerState.Open;
  }
  if (record.probeSuccesses >= <u32>policy.halfOpenSuccesses) {
    transitionTo(record, policy, BreakerState.Closed, nowMs);
    return BreakerState.Closed;
  }
  return -1;
}

export const enum Admission {
  Admit = 0,
  Reject = 1,
  // The scope is (or is due to become) HalfOpen: admit only after claimProbe succeeds on the shared record.
  NeedsProbe = 2,
}

// Decides from a (possibly one-tick-old) view of the record, without changing it.
export function admission(record: BreakerRecord, policy: BreakerPolicy, nowMs: f64): Admission {
  if (!policy.enabled || record.state == BreakerState.Closed) return Admission.Admit;
  if (record.state == BreakerState.Open && nowMs < record.openUntilMs) return Admission.Reject;
  return Admission.NeedsProbe;
}

// Claims one HalfOpen probe slot on the authoritative record, first moving an expired Open to HalfOpen.
// Returns true when the request may go upstream as a probe. `transitioned` reports whether this call moved
// Open→HalfOpen, so exactly one worker counts that transition.
export class ProbeClaim {
  granted: bool = false;
  transitioned: bool = false;
}

export function claimProbe(record: BreakerRecord, policy: BreakerPolicy, nowMs: f64, out: ProbeClaim): ProbeClaim {
  out.granted = false;
  out.transitioned = false;
  if (record.state == BreakerState.Closed) {
    out.granted = true; // closed meanwhile: an ordinary request, not a probe
    return out;
  }
  if (record.state == BreakerState.Open) {
    if (nowMs < record.openUntilMs) return out;
    transitionTo(record, policy, BreakerState.HalfOpen, nowMs);
    out.transitioned = true;
  }
  if (record.probesInFlight() >= <u32>policy.halfOpenProbes) {
    // A probe whose outcome never arrives (its worker VM died) would hold its slot forever; after a whole window
    // without a verdict the slots are handed out again.
    if (nowMs - record.stateSinceMs < policy.windowMs) return out;
    record.probesAdmitted = record.probeSuccesses + record.probeFailures;
    record.stateSinceMs = nowMs;
  }
  record.probesAdmitted++;
  out.granted = true;
  return out;
}

// ---- binary layout for shared data ---------------------------------------------------------------------------
// little-endian:
//   0 u8 layout version (RECORD_LAYOUT_VERSION)   1 u8 state   2 u16 zero
//   4 u32 openCount   8 f64 stateSinceMs   16 f64 openUntilMs   24 f64 bucketMs
//  32 u32 probesAdmitted   36 u32 probeSuccesses   40 u32 probeFailures   44 u32 transitions
//  48 u32 tripTotal   52 u32 tripFailures   56 u32 tripSlow   60 u32 zero
//  64 + 24·i (i < BUCKET_COUNT): i64 epoch, u32 total, u32 failures, u32 slow, u32 retries
// Version 2 added the trip counts; a version-1 record (an older module in the same process) is
// refused by decodeRecord and starts afresh.

export const RECORD_LAYOUT_VERSION: u8 = 2;
const HEADER_BYTES: i32 = 64;
const BUCKET_BYTES: i32 = 24;
export const RECORD_BYTES: i32 = HEADER_BYTES + BUCKET_BYTES * BUCKET_COUNT;

// Raw little-endian loads and stores (wasm memory is little-endian) rather than DataView: the buffer is exactly
// RECORD_BYTES (decodeRecord checks first), so DataView's per-access bounds checks only cost module size.
export function encodeRecord(record: BreakerRecord): ArrayBuffer {
  const buffer = new ArrayBuffer(RECORD_BYTES);
  const p = changetype<usize>(buffer);
  store<u8>(p, RECORD_LAYOUT_VERSION);
  store<u8>(p, <u8>record.state, 1);
  store<u32>(p, record.openCount, 4);
  store<f64>(p, record.stateSinceMs, 8);
  store<f64>(p, record.openUntilMs, 16);
  store<f64>(p, record.window.bucketMs, 24);
  store<u32>(p, record.probesAdmitted, 32);
  store<u32>(p, record.probeSuccesses, 36);
  store<u32>(p, record.probeFailures, 40);
  store<u32>(p, record.transitions, 44);
  store<u32>(p, record.tripTotal, 48);
  store<u32>(p, record.tripFailures, 52);
  store<u32>(p, record.tripSlow, 56);
  const w = record.window;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const at = p + <usize>(HEADER_BYTES + BUCKET_BYTES * i);
    store<i64>(at, unchecked(w.epochs[i]));
    store<u32>(at, unchecked(w.totals[i]), 8);
    store<u32>(at, unchecked(w.failures[i]), 12);
    store<u32>(at, unchecked(w.slows[i]), 16);
    store<u32>(at, unchecked(w.retries[i]), 20);
  }
  return buffer;
}

// Decodes into `out`; returns false (leaving `out` unspecified) for a foreign or truncated layout, which the
// caller replaces with a fresh record rather than trusting.
export function decodeRecord(buffer: ArrayBuffer, out: BreakerRecord): bool {
  if (buffer.byteLength != RECORD_BYTES) return false;
  const p = changetype<usize>(buffer);
  if (load<u8>(p) != RECORD_LAYOUT_VERSION) return false;
  const state = load<u8>(p, 1);
  if (state > 2) return false;
  const bucketMs = load<f64>(p, 24);
  if (!(bucketMs > 0)) return false;
  out.state = <BreakerState>state;
  out.openCount = load<u32>(p, 4);
  out.stateSinceMs = load<f64>(p, 8);
  out.openUntilMs = load<f64>(p, 16);
  out.window.bucketMs = bucketMs;
  out.probesAdmitted = load<u32>(p, 32);
  out.probeSuccesses = load<u32>(p, 36);
  out.probeFailures = load<u32>(p, 40);
  out.transitions = load<u32>(p, 44);
  out.tripTotal = load<u32>(p, 48);
  out.tripFailures = load<u32>(p, 52);
  out.tripSlow = load<u32>(p, 56);
  const w = out.window;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const at = p + <usize>(HEADER_BYTES + BUCKET_BYTES * i);
    unchecked(w.epochs[i] = load<i64>(at));
    unchecked(w.totals[i] = load<u32>(at, 8));
    unchecked(w.failures[i] = load<u32>(at, 12));
    unchecked(w.slows[i] = load<u32>(at, 16));
    unchecked(w.retries[i] = load<u32>(at, 20));
  }
  return true;
}
