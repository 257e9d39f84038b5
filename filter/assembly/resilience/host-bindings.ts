// The host side of Resilience: proxy-wasm shared data as its SharedStore, Envoy stats as its metrics.
import {
  getSharedData, HostStatus, incrementMetric, MetricType, recordMetric, setSharedData,
} from "../abi/host";
import { encodeStatName, TAG_PATH, TAG_TENANT, TAG_UPSTREAM_CLUSTER } from "../policy/request-metrics";
import { OVERFLOW_LABEL } from "../policy/labels";
import { BreakerState, breakerStateName } from "../policy/circuit-breaker";
import { Decision, DECISION_COUNT, decisionLabel } from "../policy/retry-decision";
import { ExportedSeries, REFUSED_SERIES } from "../contexts/series";
import { ResilienceMetrics, SharedRead, SharedStore, StoreStatus } from "./resilience";

export const BREAKER_REJECTED_TOTAL = "meshlens_breaker_rejected_total";
export const BREAKER_TRANSITIONS_TOTAL = "meshlens_breaker_transitions_total";
export const RETRY_DECISIONS_TOTAL = "meshlens_retry_decisions_total";
// Retries Envoy actually made (upstream.request_attempt_count − 1), whoever granted them.
export const RETRIES_TOTAL = "meshlens_retries_total";
// Current state of a breaker scope as the worker that last saw it change: 0 Closed, 1 Open, 2 HalfOpen (BreakerState).
export const BREAKER_STATE = "meshlens_breaker_state";
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
const RETRIES_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_TENANT];
// A scope is (cluster, policy path template, tenant or ~all): the gauge carries all three, path being the policy's
// target template, "~all" for a catch-all policy ("*" is no label character, see sanitizeLabelValue).
const ALL_PATHS = "~all";
const STATE_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_PATH, TAG_TENANT];

// Series-table kinds: decisions 0..4, transitions 16 + state, rejections 32, retries 48.
const KIND_TRANSITION: i32 = 16;
const KIND_REJECTED: i32 = 32;
const KIND_RETRIES: i32 = 48;
// Fold series per kind, all with upstream_cluster and tenant "~other": one per decision, one per target state, one
// for rejections and one for retries. A breaker-state gauge has no fold (a sum of states means nothing): a refused
// one is not exported and its updates are counted as folded.
export const RESILIENCE_FOLD_SERIES: i32 = DECISION_COUNT + 3 + 1 + 1;

// Label sets are bounded by the scope table (clusters × bounded tenants) times 3 states or 5 decisions, and every
// series is admitted by the process-wide budget; this cap only bounds what one VM remembers.
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
  // The series' own id, not its fold: a fold hit also counts as folded.
  own: bool = true;
}

const SERIES_SLOTS: i32 = 512; // power of two

export class HostResilienceMetrics extends ResilienceMetrics {
  private ids: Map<string, u32> = new Map<string, u32>();
  private folds: Map<i32, u32> = new Map<i32, u32>();
  private slots: StaticArray<SeriesSlot> = new StaticArray<SeriesSlot>(SERIES_SLOTS);
  private stateIds: Map<string, u32> = new Map<string, u32>();
  // Whether the last resolve() returned the series' own id, and whether its answer may be memoized.
  private own: bool = true;
  private final: bool = true;

  constructor(private series: ExportedSeries) {
    super();
  }

  private fold(kind: i32): u32 {
    if (this.folds.has(kind)) return this.folds.get(kind);
    const id = this.series.defineFold(MetricType.Counter, this.nameOf(OVERFLOW_LABEL, OVERFLOW_LABEL, kind));
    this.folds.set(kind, id);
    return id;
  }

  // The id to count into: the series' own once the budget admitted it, else its kind's fold. A refusal is final
  // and remembered (up to MAX_SERIES names); an undecided admission is asked again next time.
  private resolve(name: string, kind: i32): u32 {
    this.own = true;
    this.final = true;
    if (this.ids.has(name)) {
      const known = this.ids.get(name);
      if (known != REFUSED_SERIES) return known;
      this.own = false;
      return this.fold(kind);
    }
    const id = this.series.define(MetricType.Counter, name);
    if (id != 0 && id != REFUSED_SERIES) {
      if (this.ids.size < MAX_SERIES) this.ids.set(name, id);
      return id;
    }
    if (id == REFUSED_SERIES && this.ids.size < MAX_SERIES) this.ids.set(name, REFUSED_SERIES);
    else this.final = false;
    this.own = false;
    return this.fold(kind);
  }

  private add(id: u32, own: bool, delta: i64): void {
    if (id == 0) return;
    incrementMetric(id, delta);
    if (!own) this.series.folded(delta);
  }

  // `kind` distinguishes the metric and its third label.
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

  private count(cluster: string, tenant: string, kind: i32, delta: i64): void {
    const slot = this.slotFor(cluster, tenant, kind);
    if (slot.id != 0 && slot.kind == kind && slot.cluster === cluster && slot.tenant === tenant) {
      this.add(slot.id, slot.own, delta);
      return;
    }
    const id = this.resolve(this.nameOf(cluster, tenant, kind), kind);
    slot.cluster = cluster;
    slot.tenant = tenant;
    slot.kind = kind;
    slot.id = id;
    slot.own = this.own;
    // An undecided (or unremembered) answer must be asked again, not memoized as a fold.
    if (!this.final) slot.id = 0;
    this.add(id, this.own, delta);
  }

  private nameOf(cluster: string, tenant: string, kind: i32): string {
    if (kind == KIND_REJECTED) return encodeStatName(REJECTED_TAGS, [cluster, tenant], BREAKER_REJECTED_TOTAL);
    if (kind == KIND_RETRIES) return encodeStatName(RETRIES_TAGS, [cluster, tenant], RETRIES_TOTAL);
    if (kind >= KIND_TRANSITION) {
      return encodeStatName(TRANSITION_TAGS, [cluster, tenant, breakerStateName(<BreakerState>(kind - KIND_TRANSITION))],
        BREAKER_TRANSITIONS_TOTAL);
    }
    return encodeStatName(DECISION_TAGS, [cluster, tenant, decisionLabel(<Decision>kind)], RETRY_DECISIONS_TOTAL);
  }

  breakerRejected(cluster: string, tenant: string): void {
    this.count(cluster, tenant, KIND_REJECTED, 1);
  }

  breakerTransition(cluster: string, tenant: string, toState: BreakerState): void {
    const kind = KIND_TRANSITION + <i32>toState;
    this.add(this.resolve(this.nameOf(cluster, tenant, kind), kind), this.own, 1);
  }

  retryDecision(cluster: string, tenant: string, decision: Decision): void {
    this.count(cluster, tenant, <i32>decision, 1);
  }

  retriesAttempted(cluster: string, tenant: string, retries: i32): void {
    this.count(cluster, tenant, KIND_RETRIES, <i64>retries);
  }

  breakerState(scopeKey: string, cluster: string, pathTemplate: string, tenant: string, state: BreakerState): void {
    let id: u32 = 0;
    if (this.stateIds.has(scopeKey)) {
      id = this.stateIds.get(scopeKey);
    } else {
      const path = pathTemplate == "*" ? ALL_PATHS : pathTemplate;
      id = this.series.define(MetricType.Gauge, encodeStatName(STATE_TAGS, [cluster, path, tenant], BREAKER_STATE));
      // Scopes are bounded per VM (MAX_SCOPES), so is this map; an undecided admission is asked again.
      if (id != 0) this.stateIds.set(scopeKey, id);
    }
    if (id == 0 || id == REFUSED_SERIES) {
      this.series.folded(1);
      return;
    }
    recordMetric(id, <u64>state);
  }
}
