// The host side of Resilience: proxy-wasm shared data as its SharedStore, Envoy stats as its metrics.
import {
  defineMetric, getSharedData, HostStatus, incrementMetric, MetricType, setSharedData,
} from "../abi/host";
import { encodeStatName, TAG_TENANT, TAG_UPSTREAM_CLUSTER } from "../policy/request-metrics";
import { BreakerState, breakerStateName } from "../policy/circuit-breaker";
import { Decision, decisionLabel } from "../policy/retry-decision";
import { ResilienceMetrics, SharedRead, SharedStore, StoreStatus } from "./resilience";

export const BREAKER_REJECTED_TOTAL = "meshlens_breaker_rejected_total";
export const BREAKER_TRANSITIONS_TOTAL = "meshlens_breaker_transitions_total";
export const RETRY_DECISIONS_TOTAL = "meshlens_retry_decisions_total";
export const TAG_TO_STATE = "to_state";
export const TAG_DECISION = "decision";

export class HostSharedStore extends SharedStore {
  get(key: string, out: SharedRead): bool {
    const value = getSharedData(key);
    if (value.status != HostStatus.Ok) return false;
    out.data = value.data;
    out.cas = value.cas;
    return true;
  }

  set(key: string, data: ArrayBuffer, cas: u32): StoreStatus {
    const status = setSharedData(key, data, cas);
    if (status == HostStatus.Ok) return StoreStatus.Ok;
    if (status == HostStatus.CasMismatch) return StoreStatus.CasMismatch;
    return StoreStatus.Failed;
  }
}

const REJECTED_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_TENANT];
const TRANSITION_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_TENANT, TAG_TO_STATE];
const DECISION_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_TENANT, TAG_DECISION];

// Label sets are bounded by the scope table (clusters × bounded tenants) times 3 states or 5 decisions; the cap is
// a last guard so a bug upstream cannot grow the stats table without end.
const MAX_SERIES: i32 = 8192;

export class HostResilienceMetrics extends ResilienceMetrics {
  private ids: Map<string, u32> = new Map<string, u32>();

  private increment(name: string): void {
    let id: u32 = 0;
    if (this.ids.has(name)) {
      id = this.ids.get(name);
    } else {
      if (this.ids.size >= MAX_SERIES) return;
      id = defineMetric(MetricType.Counter, name);
      if (id == 0) return;
      this.ids.set(name, id);
    }
    incrementMetric(id, 1);
  }

  breakerRejected(cluster: string, tenant: string): void {
    this.increment(encodeStatName(REJECTED_TAGS, [cluster, tenant], BREAKER_REJECTED_TOTAL));
  }

  breakerTransition(cluster: string, tenant: string, toState: BreakerState): void {
    this.increment(encodeStatName(TRANSITION_TAGS, [cluster, tenant, breakerStateName(toState)], BREAKER_TRANSITIONS_TOTAL));
  }

  retryDecision(cluster: string, tenant: string, decision: Decision): void {
    this.increment(encodeStatName(DECISION_TAGS, [cluster, tenant, decisionLabel(decision)], RETRY_DECISIONS_TOTAL));
  }
}
