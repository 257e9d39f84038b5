// Retry budget: retries made over the breaker's sliding window may not exceed
//   max(budgetRatio × requests, minRetriesPerSecond × windowMs / 1000)
// — Linkerd's ServiceProfile budget (retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s) and Envoy's
// retry_budget.budget_percent 20 %, expressed over a time window instead of in-flight concurrency, because the
// filter sees finished requests (on_log) rather than the router's active ones. The floor keeps low-traffic scopes
// able to retry at all; the ratio bounds amplification under a total outage to about 1 + budgetRatio attempts
// per request once traffic exceeds the floor.
//
// Requests and retries are the `total` and `retries` columns of the same SlidingWindow the breaker keeps, so one
// shared-data record and one CAS per scope per tick carry both.
//
// Across worker VMs the budget holds because retries are reserved in the shared record BEFORE they are granted:
// a worker grants x-envoy-max-retries only out of a slice it reserved there by CAS (budgetSlice), so two workers
// can never spend the same remainder. When the request finishes, the reservation is settled to the retries Envoy
// actually made (upstream.request_attempt_count − 1): unused ones return to the worker's slice or to the record.
// resilience/resilience.ts does the reserving and settling.
//
// Pure: no host calls.

import { RetryPolicy } from "./resilience-policy";
import { WindowSums } from "./circuit-breaker";

export function retryAllowance(retry: RetryPolicy, requests: u32, windowMs: f64): f64 {
  const byRatio = Math.floor(retry.budgetRatio * <f64>requests);
  const floor = Math.floor(retry.minRetriesPerSecond * windowMs / 1000);
  return byRatio > floor ? byRatio : floor;
}

// How many retries a worker reserves in the shared record when a request wants `wanted` and `remaining` are left:
// what the request wants (or all that is left), or 1/BUDGET_SLICE_DIVISOR of what is left when that is more, so
// that later requests are granted from the slice without touching shared data. Small slices keep most of the
// budget available to the other workers; an unused slice is given back at the worker's next merge once its bucket
// is no longer the newest, or expires with its bucket.
export const BUDGET_SLICE_DIVISOR: i32 = 16;

export function budgetSlice(remaining: i32, wanted: i32): i32 {
  if (remaining <= 0 || wanted <= 0) return 0;
  if (remaining <= wanted) return remaining;
  const share = remaining / BUDGET_SLICE_DIVISOR;
  return share > wanted ? share : wanted;
}

// How many more retries the window allows now (0 when exhausted).
export function remainingRetries(retry: RetryPolicy, sums: WindowSums, windowMs: f64): i32 {
  const left = retryAllowance(retry, sums.total, windowMs) - <f64>sums.retries;
  if (left <= 0) return 0;
  return left > <f64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>left;
}
