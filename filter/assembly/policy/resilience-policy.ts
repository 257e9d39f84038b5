// The resilience policy model: which traffic a policy targets, how its circuit breaker trips, and which failure
// kinds are retried how often. control-plane/src/policy-model.ts is the TypeScript twin of this file: the same
// fields, the same defaults, the same validation order and the same error messages, character for character
// (test/policy/ feeds one table of cases to both and compares). Change both or neither.
//
// Every field is optional and falls back to its default, so a policy that only says
// `{"target":{"cluster":"x"},"breaker":{"openMs":5000}}` keeps every other default. The same holds inside
// `retry.on`: a failure kind that is not listed keeps its default row; set `maxRetries` to 0 to stop retrying it.
// Unknown fields are rejected rather than ignored, because a misspelt threshold silently falling back to its
// default is the kind of mistake an operator only finds during an outage.
//
// Pure: no host calls, no clock. Durations are milliseconds held in f64 (exact for integers below 2^53).

import { JsonKind, JsonValue } from "../json";

// Failure kinds a policy can retry, in the order they are validated and rendered. The first six are Envoy
// `x-envoy-retry-on` tokens; the gRPC ones are `x-envoy-retry-grpc-on` tokens behind a "grpc-" prefix, so one flat
// table can hold both without ambiguity.
export const enum FailureKind {
  ServerError = 0, // 5xx
  GatewayError = 1, // gateway-error
  ConnectFailure = 2, // connect-failure
  Reset = 3, // reset
  Retriable4xx = 4, // retriable-4xx
  RetriableStatusCodes = 5, // retriable-status-codes
  GrpcCancelled = 6,
  GrpcDeadlineExceeded = 7,
  GrpcInternal = 8,
  GrpcResourceExhausted = 9,
  GrpcUnavailable = 10,
}

export const FAILURE_KIND_COUNT: i32 = 11;
export const FIRST_GRPC_KIND: i32 = 6;

export const FAILURE_KIND_NAMES: StaticArray<string> = [
  "5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx", "retriable-status-codes",
  "grpc-cancelled", "grpc-deadline-exceeded", "grpc-internal", "grpc-resource-exhausted", "grpc-unavailable",
];

// The token Envoy understands for each kind (x-envoy-retry-on for HTTP kinds, x-envoy-retry-grpc-on for gRPC).
export const FAILURE_KIND_ENVOY_TOKENS: StaticArray<string> = [
  "5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx", "retriable-status-codes",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
];

const DEFAULT_MAX_RETRIES: StaticArray<i32> = [2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 3];
const DEFAULT_BACKOFF_BASE_MS: StaticArray<f64> = [250, 250, 25, 25, 25, 25, 25, 25, 25, 25, 100];

export const MAX_RETRIES_LIMIT: i32 = 10;

export class TargetPolicy {
  // Envoy cluster name (xds.cluster_name), or "*" for every cluster.
  cluster: string = "*";
  // A path template as policy/path-template.ts renders it (e.g. "/orders/{id}"), or "*" for every path.
  pathTemplate: string = "*";
  // One breaker and one retry budget per (cluster, tenant) instead of per cluster. On unless a policy turns it off
  // explicitly: without it one failing tenant opens the breaker for every tenant of the cluster.
  perTenant: bool = true;
}

export class BreakerPolicy {
  enabled: bool = true;
  errorRateThreshold: f64 = 0.3;
  slowCallMs: f64 = 800;
  slowCallRateThreshold: f64 = 0.5;
  minRequests: i32 = 20;
  windowMs: f64 = 10000;
  openMs: f64 = 30000;
  maxOpenMs: f64 = 300000;
  halfOpenProbes: i32 = 5;
  halfOpenSuccesses: i32 = 3;
  // Failures and slow calls from a network-suspect endpoint (pushed by the control plane) do not count.
  networkAware: bool = false;
}

export class RetryRule {
  constructor(public maxRetries: i32, public backoffBaseMs: f64) {}
}

export class RetryPolicy {
  enabled: bool = true;
  idempotentOnly: bool = true;
  perTryTimeoutMs: f64 = 0;
  budgetRatio: f64 = 0.2;
  minRetriesPerSecond: f64 = 10;
  backoffMaxMs: f64 = 2500;
  retriableStatusCodes: Array<i32> = new Array<i32>();
  on: StaticArray<RetryRule> = defaultRetryRules();

  rule(kind: i32): RetryRule {
    return this.on[kind];
  }
}

export class ResiliencePolicy {
  // The control plane's resource id ("" for the plugin config's default): not part of the JSON model, it names the
  // policy in the breaker states the filter reports.
  id: string = "";
  target: TargetPolicy = new TargetPolicy();
  breaker: BreakerPolicy = new BreakerPolicy();
  retry: RetryPolicy = new RetryPolicy();
}

export class PolicyParseResult {
  value: ResiliencePolicy | null = null;
  error: string = "";
}

function defaultRetryRules(): StaticArray<RetryRule> {
  const rules = new StaticArray<RetryRule>(FAILURE_KIND_COUNT);
  for (let i = 0; i < FAILURE_KIND_COUNT; i++) {
    rules[i] = new RetryRule(DEFAULT_MAX_RETRIES[i], DEFAULT_BACKOFF_BASE_MS[i]);
  }
  return rules;
}

export function failureKindByName(name: string): i32 {
  for (let i = 0; i < FAILURE_KIND_COUNT; i++) {
    if (FAILURE_KIND_NAMES[i] == name) return i;
  }
  return -1;
}

// Envoy's route retry_back_off applies one base interval to every retry of a route and the x-envoy-* request
// headers cannot carry one at all, so the per-kind backoff of the table collapses to a single pair for the route:
// the slowest base among the kinds this policy retries (backing off too slowly costs latency; too fast amplifies
// load on an upstream that is already failing) and backoffMaxMs as the cap. istio/ renders this into the
// EnvoyFilter's route retry_policy.retry_back_off.
export class RouteBackOff {
  constructor(public baseIntervalMs: f64, public maxIntervalMs: f64) {}
}

export function routeBackOff(retry: RetryPolicy): RouteBackOff {
  let base: f64 = 0;
  for (let i = 0; i < FAILURE_KIND_COUNT; i++) {
    const rule = retry.on[i];
    if (rule.maxRetries > 0 && rule.backoffBaseMs > base) base = rule.backoffBaseMs;
  }
  if (base == 0) base = 25; // Envoy's own default base interval
  return new RouteBackOff(base, retry.backoffMaxMs > base ? retry.backoffMaxMs : base);
}

// ---- validation -------------------------------------------------------------------------------------------------
// Each check returns "" when the value is acceptable and the full message otherwise; the first failing field wins.

const PREFIX = "invalid policy: ";

function isInteger(v: f64): bool {
  return isFinite(v) && Math.floor(v) == v;
}

function fail(field: string, rule: string): string {
  return PREFIX + field + " must " + rule;
}

function checkKeys(obj: JsonValue, field: string, allowed: StaticArray<string>): string {
  for (let i = 0; i < obj.keys.length; i++) {
    const key = obj.keys[i];
    let known = false;
    for (let j = 0; j < allowed.length; j++) {
      if (allowed[j] == key) {
        known = true;
        break;
      }
    }
    if (!known) return fail(field.length > 0 ? field + "." + key : key, "not be present (unknown field)");
  }
  return "";
}

// Reads optional fields one at a time, recording the first error.
class FieldReader {
  error: string = "";

  constructor(public obj: JsonValue, public prefix: string) {}

  name(key: string): string {
    return this.prefix + "." + key;
  }

  present(key: string): JsonValue | null {
    if (this.error.length > 0) return null;
    const v = this.obj.get(key);
    if (v === null || v.kind == JsonKind.Null) return null;
    return v;
  }

  bool(key: string, fallback: bool): bool {
    const v = this.present(key);
    if (v === null) return fallback;
    if (v.kind != JsonKind.Bool) {
      this.error = fail(this.name(key), "be a boolean");
      return fallback;
    }
    return v.bool;
  }

  // (0, 1], or [0, 1] when zeroAllowed.
  ratio(key: string, fallback: f64, zeroAllowed: bool): f64 {
    const v = this.present(key);
    if (v === null) return fallback;
    const ok = v.kind == JsonKind.Number && isFinite(v.num) && v.num <= 1 && (zeroAllowed ? v.num >= 0 : v.num > 0);
    if (!ok) {
      this.error = fail(this.name(key), zeroAllowed ? "be in [0, 1]" : "be in (0, 1]");
      return fallback;
    }
    return v.num;
  }

  integer(key: string, fallback: f64, min: f64, max: f64): f64 {
    const v = this.present(key);
    if (v === null) return fallback;
    if (v.kind != JsonKind.Number || !isInteger(v.num) || v.num < min || v.num > max) {
      this.error = fail(this.name(key), "be an integer in [" + (<i64>min).toString() + ", " + (<i64>max).toString() + "]");
      return fallback;
    }
    return v.num;
  }

  str(key: string): JsonValue | null {
    const v = this.present(key);
    if (v === null) return null;
    if (v.kind != JsonKind.String) {
      this.error = fail(this.name(key), "be a string");
      return null;
    }
    return v;
  }

  object(key: string): JsonValue | null {
    const v = this.present(key);
    if (v === null) return null;
    if (v.kind != JsonKind.Object) {
      this.error = fail(this.name(key), "be an object");
      return null;
    }
    return v;
  }
}

const POLICY_KEYS: StaticArray<string> = ["target", "breaker", "retry"];
const TARGET_KEYS: StaticArray<string> = ["cluster", "pathTemplate", "perTenant"];
const BREAKER_KEYS: StaticArray<string> = [
  "enabled", "errorRateThreshold", "slowCallMs", "slowCallRateThreshold", "minRequests", "windowMs", "openMs",
  "maxOpenMs", "halfOpenProbes", "halfOpenSuccesses", "networkAware",
];
const RETRY_KEYS: StaticArray<string> = [
  "enabled", "idempotentOnly", "perTryTimeoutMs", "budgetRatio", "minRetriesPerSecond", "backoffMaxMs",
  "retriableStatusCodes", "on",
];
const RULE_KEYS: StaticArray<string> = ["maxRetries", "backoffBaseMs"];

// Bounds shared with the TS twin. Windows are cut into 10 buckets, so 1 s keeps buckets at ≥ 100 ms.
const MAX_DURATION_MS: f64 = 86400000;
const MIN_WINDOW_MS: f64 = 1000;
const MAX_WINDOW_MS: f64 = 3600000;

function parseTarget(v: JsonValue, out: TargetPolicy): string {
  const err = checkKeys(v, "target", TARGET_KEYS);
  if (err.length > 0) return err;
  const r = new FieldReader(v, "target");
  const cluster = r.str("cluster");
  if (cluster !== null) {
    if (cluster.str.length == 0) return fail("target.cluster", "be a non-empty string");
    out.cluster = cluster.str;
  }
  if (r.error.length > 0) return r.error;
  const path = r.str("pathTemplate");
  if (path !== null) {
    const s = path.str;
    if (s != "*" && (s.length == 0 || s.charCodeAt(0) != 0x2f)) return fail("target.pathTemplate", "be \"*\" or start with \"/\"");
    out.pathTemplate = s;
  }
  out.perTenant = r.bool("perTenant", out.perTenant);
  return r.error;
}

function parseBreaker(v: JsonValue, out: BreakerPolicy): string {
  const err = checkKeys(v, "breaker", BREAKER_KEYS);
  if (err.length > 0) return err;
  const r = new FieldReader(v, "breaker");
  out.enabled = r.bool("enabled", out.enabled);
  out.errorRateThreshold = r.ratio("errorRateThreshold", out.errorRateThreshold, false);
  out.slowCallMs = r.integer("slowCallMs", out.slowCallMs, 1, MAX_DURATION_MS);
  out.slowCallRateThreshold = r.ratio("slowCallRateThreshold", out.slowCallRateThreshold, false);
  out.minRequests = <i32>r.integer("minRequests", out.minRequests, 1, 1000000);
  out.windowMs = r.integer("windowMs", out.windowMs, MIN_WINDOW_MS, MAX_WINDOW_MS);
  out.openMs = r.integer("openMs", out.openMs, 1, MAX_DURATION_MS);
  out.maxOpenMs = r.integer("maxOpenMs", out.maxOpenMs, 1, MAX_DURATION_MS);
  out.halfOpenProbes = <i32>r.integer("halfOpenProbes", out.halfOpenProbes, 1, 1000);
  out.halfOpenSuccesses = <i32>r.integer("halfOpenSuccesses", out.halfOpenSuccesses, 1, 1000);
  out.networkAware = r.bool("networkAware", out.networkAware);
  if (r.error.length > 0) return r.error;
  if (out.maxOpenMs < out.openMs) return fail("breaker.maxOpenMs", "be ≥ breaker.openMs");
  if (out.halfOpenSuccesses > out.halfOpenProbes) return fail("breaker.halfOpenSuccesses", "be ≤ breaker.halfOpenProbes");
  return "";
}

function parseRule(v: JsonValue, field: string, out: RetryRule, backoffMaxMs: f64): string {
  const err = checkKeys(v, field, RULE_KEYS);
  if (err.length > 0) return err;
  const r = new FieldReader(v, field);
  out.maxRetries = <i32>r.integer("maxRetries", out.maxRetries, 0, MAX_RETRIES_LIMIT);
  out.backoffBaseMs = r.integer("backoffBaseMs", out.backoffBaseMs, 1, MAX_DURATION_MS);
  if (r.error.length > 0) return r.error;
  if (out.backoffBaseMs > backoffMaxMs) return fail(field + ".backoffBaseMs", "be ≤ retry.backoffMaxMs");
  return "";
}

function parseRetry(v: JsonValue, out: RetryPolicy): string {
  const err = checkKeys(v, "retry", RETRY_KEYS);
  if (err.length > 0) return err;
  const r = new FieldReader(v, "retry");
  out.enabled = r.bool("enabled", out.enabled);
  out.idempotentOnly = r.bool("idempotentOnly", out.idempotentOnly);
  out.perTryTimeoutMs = r.integer("perTryTimeoutMs", out.perTryTimeoutMs, 0, MAX_DURATION_MS);
  out.budgetRatio = r.ratio("budgetRatio", out.budgetRatio, true);
  out.minRetriesPerSecond = r.integer("minRetriesPerSecond", out.minRetriesPerSecond, 0, 100000);
  out.backoffMaxMs = r.integer("backoffMaxMs", out.backoffMaxMs, 1, MAX_DURATION_MS);
  if (r.error.length > 0) return r.error;
  const codes = r.present("retriableStatusCodes");
  if (codes !== null) {
    if (codes.kind != JsonKind.Array || codes.items.length > 32) return fail("retry.retriableStatusCodes", "be an array of at most 32 status codes");
    const list = new Array<i32>();
    for (let i = 0; i < codes.items.length; i++) {
      const c = codes.items[i];
      if (c.kind != JsonKind.Number || !isInteger(c.num) || c.num < 100 || c.num > 599) {
        return fail("retry.retriableStatusCodes[" + i.toString() + "]", "be an integer in [100, 599]");
      }
      list.push(<i32>c.num);
    }
    out.retriableStatusCodes = list;
  }
  const on = r.object("on");
  if (r.error.length > 0) return r.error;
  if (on !== null) {
    for (let i = 0; i < on.keys.length; i++) {
      const key = on.keys[i];
      const kind = failureKindByName(key);
      if (kind < 0) return fail("retry.on." + key, "be a known failure kind (" + FAILURE_KIND_NAMES.join(", ") + ")");
      const row = on.values[i];
      if (row.kind != JsonKind.Object) return fail("retry.on." + key, "be an object");
    }
    for (let kind = 0; kind < FAILURE_KIND_COUNT; kind++) {
      const row = on.get(FAILURE_KIND_NAMES[kind]);
      if (row === null) continue;
      const rowErr = parseRule(row, "retry.on." + FAILURE_KIND_NAMES[kind], out.on[kind], out.backoffMaxMs);
      if (rowErr.length > 0) return rowErr;
    }
  }
  // Rows not given keep their default base, which may exceed a lowered cap.
  for (let kind = 0; kind < FAILURE_KIND_COUNT; kind++) {
    if (out.on[kind].backoffBaseMs > out.backoffMaxMs) {
      return fail("retry.on." + FAILURE_KIND_NAMES[kind] + ".backoffBaseMs", "be ≤ retry.backoffMaxMs");
    }
  }
  if (out.on[FailureKind.RetriableStatusCodes].maxRetries > 0 && out.retriableStatusCodes.length == 0) {
    return fail("retry.retriableStatusCodes", "be non-empty when retry.on.retriable-status-codes.maxRetries > 0");
  }
  return "";
}

export function parsePolicy(v: JsonValue): PolicyParseResult {
  const result = new PolicyParseResult();
  if (v.kind != JsonKind.Object) {
    result.error = PREFIX + "policy must be an object";
    return result;
  }
  const policy = new ResiliencePolicy();
  let err = checkKeys(v, "", POLICY_KEYS);
  const sections: StaticArray<string> = ["target", "breaker", "retry"];
  for (let i = 0; i < sections.length && err.length == 0; i++) {
    const section = v.get(sections[i]);
    if (section === null || section.kind == JsonKind.Null) continue;
    if (section.kind != JsonKind.Object) {
      err = fail(sections[i], "be an object");
      break;
    }
    if (i == 0) err = parseTarget(section, policy.target);
    else if (i == 1) err = parseBreaker(section, policy.breaker);
    else err = parseRetry(section, policy.retry);
  }
  if (err.length > 0) {
    result.error = err;
    return result;
  }
  result.value = policy;
  return result;
}
