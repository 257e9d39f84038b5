// Glue between the pure breaker/budget/decision policy and one worker VM: scopes, shared-data synchronisation,
// metrics. The contexts call admit() in on_request_headers, record() in on_log and onTick() from on_tick.
//
// Scope: one breaker and one retry budget per (upstream cluster, policy path template[, tenant]) — tenant only when
// the matching policy has target.perTenant. Each scope has
//   view  — this worker's copy of the shared BreakerRecord as of its last sync, plus its own unmerged outcomes;
//           admit() decides from it without touching shared data (except to claim HalfOpen probes);
//   delta — outcomes recorded since the last successful merge.
// Merging ("sync") reads the shared record, adds the delta, evaluates the state machine, writes it back with a
// bounded CAS loop and adopts the result as the new view. It happens on every tick for every scope in use, and between
// ticks on the request path of a busy scope: record() merges when MERGE_INTERVAL_MS has passed since the last merge
// (or at once when the worker's own view crosses the trip threshold or a HalfOpen probe finished), and admit()
// re-reads the shared record when REFRESH_INTERVAL_MS has passed since the last read. A breaker tripped by any
// worker's traffic is therefore enforced by every busy worker within REFRESH_INTERVAL_MS, and by every worker
// within one tick. Ticks alone would leave workers up to one tick period (200 ms by default) behind the trip;
// test/bench/breaker.bench.ts measures the difference.
// Transition metrics are counted by the worker whose CAS committed the transition, so each is counted once per
// process.
//
// Retry budget: admit() grants retries only out of a slice this worker reserved in the shared record (see
// policy/retry-budget.ts), taking a new slice by CAS when the current one is spent or belongs to an older bucket —
// in the same write as a merge of the delta. A refused request makes no host call: when the view shows no budget
// left, admit() refuses without reading shared data. record() settles the request's reservation (stored in the
// AdmitResult with its bucket epoch) to the retries actually made.
//
// Known race: proxy-wasm has no "create if absent"; a set on a missing key ignores the CAS. Two workers creating
// the same scope in the same instant can lose the first one's first delta (or both take the first budget slice).
// Only the very first merge of a scope is exposed, and only under true thread interleaving.
//
// SharedStore and ResilienceMetrics are the host boundary (host-bindings.ts implements them with abi/host.ts), so
// this file is testable with an in-memory store shared by several Resilience instances.

import {
  Admission, admission, BreakerCounts, BreakerRecord, BreakerState, bucketMsFor, claimProbe, classifyOutcome,
  decodeRecord, encodeRecord, evaluate, mergeDelta, Outcome, ProbeClaim, recordOutcome, shouldTrip, WindowSums,
} from "../policy/circuit-breaker";
import { OVERFLOW_LABEL, UNKNOWN_LABEL } from "../policy/labels";
import { ResiliencePolicy } from "../policy/resilience-policy";
import { budgetSlice, remainingRetries } from "../policy/retry-budget";
import { decideRetry, Decision, RetryDecision, RETRY_HEADERS_TO_STRIP } from "../policy/retry-decision";

export enum StoreStatus {
  Ok = 0,
  CasMismatch = 1,
  Failed = 2,
}

export class SharedRead {
  data: ArrayBuffer | null = null;
  cas: u32 = 0;
}

// Process-wide key/value store with compare-and-swap (proxy-wasm shared data).
export class SharedStore {
  // Fills `out` and returns true when the key exists.
  get(key: string, out: SharedRead): bool {
    return false;
  }

  set(key: string, data: ArrayBuffer, cas: u32): StoreStatus {
    return StoreStatus.Failed;
  }
}

// Label value of `tenant` on a scope that is not per tenant ("~" marks synthetic values, like "~other").
export const ALL_TENANTS = "~all";

export class ResilienceMetrics {
  breakerRejected(cluster: string, tenant: string): void {}
  breakerTransition(cluster: string, tenant: string, toState: BreakerState): void {}
  retryDecision(cluster: string, tenant: string, decision: Decision): void {}
  retriesAttempted(cluster: string, tenant: string, retries: i32): void {}
  // A scope's state as this worker now sees it; called when it differs from what this worker last reported.
  breakerState(scopeKey: string, cluster: string, pathTemplate: string, tenant: string, state: BreakerState): void {}
}

export const SHARED_KEY_PREFIX = "meshlens.breaker.v1|";
export const MAX_SCOPES: i32 = 2048;
export const MAX_CAS_ATTEMPTS: i32 = 8;
// Cost per busy scope and worker: one shared-data read per REFRESH_INTERVAL_MS, one CAS write per MERGE_INTERVAL_MS.
export const REFRESH_INTERVAL_MS: f64 = 20;
export const MERGE_INTERVAL_MS: f64 = 50;

export class Scope {
  view: BreakerRecord;
  delta: BreakerCounts;
  refreshedAtMs: f64 = -Infinity;
  mergedAtMs: f64 = -Infinity;
  usedAtMs: f64 = -Infinity;
  // Retries reserved in the shared record's bucket sliceEpoch and not yet granted by this worker.
  sliceLeft: i32 = 0;
  sliceEpoch: i64 = -1;
  // The state last reported to ResilienceMetrics.breakerState (-1: none yet).
  reportedState: i32 = -1;
  // view.transitions when this worker last put the scope in a telemetry report.
  reportedTransitions: u32 = 0;

  constructor(
    public readonly key: string, public readonly cluster: string, public readonly tenantLabel: string,
    public policy: ResiliencePolicy,
  ) {
    const bucketMs = bucketMsFor(policy.breaker);
    this.view = new BreakerRecord(bucketMs);
    this.delta = new BreakerCounts(bucketMs);
  }
}

// Shared by every admission that sets no header; never mutated.
const NO_HEADERS: Array<string> = new Array<string>();

export class AdmitResult {
  reject: bool = false;
  decision: Decision = Decision.Disabled;
  // Flat name/value pairs to set on the forwarded request, after removing headersToRemove.
  headersToSet: Array<string> = NO_HEADERS;
  headersToRemove: StaticArray<string> = RETRY_HEADERS_TO_STRIP;
  // Null when no policy matched or the scope table is full: record() then does nothing.
  scope: Scope | null = null;
  // Admitted as a HalfOpen probe.
  probe: bool = false;
  isGrpc: bool = false;
  // Retries granted (x-envoy-max-retries) and reserved in the shared window's bucket reservedEpoch.
  reservedRetries: i32 = 0;
  reservedEpoch: i64 = -1;
  // The tenant label the scope's metrics carry for this request (the request's tenant unless per-tenant scoped).
  metricTenant: string = "";
  // Set by record(): the request failed (or was slow) on a network-suspect endpoint and its breaker did not count it.
  networkSuspect: bool = false;
  // headersToSet when there are any: this result's own array, refilled when the result is reused.
  private ownHeaders: Array<string> | null = null;

  // As if new, for the next request of a stream context that keeps its result (no allocation per request).
  reset(): AdmitResult {
    this.reject = false;
    this.decision = Decision.Disabled;
    this.headersToSet = NO_HEADERS;
    this.headersToRemove = RETRY_HEADERS_TO_STRIP;
    this.scope = null;
    this.probe = false;
    this.isGrpc = false;
    this.reservedRetries = 0;
    this.reservedEpoch = -1;
    this.metricTenant = "";
    this.networkSuspect = false;
    return this;
  }

  // headersToSet becomes a copy of `headers` (the decision's array is reused by the next decision).
  setHeaders(headers: Array<string>): void {
    if (headers.length == 0) {
      this.headersToSet = NO_HEADERS;
      return;
    }
    let own = this.ownHeaders;
    if (own === null) {
      own = new Array<string>(headers.length);
      own.length = 0;
      this.ownHeaders = own;
    }
    own.length = 0;
    for (let i = 0; i < headers.length; i++) own.push(unchecked(headers[i]));
    this.headersToSet = own;
  }
}

// Requests with no identified tenant ("unknown") and those beyond the tenant cap ("~other") share one scope:
// neither names a tenant to isolate, and per-tenant scopes stay bounded by the tenant cap + 1.
function tenantLabelOf(policy: ResiliencePolicy, tenant: string): string {
  if (!policy.target.perTenant) return ALL_TENANTS;
  return tenant == UNKNOWN_LABEL ? OVERFLOW_LABEL : tenant;
}

// The shared-data key of a scope: "meshlens.breaker.v1|<cluster>|<policy path template>|<tenant or ~all>".
function scopeKey(policy: ResiliencePolicy, cluster: string, tenantLabel: string): string {
  return SHARED_KEY_PREFIX + cluster + "|" + policy.target.pathTemplate + "|" + tenantLabel;
}

function specificity(policy: ResiliencePolicy, cluster: string, pathTemplate: string): i32 {
  const target = policy.target;
  let score = 0;
  if (target.cluster == cluster) score += 2;
  else if (target.cluster != "*") return -1;
  if (target.pathTemplate == pathTemplate) score += 1;
  else if (target.pathTemplate != "*") return -1;
  return score;
}

// admit()'s memo of (cluster, path template, tenant) → policy and scope. The contexts hand in the same string
// objects for the same labels (they intern them), so a hit costs three identity compares instead of matching
// policies and building and hashing the shared-data key. The slot holds the strings, so their addresses cannot be
// reused by other strings while it does; different objects with equal text merely miss.
class RouteSlot {
  cluster: string = "";
  pathTemplate: string = "";
  tenant: string = "";
  generation: i32 = -1;
  policy: ResiliencePolicy | null = null;
  scope: Scope | null = null;
}

const ROUTE_SLOTS: i32 = 256; // power of two

function identityHash(a: string, b: string, c: string): i32 {
  const mixed = (<u32>changetype<usize>(a) * 0x9e3779b1) ^ (<u32>changetype<usize>(b) * 0x85ebca6b) ^
    (<u32>changetype<usize>(c) * 0xc2b2ae35);
  return <i32>((mixed ^ (mixed >> 15)) & <u32>(ROUTE_SLOTS - 1));
}

export class Resilience {
  private policies: Array<ResiliencePolicy> = new Array<ResiliencePolicy>();
  private routes: StaticArray<RouteSlot> = new StaticArray<RouteSlot>(ROUTE_SLOTS);
  // Bumped by setPolicies: memoized routes of an older set are stale.
  private generation: i32 = 0;
  private scopes: Map<string, Scope> = new Map<string, Scope>();
  private scopeList: Array<Scope> = new Array<Scope>();
  private read: SharedRead = new SharedRead();
  private scratch: BreakerRecord = new BreakerRecord(1000);
  private sums: WindowSums = new WindowSums();
  private claim: ProbeClaim = new ProbeClaim();
  private retryDecision: RetryDecision = new RetryDecision();
  private transitions: Array<i32> = new Array<i32>();
  // Upstream addresses ("ip:port") the control plane pushed as network-suspect (at most MAX_SUSPECTS).
  private suspects: Set<string> = new Set<string>();
  // Counts scopes refused because MAX_SCOPES was reached (for logs/tests).
  scopesRefused: u32 = 0;
  casExhausted: u32 = 0;

  constructor(private store: SharedStore, private metrics: ResilienceMetrics) {}

  // The most specific policy wins: exact cluster over "*", then exact path template over "*"; among equals the
  // earliest. Replacing the set keeps scope state; a scope whose window length changed starts afresh.
  setPolicies(policies: Array<ResiliencePolicy>): void {
    this.policies = policies;
    this.generation++;
  }

  setSuspects(addresses: Array<string>): void {
    const suspects = new Set<string>();
    for (let i = 0; i < addresses.length; i++) suspects.add(addresses[i]);
    this.suspects = suspects;
  }

  // Whether record() may excuse this request's failure: its policy is network-aware and some endpoint is suspect.
  // Only then does the caller read the upstream address.
  excusesNetwork(admitted: AdmitResult): bool {
    const scope = admitted.scope;
    return scope !== null && !admitted.reject && scope.policy.breaker.networkAware && this.suspects.size > 0;
  }

  isSuspect(address: string): bool {
    return this.suspects.has(address);
  }

  get scopeCount(): i32 {
    return this.scopeList.length;
  }

  matchPolicy(cluster: string, pathTemplate: string): ResiliencePolicy | null {
    let best: ResiliencePolicy | null = null;
    let bestScore = -1;
    for (let i = 0; i < this.policies.length; i++) {
      const score = specificity(this.policies[i], cluster, pathTemplate);
      if (score > bestScore) {
        best = this.policies[i];
        bestScore = score;
      }
    }
    return best;
  }

  scopeFor(policy: ResiliencePolicy, cluster: string, tenant: string): Scope | null {
    const tenantLabel = tenantLabelOf(policy, tenant);
    const key = scopeKey(policy, cluster, tenantLabel);
    if (this.scopes.has(key)) {
      const scope = this.scopes.get(key);
      if (scope.policy !== policy) {
        if (scope.view.window.bucketMs != bucketMsFor(policy.breaker)) {
          scope.view = new BreakerRecord(bucketMsFor(policy.breaker));
          scope.delta = new BreakerCounts(bucketMsFor(policy.breaker));
          scope.sliceLeft = 0;
          scope.sliceEpoch = -1;
        }
        scope.policy = policy;
      }
      return scope;
    }
    if (this.scopeList.length >= MAX_SCOPES) {
      this.scopesRefused++;
      return null;
    }
    const scope = new Scope(key, cluster, tenantLabel, policy);
    this.scopes.set(key, scope);
    this.scopeList.push(scope);
    return scope;
  }

  // `out`, when given, is reset and filled instead of a new result (a stream context reuses its own).
  admit(
    cluster: string, tenant: string, pathTemplate: string, method: string, isGrpc: bool, nowMs: f64,
    out: AdmitResult | null = null,
  ): AdmitResult {
    const result = out !== null ? out.reset() : new AdmitResult();
    result.isGrpc = isGrpc;
    const slotIndex = identityHash(cluster, pathTemplate, tenant);
    let route = unchecked(this.routes[slotIndex]);
    if (route === null) {
      route = new RouteSlot();
      unchecked(this.routes[slotIndex] = route);
    }
    const memoized = route.generation == this.generation && route.cluster === cluster &&
      route.pathTemplate === pathTemplate && route.tenant === tenant;
    if (!memoized) {
      const matched = this.matchPolicy(cluster, pathTemplate);
      route.cluster = cluster;
      route.pathTemplate = pathTemplate;
      route.tenant = tenant;
      route.generation = this.generation;
      route.policy = matched;
      route.scope = matched === null ? null : this.scopeFor(matched, cluster, tenant);
    }
    const policy = route.policy;
    const scope = route.scope;
    if (policy === null || scope === null) {
      // A full scope table is counted on every refused request (scopeFor counted the first).
      if (policy !== null && memoized) this.scopesRefused++;
      return result;
    }
    result.scope = scope;
    scope.usedAtMs = nowMs;
    // Also covers a scope this worker has just met, which another worker may already hold Open.
    // The budget needs it too: its pre-check reads the view.
    if (nowMs - scope.refreshedAtMs >= REFRESH_INTERVAL_MS) this.refresh(scope, nowMs);
    // Per-request counters carry the request's own tenant, as meshlens_requests_total does; only scope-level series
    // (state, transitions) carry the scope's label, which joins "unknown" with "~other".
    result.metricTenant = tenant;

    let state = BreakerState.Closed;
    const gate = admission(scope.view, policy.breaker, nowMs);
    if (gate == Admission.Reject || (gate == Admission.NeedsProbe && !this.claimProbe(scope, nowMs))) {
      result.reject = true;
      result.decision = Decision.BreakerOpen;
      this.metrics.breakerRejected(cluster, tenant);
      return result;
    }
    if (gate == Admission.NeedsProbe && scope.view.state != BreakerState.Closed) {
      result.probe = true;
      state = BreakerState.HalfOpen;
    }

    const retry = policy.retry;
    // First with an unlimited budget: the plan says how many retries this request would get, then the budget
    // reserves them (or fewer) and the decision is redone only when it reserved fewer.
    let decision = decideRetry(method, isGrpc, retry, state, i32.MAX_VALUE, this.retryDecision);
    if (decision.decision == Decision.Granted) {
      const reserved = this.reserveRetries(scope, decision.maxRetries, nowMs);
      if (reserved < decision.maxRetries) decision = decideRetry(method, isGrpc, retry, state, reserved, this.retryDecision);
      result.reservedRetries = reserved;
      result.reservedEpoch = scope.sliceEpoch;
    }
    result.decision = decision.decision;
    result.setHeaders(decision.headers);
    this.metrics.retryDecision(cluster, tenant, decision.decision);
    return result;
  }

  // The values on_log reads: response.code, response.grpc_status (< 0 when NOT_FOUND), response.flags (bitmask),
  // whether the upstream sent the response (classifyOutcome), request.duration, upstream.request_attempt_count (1
  // when not retried; 0 when unknown).
  record(
    admitted: AdmitResult, responseCode: i32, grpcStatus: i32, responseFlags: u64, fromUpstream: bool, durationMs: f64,
    attempts: i32, nowMs: f64, fromSuspect: bool = false,
  ): void {
    const scope = admitted.scope;
    if (scope === null || admitted.reject) return;
    const breaker = scope.policy.breaker;
    let outcome = classifyOutcome(responseCode, admitted.isGrpc ? grpcStatus : -1, responseFlags, fromUpstream);
    let slow = durationMs >= breaker.slowCallMs;
    // fromSuspect: the caller found the serving endpoint in the suspect set under a network-aware policy
    // (excusesNetwork). Its failure or slowness is the network's, not the application's: the breaker ignores the
    // request (a probe then neither closes nor reopens it; its slot frees after a window, as a lost probe's does).
    if (fromSuspect && (outcome == Outcome.Failure || slow)) {
      admitted.networkSuspect = true;
      outcome = Outcome.Ignored;
      slow = false;
    }
    // Settles admit()'s reservation: retries beyond it (a route retry policy of its own) count now, unused ones go
    // back.
    const made: u32 = attempts > 1 ? <u32>(attempts - 1) : 0;
    const reserved = <u32>admitted.reservedRetries;
    const unreserved: u32 = made > reserved ? made - reserved : 0;
    recordOutcome(scope.delta, outcome, slow, admitted.probe, unreserved, nowMs);
    recordOutcome(scope.view, outcome, slow, admitted.probe, unreserved, nowMs);
    if (reserved > made) this.refundRetries(scope, admitted.reservedEpoch, reserved - made);
    if (made > 0) this.metrics.retriesAttempted(scope.cluster, admitted.metricTenant, <i32>made);
    if (admitted.probe || nowMs - scope.mergedAtMs >= MERGE_INTERVAL_MS ||
      (breaker.enabled && scope.view.state == BreakerState.Closed && shouldTrip(scope.view.window.sum(nowMs, this.sums), breaker))) {
      this.sync(scope, nowMs);
    }
  }

  // A scope this worker has not used for a whole window and has nothing to merge is skipped: admit() re-reads the
  // shared record before trusting a stale view, so idle scopes cost nothing per tick.
  onTick(nowMs: f64): void {
    for (let i = 0; i < this.scopeList.length; i++) {
      const scope = this.scopeList[i];
      if (scope.delta.isEmpty() && nowMs - scope.usedAtMs > scope.policy.breaker.windowMs) continue;
      this.sync(scope, nowMs);
    }
  }

  // The scopes a telemetry report carries, their views first re-read from shared data so that an idle scope shows
  // what other workers did to it: every scope this worker knows that is not Closed, changed state since this worker
  // last reported it, or was used within its breaker window. At most MAX_SCOPES; one shared-data read per scope per
  // report interval.
  reportableScopes(nowMs: f64): Array<Scope> {
    const out = new Array<Scope>();
    for (let i = 0; i < this.scopeList.length; i++) {
      const scope = this.scopeList[i];
      if (scope.refreshedAtMs != nowMs) this.refresh(scope, nowMs);
      const view = scope.view;
      if (view.state == BreakerState.Closed && view.transitions == scope.reportedTransitions &&
        nowMs - scope.usedAtMs > scope.policy.breaker.windowMs) continue;
      out.push(scope);
    }
    return out;
  }

  // State of a scope as this worker currently sees it (for tests and reports); -1 when unknown.
  viewState(cluster: string, pathTemplate: string, tenant: string): i32 {
    const policy = this.matchPolicy(cluster, pathTemplate);
    if (policy === null) return -1;
    const key = scopeKey(policy, cluster, tenantLabelOf(policy, tenant));
    if (!this.scopes.has(key)) return -1;
    return this.scopes.get(key).view.state;
  }

  // `wanted` retries out of this worker's slice, or else up to `wanted` out of a new slice reserved by CAS (which
  // gives the old slice's remainder back in the same write). The view lags the shared record by at most a refresh
  // interval, so a view showing nothing left refuses without a host call; a view showing some is only a hint, the
  // CAS decides.
  private reserveRetries(scope: Scope, wanted: i32, nowMs: f64): i32 {
    const epoch = scope.view.window.epochAt(nowMs);
    if (scope.sliceEpoch == epoch && scope.sliceLeft >= wanted) {
      scope.sliceLeft -= wanted;
      return wanted;
    }
    const policy = scope.policy;
    if (remainingRetries(policy.retry, scope.view.window.sum(nowMs, this.sums), policy.breaker.windowMs) <= 0) return 0;
    return this.sync(scope, nowMs, wanted);
  }

  // Unused granted retries return to the slice while it is still the one of their bucket (they stay reserved in
  // the shared record for the next grant); otherwise they leave the shared record at the next merge.
  private refundRetries(scope: Scope, epoch: i64, retries: u32): void {
    if (scope.sliceEpoch == epoch) {
      scope.sliceLeft += <i32>retries;
      return;
    }
    scope.delta.window.deferRefundAt(epoch, retries);
    scope.view.window.refundAt(epoch, retries);
  }

  // Reads the shared record into this.scratch; returns the CAS to write back with (0 when absent).
  private readShared(scope: Scope): u32 {
    const record = this.scratch;
    const bucketMs = bucketMsFor(scope.policy.breaker);
    const read = this.read;
    read.data = null;
    read.cas = 0;
    const found = this.store.get(scope.key, read);
    const data = read.data;
    if (!found || data === null || !decodeRecord(data, record) || record.window.bucketMs != bucketMs) {
      record.reset(bucketMs);
    }
    return found ? read.cas : 0;
  }

  private refresh(scope: Scope, nowMs: f64): void {
    this.readShared(scope);
    this.adopt(scope, this.scratch);
    scope.refreshedAtMs = nowMs;
  }

  private adopt(scope: Scope, record: BreakerRecord): void {
    scope.view.copyFrom(record);
    mergeDelta(scope.view, scope.delta);
    const state = <i32>scope.view.state;
    if (state != scope.reportedState) {
      scope.reportedState = state;
      this.metrics.breakerState(scope.key, scope.cluster, scope.policy.target.pathTemplate, scope.tenantLabel, <BreakerState>state);
    }
  }

  private emitTransitions(scope: Scope): void {
    const transitions = this.transitions;
    for (let i = 0; i < transitions.length; i++) {
      this.metrics.breakerTransition(scope.cluster, scope.tenantLabel, <BreakerState>transitions[i]);
    }
  }

  // Merges the delta into the shared record. In the same write it gives back the unused slice once its bucket is no
  // longer the newest (or a new slice is wanted), and with wantedRetries > 0 reserves a new slice for the request
  // that wants them. Returns the retries granted to that request: 0 when the budget is spent or the CAS loop gives
  // up (under-granting is safe; granting what was not reserved is what lets workers overspend).
  private sync(scope: Scope, nowMs: f64, wantedRetries: i32 = 0): i32 {
    const record = this.scratch;
    const policy = scope.policy;
    const breaker = policy.breaker;
    const epoch = scope.view.window.epochAt(nowMs);
    const returnsSlice = scope.sliceLeft > 0 && (wantedRetries > 0 || scope.sliceEpoch != epoch);
    // Also when the CAS loop gives up, so a contended scope is not retried on every request.
    scope.mergedAtMs = nowMs;
    scope.refreshedAtMs = nowMs;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cas = this.readShared(scope);
      mergeDelta(record, scope.delta);
      this.transitions.length = 0;
      for (let step = 0; step < 3; step++) {
        const to = evaluate(record, breaker, nowMs, this.sums);
        if (to < 0) break;
        this.transitions.push(to);
      }
      if (returnsSlice) record.window.refundAt(scope.sliceEpoch, <u32>scope.sliceLeft);
      let slice = 0;
      if (wantedRetries > 0 && record.state == BreakerState.Closed) {
        slice = budgetSlice(remainingRetries(policy.retry, record.window.sum(nowMs, this.sums), breaker.windowMs), wantedRetries);
        if (slice > 0) record.window.add(nowMs, 0, 0, 0, <u32>slice);
      }
      if (this.transitions.length == 0 && scope.delta.isEmpty() && !returnsSlice && slice == 0) {
        this.adopt(scope, record);
        return 0;
      }
      const status = this.store.set(scope.key, encodeRecord(record), cas);
      if (status == StoreStatus.Ok) {
        scope.delta.clear();
        this.adopt(scope, record);
        this.emitTransitions(scope);
        if (returnsSlice) scope.sliceLeft = 0;
        if (wantedRetries <= 0) return 0;
        const granted = slice < wantedRetries ? slice : wantedRetries;
        scope.sliceLeft = slice - granted;
        scope.sliceEpoch = epoch;
        return granted;
      }
      if (status != StoreStatus.CasMismatch) break;
    }
    // Keep the delta for the next tick; meanwhile enforce the freshest shared state seen.
    this.casExhausted++;
    this.readShared(scope);
    this.adopt(scope, this.scratch);
    return 0;
  }

  private claimProbe(scope: Scope, nowMs: f64): bool {
    const record = this.scratch;
    const breaker = scope.policy.breaker;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cas = this.readShared(scope);
      const claim = claimProbe(record, breaker, nowMs, this.claim);
      if (!claim.granted && !claim.transitioned) {
        this.adopt(scope, record);
        return false;
      }
      if (record.state == BreakerState.Closed && !claim.transitioned) {
        this.adopt(scope, record);
        return true;
      }
      const status = this.store.set(scope.key, encodeRecord(record), cas);
      if (status == StoreStatus.Ok) {
        this.adopt(scope, record);
        if (claim.transitioned) this.metrics.breakerTransition(scope.cluster, scope.tenantLabel, BreakerState.HalfOpen);
        return claim.granted;
      }
      if (status != StoreStatus.CasMismatch) break;
    }
    this.casExhausted++;
    return false;
  }
}
