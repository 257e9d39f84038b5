// The breaker states a telemetry report carries (telemetry.proto BreakerEntry), from the scopes Resilience reports.
import { BreakerState } from "../policy/circuit-breaker";
import { ALL_TENANTS, Resilience } from "../resilience/resilience";
import { BreakerEntry } from "./protobuf";

export function breakerEntries(resilience: Resilience, nowMs: f64): Array<BreakerEntry> {
  const scopes = resilience.reportableScopes(nowMs);
  const out = new Array<BreakerEntry>(scopes.length);
  for (let i = 0; i < scopes.length; i++) {
    const scope = scopes[i];
    const view = scope.view;
    const entry = new BreakerEntry();
    entry.cluster = scope.cluster;
    // telemetry.proto: "" names the cluster-wide scope.
    entry.tenant = scope.tenantLabel == ALL_TENANTS ? "" : scope.tenantLabel;
    entry.state = <i32>view.state + 1;
    // The counter restarts when the shared record is replaced (a new window length): count from there.
    entry.transitions = view.transitions >= scope.reportedTransitions ? view.transitions - scope.reportedTransitions : view.transitions;
    scope.reportedTransitions = view.transitions;
    entry.policyId = scope.policy.id;
    entry.pathTemplate = scope.policy.target.pathTemplate;
    entry.sinceUnixMs = <u64>view.stateSinceMs;
    if (view.state == BreakerState.Open) entry.openUntilUnixMs = <u64>view.openUntilMs;
    entry.openCause = <i32>view.openCause;
    entry.tripRequests = view.tripTotal;
    entry.tripFailures = view.tripFailures;
    entry.tripSlowCalls = view.tripSlow;
    out[i] = entry;
  }
  return out;
}
