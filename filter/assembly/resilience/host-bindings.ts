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

// Metric id of one (cluster, tenant, kind) series, memoized by the identity of the label strings the contexts
// pass (interned, see TenantResolver and getPropertyStringInterned): a hit neither encodes the stat name nor
// hashes it. The slot holds the strings, so their addresses stay unique while it does; equal text in another
// object merely misses and falls back to the name-keyed table.
class SeriesSlot {
  cluster: string = "";
  tenant: string = "";
  kind: i32 = -1;
  id: u32 = 0;
}

const SERIES_SLOTS: i32 = 512; // power of two

export class HostResilienceMetrics extends ResilienceMetrics {
  private ids: Map<string, u32> = new Map<string, u32>();
  private slots: StaticArray<SeriesSlot> = new StaticArray<SeriesSlot>(SERIES_SLOTS);

  private increment(name: string): u32 {
    let id: u32 = 0;
    if (this.ids.has(name)) {
      id = this.ids.get(name);
    } else {
      if (this.ids.size >= MAX_SERIES) return 0;
      id = defineMetric(MetricType.Counter, name);
      if (id == 0) return 0;
      this.ids.set(name, id);
    }
    incrementMetric(id, 1);
    return id;
  }

  // `kind` distinguishes the metric and its third label: decisions 0..4, states 16.., rejections 32.
  private slotFor(cluster: string, tenant: string, kind: i32): SeriesSlot {
    const mixed = (<u32>changetype<usize>(cluster) * 0x9e3779b1) ^ (<u32>changetype<usize>(tenant) * 0x85ebca6b) ^
      (<u32>kind * 0xc2b2ae35);
    const index = <i32>((mixed ^ (mixed >> 15)) & <u32>(SERIES_SLOTS - 1));
    let slot = unchecked(this.slots[index]);
    if (slot === null) {
      slot = new SeriesSlot();
      unchecked(this.slots[index] = slot);
    }
    return slot;
  }

  private incrementMemoized(slot: SeriesSlot, cluster: string, tenant: string, kind: i32, name: string): void {
    slot.cluster = cluster;
    slot.tenant = tenant;
    slot.kind = kind;
    slot.id = this.increment(name);
  }

  private hit(slot: SeriesSlot, cluster: string, tenant: string, kind: i32): bool {
    if (slot.id == 0 || slot.kind != kind || slot.cluster !== cluster || slot.tenant !== tenant) return false;
    incrementMetric(slot.id, 1);
    return true;
  }

  breakerRejected(cluster: string, tenant: string): void {
    const kind = 32;
    const slot = this.slotFor(cluster, tenant, kind);
    if (this.hit(slot, cluster, tenant, kind)) return;
    this.incrementMemoized(slot, cluster, tenant, kind, encodeStatName(REJECTED_TAGS, [cluster, tenant], BREAKER_REJECTED_TOTAL));
  }

  breakerTransition(cluster: string, tenant: string, toState: BreakerState): void {
    this.increment(encodeStatName(TRANSITION_TAGS, [cluster, tenant, breakerStateName(toState)], BREAKER_TRANSITIONS_TOTAL));
  }

  retryDecision(cluster: string, tenant: string, decision: Decision): void {
    const kind = <i32>decision;
    const slot = this.slotFor(cluster, tenant, kind);
    if (this.hit(slot, cluster, tenant, kind)) return;
    this.incrementMemoized(slot, cluster, tenant, kind, encodeStatName(DECISION_TAGS, [cluster, tenant, decisionLabel(decision)], RETRY_DECISIONS_TOTAL));
  }
}
