// Retry budget: retries made over the breaker's sliding window may not exceed
//   max(budgetRatio × requests, minRetriesPerSecond × windowMs / 1000)
// — Linkerd's ServiceProfile budget (retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s) and Envoy's
// retry_budget.budget_percent 20 %, expressed over a time window instead of in-flight concurrency, because the
// filter sees finished requests (on_log) rather than the router's active ones. The floor keeps low-traffic scopes
// able to retry at all; the ratio bounds amplification under a total outage to about 1 + budgetRatio attempts
// per request once traffic exceeds the floor.
//
// Requests and retries are the `total` and `retries` columns of the same SlidingWindow the breaker keeps, so one
// shared-data record and one CAS per scope per tick carry both. Retries are counted from
// upstream.request_attempt_count (attempts − 1) when the request finishes.
//
// Pure: no host calls.

import { RetryPolicy } from "./resilience-policy";
import { WindowSums } from "./circuit-breaker";

export function retryAllowance(retry: RetryPolicy, requests: u32, windowMs: f64): f64 {
  const byRatio = Math.floor(retry.budgetRatio * <f64>requests);
  const floor = Math.floor(retry.minRetriesPerSecond * windowMs / 1000);
  return byRatio > floor ? byRatio : floor;
}

// How many more retries the window allows now (0 when exhausted).
export function remainingRetries(retry: RetryPolicy, sums: WindowSums, windowMs: f64): i32 {
  const left = retryAllowance(retry, sums.total, windowMs) - <f64>sums.retries;
  if (left <= 0) return 0;
  return left > <f64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>left;
}
