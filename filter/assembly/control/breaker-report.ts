// The breaker states a telemetry report carries (telemetry.proto BreakerEntry), from the scopes Resilience reports.
import { BreakerState } from "../policy/circuit-breaker";

// telemetry.proto BreakerOpenCause.
const CAUSE_ERROR_RATE: i32 = 1;
const CAUSE_SLOW_CALL_RATE: i32 = 2;
const CAUSE_PROBE_FAILED: i32 = 3;
import { ALL_TENANTS, Resilience } from "../resilience/resilience";
import { encodeBreakerEntry, ProtoWriter } from "./protobuf";

export function breakerEntries(resilience: Resilience, nowMs: f64): Array<ProtoWriter> {
  const scopes = resilience.reportableScopes(nowMs);
  const out = new Array<ProtoWriter>(scopes.length);
  for (let i = 0; i < scopes.length; i++) {
    const scope = scopes[i];
    const view = scope.view;
    const transitions = view.transitions;
    const reported = scope.reportedTransitions;
    scope.reportedTransitions = transitions;
    // The record keeps the window that tripped it, zeroed when a failed probe reopened it; a scope that never
    // opened has no cause.
    const total = view.tripTotal;
    const cause = total == 0
      ? (view.openCount > 0 || view.state != BreakerState.Closed ? CAUSE_PROBE_FAILED : 0)
      : (<f64>view.tripFailures / <f64>total >= scope.policy.breaker.errorRateThreshold ? CAUSE_ERROR_RATE : CAUSE_SLOW_CALL_RATE);
    out[i] = encodeBreakerEntry(scope.cluster,
      // telemetry.proto: "" names the cluster-wide scope.
      scope.tenantLabel == ALL_TENANTS ? "" : scope.tenantLabel,
      <i32>view.state + 1,
      // The counter restarts when the shared record is replaced (a new window length): count from there.
      transitions >= reported ? transitions - reported : transitions,
      scope.policy.id, scope.policy.target.pathTemplate, <u64>view.stateSinceMs,
      view.state == BreakerState.Open ? <u64>view.openUntilMs : 0, cause, total, view.tripFailures,
      view.tripSlow);
  }
  return out;
}
