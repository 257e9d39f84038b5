// Retry decisions: whether a request may be retried by Envoy's router, and the x-envoy-* headers that tell it how.
//
// The filter does not retry by itself; it sets the router's request headers, which Envoy honours without any
// route retry_policy:
//   x-envoy-retry-on                        HTTP kinds of the table (5xx, gateway-error, connect-failure, ...)
//   x-envoy-retry-grpc-on                   gRPC kinds (cancelled, deadline-exceeded, internal, resource-exhausted,
//                                           unavailable), gRPC requests only
//   x-envoy-max-retries                     one number for all kinds
//   x-envoy-upstream-rq-per-try-timeout-ms  retry.perTryTimeoutMs when > 0
//   x-envoy-retriable-status-codes          retry.retriableStatusCodes when that kind is retried
// What the headers cannot express, and what we do instead:
//   - Per-kind limits. Envoy has one retry counter per request, so x-envoy-max-retries is the LARGEST row among
//     the kinds this request can hit: with 5xx → 2 and connect-failure → 1, a connect failure may be retried
//     twice. The budget below still bounds the total, and a policy wanting strict per-kind limits must give the
//     kinds equal rows.
//   - Backoff. The headers carry none; Envoy uses the route's retry_policy.retry_back_off, or its default
//     (25 ms base, 250 ms cap). The EnvoyFilter route patch carries routeBackOff(policy) from
//     resilience-policy.ts: the slowest base among retried kinds and retry.backoffMaxMs as the cap.
//   - The remaining budget. x-envoy-max-retries is also capped by the retries the budget still allows, so one
//     request cannot spend more than what is left.
// Caller-supplied retry headers are always stripped (RETRY_HEADERS_TO_STRIP), whatever the decision: an
// application must not be able to raise its own retry count past the budget. A refusal (BudgetExhausted,
// BreakerOpen, NotIdempotent) also sets x-envoy-max-retries: 0, because the route may carry a retry policy of its
// own — Istio's default VirtualService retries twice — and the header overrides the route's num_retries.
// Disabled leaves the route's policy alone: meshlens is not managing retries for that target.
//
// Idempotency (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, TRACE, PUT and DELETE. retry.idempotentOnly governs the rows
// whose failure may come after the upstream application processed the request — 5xx, gateway-error, reset,
// retriable-4xx, retriable status codes and the other gRPC statuses: with it, they apply to idempotent HTTP
// requests only (never to gRPC calls, whose idempotency is not visible in headers). Two rows apply to every
// method, as in Istio's default retry policy (connect-failure, refused-stream, unavailable, cancelled, 503 for all
// methods): connect-failure, where the request provably never reached the upstream, and gRPC UNAVAILABLE, which
// gRPC defines as "most likely transient, safe to retry" and servers return before handling the call — so the
// default "gRPC UNAVAILABLE → 3 retries at 100 ms" holds for every gRPC request. When no row applies to a
// non-idempotent request the decision is NotIdempotent. Set idempotentOnly false for a target whose gRPC or POST
// calls are safe to repeat on every kind.
// No retries while the scope is Open or HalfOpen: a HalfOpen probe must measure the upstream, not retry into it.
//
// Pure: no host calls.

import {
  FailureKind, FAILURE_KIND_COUNT, FAILURE_KIND_ENVOY_TOKENS, FIRST_GRPC_KIND, RetryPolicy,
} from "./resilience-policy";
import { BreakerState } from "./circuit-breaker";

export enum Decision {
  Granted = 0,
  BudgetExhausted = 1,
  BreakerOpen = 2,
  NotIdempotent = 3,
  Disabled = 4,
}

export const DECISION_COUNT: i32 = 5;

// Label values of meshlens_retry_decisions_total{decision}.
export function decisionLabel(decision: Decision): string {
  if (decision == Decision.Granted) return "granted";
  if (decision == Decision.BudgetExhausted) return "budget_exhausted";
  if (decision == Decision.BreakerOpen) return "breaker_open";
  if (decision == Decision.NotIdempotent) return "not_idempotent";
  return "disabled";
}

export const RETRY_HEADERS_TO_STRIP: StaticArray<string> = [
  "x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-max-retries", "x-envoy-upstream-rq-per-try-timeout-ms",
  "x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-hedge-on-per-try-timeout",
];

export function isIdempotentMethod(method: string): bool {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" || method == "DELETE";
}

// Envoy's Grpc::Common::isGrpcRequestHeaders: content-type "application/grpc", optionally followed by "+..." or
// ";..." (application/grpc-web is a different protocol that Envoy's router does not treat as gRPC).
export function isGrpcContentType(contentType: string): bool {
  const base = "application/grpc";
  if (contentType.length < base.length) return false;
  if (contentType.substring(0, base.length).toLowerCase() != base) return false;
  if (contentType.length == base.length) return true;
  const next = contentType.charCodeAt(base.length);
  return next == 0x2b || next == 0x3b; // '+' or ';'
}

// What a policy grants one class of request (by gRPC-ness and retry safety), before the budget cap. Derived
// from the policy alone, so it is built once per class and reused: the request path then builds no strings.
class RetryPlan {
  maxRetries: i32 = 0;
  retryOn: string = "";
  grpcOn: string = "";
  perTryTimeout: string = "";
  sendsRetriableStatusCodes: bool = false;
  retriableStatusCodes: string = "";
}

export class RetryDecision {
  decision: Decision = Decision.Disabled;
  maxRetries: i32 = 0;
  // Flat name/value pairs to set on the forwarded request.
  headers: Array<string> = new Array<string>();
  // Plans of the last policy decided for, by planIndex. Policies are immutable once parsed (a pushed update
  // is a new object), so identity tells when to rebuild.
  private planPolicy: RetryPolicy | null = null;
  private plans: StaticArray<RetryPlan | null> = new StaticArray<RetryPlan | null>(4);

  plan(retry: RetryPolicy, isGrpc: bool, retrySafe: bool): RetryPlan {
    if (this.planPolicy !== retry) {
      for (let i = 0; i < this.plans.length; i++) this.plans[i] = null;
      this.planPolicy = retry;
    }
    const index = (isGrpc ? 2 : 0) | (retrySafe ? 1 : 0);
    const cached = this.plans[index];
    if (cached !== null) return cached;
    const built = buildPlan(retry, isGrpc, retrySafe);
    this.plans[index] = built;
    return built;
  }
}

function anyRetries(retry: RetryPolicy): bool {
  for (let kind = 0; kind < FAILURE_KIND_COUNT; kind++) {
    if (retry.on[kind].maxRetries > 0) return true;
  }
  return false;
}

function appliesTo(kind: i32, isGrpc: bool, retrySafe: bool): bool {
  if (kind >= FIRST_GRPC_KIND && !isGrpc) return false;
  return retrySafe || kind == FailureKind.ConnectFailure || kind == FailureKind.GrpcUnavailable;
}

function buildPlan(retry: RetryPolicy, isGrpc: bool, retrySafe: bool): RetryPlan {
  const plan = new RetryPlan();
  let retryOn = "";
  let grpcOn = "";
  for (let kind = 0; kind < FAILURE_KIND_COUNT; kind++) {
    const rule = retry.on[kind];
    if (rule.maxRetries == 0 || !appliesTo(kind, isGrpc, retrySafe)) continue;
    if (rule.maxRetries > plan.maxRetries) plan.maxRetries = rule.maxRetries;
    if (kind >= FIRST_GRPC_KIND) grpcOn = grpcOn.length > 0 ? grpcOn + "," + FAILURE_KIND_ENVOY_TOKENS[kind] : FAILURE_KIND_ENVOY_TOKENS[kind];
    else retryOn = retryOn.length > 0 ? retryOn + "," + FAILURE_KIND_ENVOY_TOKENS[kind] : FAILURE_KIND_ENVOY_TOKENS[kind];
  }
  plan.retryOn = retryOn;
  plan.grpcOn = grpcOn;
  if (retry.perTryTimeoutMs > 0) plan.perTryTimeout = (<i64>retry.perTryTimeoutMs).toString();
  if (retry.on[FailureKind.RetriableStatusCodes].maxRetries > 0 && retrySafe) {
    const codes = retry.retriableStatusCodes;
    let list = "";
    for (let i = 0; i < codes.length; i++) list = i == 0 ? codes[i].toString() : list + "," + codes[i].toString();
    plan.sendsRetriableStatusCodes = true;
    plan.retriableStatusCodes = list;
  }
  return plan;
}

// x-envoy-max-retries values up to this many come from a table instead of a fresh string per request.
const SMALL_COUNTS: StaticArray<string> = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

function countText(n: i32): string {
  return n >= 0 && n < SMALL_COUNTS.length ? SMALL_COUNTS[n] : n.toString();
}

function refuse(out: RetryDecision, decision: Decision): RetryDecision {
  out.decision = decision;
  out.headers.push("x-envoy-max-retries");
  out.headers.push("0");
  return out;
}

export function decideRetry(
  method: string, isGrpc: bool, retry: RetryPolicy, breakerState: BreakerState, remainingBudget: i32, out: RetryDecision,
): RetryDecision {
  out.decision = Decision.Disabled;
  out.maxRetries = 0;
  out.headers.length = 0;
  if (!retry.enabled || !anyRetries(retry)) return out;
  if (breakerState != BreakerState.Closed) return refuse(out, Decision.BreakerOpen);
  const retrySafe = !retry.idempotentOnly || (!isGrpc && isIdempotentMethod(method));
  const plan = out.plan(retry, isGrpc, retrySafe);
  let maxRetries = plan.maxRetries;
  if (maxRetries == 0) {
    if (retrySafe) return out; // Disabled: no kind applies
    return refuse(out, Decision.NotIdempotent);
  }
  if (remainingBudget <= 0) return refuse(out, Decision.BudgetExhausted);
  if (remainingBudget < maxRetries) maxRetries = remainingBudget;
  out.decision = Decision.Granted;
  out.maxRetries = maxRetries;
  const headers = out.headers;
  if (plan.retryOn.length > 0) {
    headers.push("x-envoy-retry-on");
    headers.push(plan.retryOn);
  }
  if (plan.grpcOn.length > 0) {
    headers.push("x-envoy-retry-grpc-on");
    headers.push(plan.grpcOn);
  }
  headers.push("x-envoy-max-retries");
  headers.push(countText(maxRetries));
  if (plan.perTryTimeout.length > 0) {
    headers.push("x-envoy-upstream-rq-per-try-timeout-ms");
    headers.push(plan.perTryTimeout);
  }
  if (plan.sendsRetriableStatusCodes) {
    headers.push("x-envoy-retriable-status-codes");
    headers.push(plan.retriableStatusCodes);
  }
  return out;
}
