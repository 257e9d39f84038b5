// Test entry (never shipped): exposes the pure breaker/budget/decision code and the Resilience glue to uvu tests
// through `asc --bindings esm`. Built by test/policy/harness.ts into filter/build/test/.
// The glue runs with an in-memory SharedStore that has proxy-wasm's CAS semantics, shared by several Resilience
// instances standing in for worker VMs.

import { parseJson } from "../../json";
import { JsonKind } from "../../json";
import {
  FAILURE_KIND_COUNT, FAILURE_KIND_NAMES, parsePolicy, ResiliencePolicy, routeBackOff,
} from "../../policy/resilience-policy";
import {
  Admission, admission, BreakerRecord, BreakerState, breakerStateName, bucketMsFor, claimProbe, classifyOutcome,
  decodeRecord, encodeRecord, evaluate, ProbeClaim, recordOutcome, WindowSums,
} from "../../policy/circuit-breaker";
import { remainingRetries } from "../../policy/retry-budget";
import { decideRetry, Decision, decisionLabel, isGrpcContentType, RetryDecision } from "../../policy/retry-decision";
import {
  AdmitResult, Resilience, ResilienceMetrics, SharedRead, SharedStore, StoreStatus,
} from "../resilience";

// ---- policy ----------------------------------------------------------------------------------------------------

function num(v: f64): string {
  if (isFinite(v) && Math.floor(v) == v && Math.abs(v) < 9007199254740992) return (<i64>v).toString();
  return v.toString();
}

function str(s: string): string {
  return "\"" + s.replaceAll("\\", "\\\\").replaceAll("\"", "\\\"") + "\"";
}

// Canonical JSON of a parsed policy, in the key order of the TS twin's normalised object.
export function dumpPolicy(p: ResiliencePolicy): string {
  const t = p.target;
  const b = p.breaker;
  const r = p.retry;
  let on = "";
  for (let i = 0; i < FAILURE_KIND_COUNT; i++) {
    const rule = r.on[i];
    if (i > 0) on += ",";
    on += str(FAILURE_KIND_NAMES[i]) + ":{\"maxRetries\":" + rule.maxRetries.toString() + ",\"backoffBaseMs\":" + num(rule.backoffBaseMs) + "}";
  }
  let codes = "";
  for (let i = 0; i < r.retriableStatusCodes.length; i++) codes += (i > 0 ? "," : "") + r.retriableStatusCodes[i].toString();
  return "{\"target\":{\"cluster\":" + str(t.cluster) + ",\"pathTemplate\":" + str(t.pathTemplate) +
    ",\"perTenant\":" + (t.perTenant ? "true" : "false") + "}" +
    ",\"breaker\":{\"enabled\":" + (b.enabled ? "true" : "false") +
    ",\"errorRateThreshold\":" + num(b.errorRateThreshold) + ",\"slowCallMs\":" + num(b.slowCallMs) +
    ",\"slowCallRateThreshold\":" + num(b.slowCallRateThreshold) + ",\"minRequests\":" + b.minRequests.toString() +
    ",\"windowMs\":" + num(b.windowMs) + ",\"openMs\":" + num(b.openMs) + ",\"maxOpenMs\":" + num(b.maxOpenMs) +
    ",\"halfOpenProbes\":" + b.halfOpenProbes.toString() + ",\"halfOpenSuccesses\":" + b.halfOpenSuccesses.toString() +
    ",\"networkAware\":" + (b.networkAware ? "true" : "false") + "}" +
    ",\"retry\":{\"enabled\":" + (r.enabled ? "true" : "false") + ",\"idempotentOnly\":" + (r.idempotentOnly ? "true" : "false") +
    ",\"perTryTimeoutMs\":" + num(r.perTryTimeoutMs) + ",\"budgetRatio\":" + num(r.budgetRatio) +
    ",\"minRetriesPerSecond\":" + num(r.minRetriesPerSecond) + ",\"backoffMaxMs\":" + num(r.backoffMaxMs) +
    ",\"retriableStatusCodes\":[" + codes + "],\"on\":{" + on + "}}}";
}

function policyFrom(json: string): ResiliencePolicy {
  const parsed = parseJson(json);
  if (parsed.value === null) return new ResiliencePolicy();
  const result = parsePolicy(parsed.value!);
  return result.value !== null ? result.value! : new ResiliencePolicy();
}

// "ok:<canonical JSON>" or the error message (JSON syntax errors prefixed "json:").
export function checkPolicy(json: string): string {
  const parsed = parseJson(json);
  if (parsed.value === null) return "json:" + parsed.error;
  const result = parsePolicy(parsed.value!);
  if (result.value === null) return result.error;
  return "ok:" + dumpPolicy(result.value!);
}

export function backOffOf(json: string): string {
  const b = routeBackOff(policyFrom(json).retry);
  return num(b.baseIntervalMs) + "," + num(b.maxIntervalMs);
}

// Envoy short response flags ("UF,URX") to the response.flags bitmask the filter reads.
const FLAG_NAMES: StaticArray<string> = [
  "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE",
  "UMSDR",
];

export function flagsMask(flags: string): u64 {
  let mask: u64 = 0;
  if (flags.length == 0) return mask;
  const names = flags.split(",");
  for (let i = 0; i < names.length; i++) {
    for (let bit = 0; bit < FLAG_NAMES.length; bit++) {
      if (FLAG_NAMES[bit] == names[i]) mask |= (<u64>1) << <u64>bit;
    }
  }
  return mask;
}

// ---- breaker (pure, one record driven directly) ------------------------------------------------------------------

class PureBreaker {
  record: BreakerRecord;
  constructor(public policy: ResiliencePolicy) {
    this.record = new BreakerRecord(bucketMsFor(policy.breaker));
  }
}

const breakers = new Array<PureBreaker>();
const sums = new WindowSums();
const claim = new ProbeClaim();

export function breakerCreate(policyJson: string): i32 {
  breakers.push(new PureBreaker(policyFrom(policyJson)));
  return breakers.length - 1;
}

// Runs the state machine to rest; returns the transitions made, e.g. "Open" or "HalfOpen,Closed".
function settle(b: PureBreaker, nowMs: f64): string {
  let out = "";
  for (let i = 0; i < 3; i++) {
    const to = evaluate(b.record, b.policy.breaker, nowMs, sums);
    if (to < 0) break;
    out += (out.length > 0 ? "," : "") + breakerStateName(<BreakerState>to);
  }
  return out;
}

// 0 admitted, 1 rejected, 2 admitted as a probe.
export function breakerAdmit(h: i32, nowMs: f64): i32 {
  const b = breakers[h];
  const gate = admission(b.record, b.policy.breaker, nowMs);
  if (gate == Admission.Admit) return 0;
  if (gate == Admission.Reject) return 1;
  const wasClosed = b.record.state == BreakerState.Closed;
  claimProbe(b.record, b.policy.breaker, nowMs, claim);
  if (!claim.granted) return 1;
  return wasClosed ? 0 : 2;
}

export function breakerRecord(
  h: i32, code: i32, grpcStatus: i32, flags: string, durationMs: f64, probe: bool, retries: i32, nowMs: f64,
): string {
  const b = breakers[h];
  const outcome = classifyOutcome(code, grpcStatus, flagsMask(flags), answeredByUpstream(code));
  recordOutcome(b.record, outcome, durationMs >= b.policy.breaker.slowCallMs, probe, <u32>retries, nowMs);
  return settle(b, nowMs);
}

export function breakerTick(h: i32, nowMs: f64): string {
  return settle(breakers[h], nowMs);
}

export function breakerState(h: i32): i32 {
  return breakers[h].record.state;
}

export function breakerOpenUntil(h: i32): f64 {
  return breakers[h].record.openUntilMs;
}

// "<trip requests>/<trip failures>/<trip slow calls>".
export function breakerTrip(h: i32): string {
  const r = breakers[h].record;
  return r.tripTotal.toString() + "/" + r.tripFailures.toString() + "/" + r.tripSlow.toString();
}

export function breakerOpenCount(h: i32): u32 {
  return breakers[h].record.openCount;
}

export function breakerWindow(h: i32, nowMs: f64): string {
  breakers[h].record.window.sum(nowMs, sums);
  return sums.total.toString() + "," + sums.failures.toString() + "," + sums.slow.toString() + "," + sums.retries.toString();
}

// Encodes, decodes into a fresh record and encodes again; returns the byte length when both encodings agree
// and every field survived, -1 otherwise.
export function breakerRoundTrip(h: i32): i32 {
  const b = breakers[h];
  const bytes = encodeRecord(b.record);
  const copy = new BreakerRecord(1);
  if (!decodeRecord(bytes, copy)) return -1;
  const again = encodeRecord(copy);
  if (again.byteLength != bytes.byteLength) return -1;
  const x = Uint8Array.wrap(bytes);
  const y = Uint8Array.wrap(again);
  for (let i = 0; i < x.length; i++) if (x[i] != y[i]) return -1;
  if (copy.state != b.record.state || copy.openUntilMs != b.record.openUntilMs) return -1;
  return bytes.byteLength;
}

export function decodeBytes(bytes: Uint8Array): i32 {
  const copy = new BreakerRecord(1);
  return decodeRecord(bytes.buffer, copy) ? copy.state : -1;
}

export function classify(code: i32, grpcStatus: i32, flags: string, fromUpstream: bool): i32 {
  return classifyOutcome(code, grpcStatus, flagsMask(flags), fromUpstream);
}

// Harness calls with a status stand for responses the upstream sent; local replies are covered by classify(), which
// takes who answered explicitly.
function answeredByUpstream(code: i32): bool {
  return code > 0;
}

// ---- budget and decision ---------------------------------------------------------------------------------------

export function budgetRemaining(policyJson: string, requests: u32, retries: u32): i32 {
  const p = policyFrom(policyJson);
  const s = new WindowSums();
  s.total = requests;
  s.retries = retries;
  return remainingRetries(p.retry, s, p.breaker.windowMs);
}

// "<decision>\n<name>: <value>\n..."
export function decide(policyJson: string, method: string, contentType: string, state: i32, remaining: i32): string {
  const p = policyFrom(policyJson);
  const d = decideRetry(method, isGrpcContentType(contentType), p.retry, <BreakerState>state, remaining, new RetryDecision());
  let out = decisionLabel(d.decision);
  for (let i = 0; i + 1 < d.headers.length; i += 2) out += "\n" + d.headers[i] + ": " + d.headers[i + 1];
  return out;
}

export function grpcContentType(contentType: string): bool {
  return isGrpcContentType(contentType);
}

// ---- glue with an in-memory shared store -----------------------------------------------------------------------

class MemoryStore extends SharedStore {
  values: Map<string, ArrayBuffer> = new Map<string, ArrayBuffer>();
  casOf: Map<string, u32> = new Map<string, u32>();
  nextCas: u32 = 1;
  gets: u32 = 0;
  sets: u32 = 0;
  mismatches: u32 = 0;
  // When > 0, that many upcoming conditional sets fail with CasMismatch (simulates another writer).
  forcedMismatches: i32 = 0;

  get(key: string, out: SharedRead): bool {
    this.gets++;
    if (!this.values.has(key)) return false;
    const copy = this.values.get(key).slice(0);
    out.data = copy;
    out.cas = this.casOf.get(key);
    return true;
  }

  set(key: string, data: ArrayBuffer, cas: u32): StoreStatus {
    if (this.values.has(key) && cas != 0) {
      if (this.forcedMismatches > 0 || this.casOf.get(key) != cas) {
        if (this.forcedMismatches > 0) this.forcedMismatches--;
        this.mismatches++;
        return StoreStatus.CasMismatch;
      }
    }
    this.sets++;
    this.values.set(key, data.slice(0));
    this.casOf.set(key, this.nextCas++);
    return StoreStatus.Ok;
  }
}

class CountingMetrics extends ResilienceMetrics {
  names: Array<string> = new Array<string>();
  counts: Map<string, i32> = new Map<string, i32>();

  bump(name: string): void {
    if (!this.counts.has(name)) {
      this.names.push(name);
      this.counts.set(name, 0);
    }
    this.counts.set(name, this.counts.get(name) + 1);
  }

  breakerRejected(cluster: string, tenant: string): void {
    this.bump("meshlens_breaker_rejected_total{upstream_cluster=" + cluster + ",tenant=" + tenant + "}");
  }

  breakerTransition(cluster: string, tenant: string, toState: BreakerState): void {
    this.bump("meshlens_breaker_transitions_total{upstream_cluster=" + cluster + ",tenant=" + tenant + ",to_state=" + breakerStateName(toState) + "}");
  }

  retryDecision(cluster: string, tenant: string, decision: Decision): void {
    this.bump("meshlens_retry_decisions_total{upstream_cluster=" + cluster + ",tenant=" + tenant + ",decision=" + decisionLabel(decision) + "}");
  }
}

let store = new MemoryStore();
let metrics = new CountingMetrics();
let workers = new Array<Resilience>();
let admissions = new Array<AdmitResult>();

// policiesJson: a JSON array of policies. Returns "" or the first policy error.
export function workersCreate(count: i32, policiesJson: string): string {
  return createWorkers(count, policiesJson, false);
}

// Baseline for benchmarks: every worker keeps its own store, i.e. per-worker breakers with nothing shared
// (what a proxy-wasm filter without shared data, or Envoy's admission-control filter, does).
export function workersCreateIsolated(count: i32, policiesJson: string): string {
  return createWorkers(count, policiesJson, true);
}

function createWorkers(count: i32, policiesJson: string, isolated: bool): string {
  store = new MemoryStore();
  metrics = new CountingMetrics();
  workers = new Array<Resilience>();
  admissions = new Array<AdmitResult>();
  const parsed = parseJson(policiesJson);
  if (parsed.value === null || parsed.value!.kind != JsonKind.Array) return "policies must be a JSON array";
  const items = parsed.value!.items;
  for (let w = 0; w < count; w++) {
    const list = new Array<ResiliencePolicy>();
    for (let i = 0; i < items.length; i++) {
      const result = parsePolicy(items[i]);
      if (result.value === null) return result.error;
      list.push(result.value!);
    }
    const worker = new Resilience(isolated ? new MemoryStore() : store, metrics);
    worker.setPolicies(list);
    workers.push(worker);
  }
  return "";
}

// Returns an admission id for workerRecord/admissionInfo.
export function workerAdmit(
  w: i32, cluster: string, tenant: string, pathTemplate: string, method: string, isGrpc: bool, nowMs: f64,
): i32 {
  admissions.push(workers[w].admit(cluster, tenant, pathTemplate, method, isGrpc, nowMs));
  return admissions.length - 1;
}

// "reject|admit" "," decision "," "probe|-" then "\n<name>: <value>" per header to set.
export function admissionInfo(id: i32): string {
  const a = admissions[id];
  let out = (a.reject ? "reject" : "admit") + "," + decisionLabel(a.decision) + "," + (a.probe ? "probe" : "-");
  for (let i = 0; i + 1 < a.headersToSet.length; i += 2) out += "\n" + a.headersToSet[i] + ": " + a.headersToSet[i + 1];
  return out;
}

export function admissionStrips(id: i32): string {
  return admissions[id].headersToRemove.join(",");
}

export function workerRecord(
  w: i32, id: i32, code: i32, grpcStatus: i32, flags: string, durationMs: f64, attempts: i32, nowMs: f64,
): void {
  workers[w].record(admissions[id], code, grpcStatus, flagsMask(flags), answeredByUpstream(code), durationMs, attempts,
    nowMs);
}

export function workerTick(w: i32, nowMs: f64): void {
  workers[w].onTick(nowMs);
}

export function workerViewState(w: i32, cluster: string, pathTemplate: string, tenant: string): i32 {
  return workers[w].viewState(cluster, pathTemplate, tenant);
}

export function workerScopeCount(w: i32): i32 {
  return workers[w].scopeCount;
}

export function workerCasExhausted(w: i32): u32 {
  return workers[w].casExhausted;
}

export function forceCasMismatches(n: i32): void {
  store.forcedMismatches = n;
}

export function storeStats(): string {
  return store.gets.toString() + "," + store.sets.toString() + "," + store.mismatches.toString();
}

export function metricsDump(): string {
  let out = "";
  for (let i = 0; i < metrics.names.length; i++) {
    out += metrics.names[i] + " " + metrics.counts.get(metrics.names[i]).toString() + "\n";
  }
  return out;
}

// "<state>,<total>,<failures>,<slow>,<retries>" of the shared record under `key`, or "" when absent.
export function sharedRecord(key: string, nowMs: f64): string {
  if (!store.values.has(key)) return "";
  const record = new BreakerRecord(1);
  if (!decodeRecord(store.values.get(key), record)) return "undecodable";
  record.window.sum(nowMs, sums);
  return breakerStateName(record.state) + "," + sums.total.toString() + "," + sums.failures.toString() + "," +
    sums.slow.toString() + "," + sums.retries.toString();
}
