// Defines request metrics with the host once per label set and records into them. Warm requests do no string
// building: label sets are found through nested maps keyed by the label strings the stream already holds, and
// the (method, code) variants of a label set by a small integer.
import { incrementMetric, MetricType, recordMetric } from "../abi/host";
import {
  methodAndCodeKey, methodLabel, overflowRequestDurationName, overflowRequestsTotalName, requestDurationName,
  requestsTotalName, responseCodeLabelOf, SeriesBudget,
} from "../policy/request-metrics";
import { ExportedSeries, REFUSED_SERIES } from "./series";

// Metric ids for one (cluster, path, tenant).
class LabelSet {
  durationId: u32 = 0;
  requestIds: Map<i32, u32> = new Map<i32, u32>();

  constructor(public cluster: string, public path: string, public tenant: string) {}
}

// labelSet()'s memo by the identity of the three label strings (the contexts intern them); a hit skips three
// string-keyed map lookups. Slots hold the strings, so their addresses are not reused while they do. A null label
// set (budget spent) is memoized too: the budget never frees.
class LabelSlot {
  cluster: string = "";
  path: string = "";
  tenant: string = "";
  labels: LabelSet | null = null;
  filled: bool = false;
}

const LABEL_SLOTS: i32 = 256; // power of two

// Within the process-wide series budget (ExportedSeries, shared with the resilience metrics); the fold series are
// part of its reserve and defined only once the budget is first spent, so a healthy proxy exports no "~other" series.
export class RequestMetrics {
  private budget: SeriesBudget;
  private byCluster: Map<string, Map<string, Map<string, LabelSet>>> = new Map();
  private overflowRequestsId: u32 = 0;
  private overflowDurationId: u32 = 0;
  private memo: StaticArray<LabelSlot> = new StaticArray<LabelSlot>(LABEL_SLOTS);

  constructor(private series: ExportedSeries, private durationHistogram: bool) {
    this.budget = series.budget;
  }

  get seriesCount(): i32 {
    return this.budget.size;
  }

  private noteOverflow(): void {
    this.series.folded(1);
  }

  private overflowRequests(): u32 {
    this.noteOverflow();
    if (this.overflowRequestsId == 0) {
      this.overflowRequestsId = this.series.defineFold(MetricType.Counter, overflowRequestsTotalName());
    }
    return this.overflowRequestsId;
  }

  private overflowDuration(): u32 {
    this.noteOverflow();
    if (this.overflowDurationId == 0) {
      this.overflowDurationId = this.series.defineFold(MetricType.Histogram, overflowRequestDurationName());
    }
    return this.overflowDurationId;
  }

  // Null (overflow) for a new label set once this VM holds maxSeries of them. Entries are only created while there
  // is room and each new label set immediately counts, so the maps never outgrow maxSeries.
  private labelSet(cluster: string, path: string, tenant: string): LabelSet | null {
    let byPath: Map<string, Map<string, LabelSet>>;
    if (this.byCluster.has(cluster)) {
      byPath = this.byCluster.get(cluster);
    } else {
      if (!this.budget.roomForLabelSet) return null;
      byPath = new Map();
      this.byCluster.set(cluster, byPath);
    }
    let byTenant: Map<string, LabelSet>;
    if (byPath.has(path)) {
      byTenant = byPath.get(path);
    } else {
      if (!this.budget.roomForLabelSet) return null;
      byTenant = new Map();
      byPath.set(path, byTenant);
    }
    if (byTenant.has(tenant)) return byTenant.get(tenant);
    if (!this.budget.roomForLabelSet) return null;
    this.budget.noteLabelSet();
    const created = new LabelSet(cluster, path, tenant);
    byTenant.set(tenant, created);
    return created;
  }

  private requestsId(labels: LabelSet | null, method: i32, responseCode: i32): u32 {
    if (labels === null) return this.overflowRequests();
    const key = methodAndCodeKey(method, responseCode);
    if (labels.requestIds.has(key)) {
      const known = labels.requestIds.get(key);
      return known == REFUSED_SERIES ? this.overflowRequests() : known;
    }
    const name = requestsTotalName(
      labels.cluster, labels.path, methodLabel(method), responseCodeLabelOf(responseCode), labels.tenant);
    const id = this.series.define(MetricType.Counter, name);
    if (id == 0 || id == REFUSED_SERIES) {
      if (id == REFUSED_SERIES && this.budget.mayCacheRefusal()) labels.requestIds.set(key, REFUSED_SERIES);
      return this.overflowRequests();
    }
    labels.requestIds.set(key, id);
    return id;
  }

  private durationId(labels: LabelSet | null): u32 {
    if (labels === null) return this.overflowDuration();
    if (labels.durationId == REFUSED_SERIES) return this.overflowDuration();
    if (labels.durationId != 0) return labels.durationId;
    const name = requestDurationName(labels.cluster, labels.path, labels.tenant);
    const id = this.series.define(MetricType.Histogram, name);
    if (id == 0 || id == REFUSED_SERIES) {
      if (id == REFUSED_SERIES && this.budget.mayCacheRefusal()) labels.durationId = REFUSED_SERIES;
      return this.overflowDuration();
    }
    labels.durationId = id;
    return id;
  }

  // `method` and `responseCode` are the indices from policy/request-metrics (methodIndex, responseCodeIndex).
  private memoizedLabelSet(cluster: string, path: string, tenant: string): LabelSet | null {
    const mixed = (<u32>changetype<usize>(cluster) * 0x9e3779b1) ^ (<u32>changetype<usize>(path) * 0x85ebca6b) ^
      (<u32>changetype<usize>(tenant) * 0xc2b2ae35);
    const index = <i32>((mixed ^ (mixed >> 15)) & <u32>(LABEL_SLOTS - 1));
    let slot = unchecked(this.memo[index]);
    if (slot === null) {
      slot = new LabelSlot();
      unchecked(this.memo[index] = slot);
    }
    if (slot.filled && slot.cluster === cluster && slot.path === path && slot.tenant === tenant) return slot.labels;
    const labels = this.labelSet(cluster, path, tenant);
    slot.cluster = cluster;
    slot.path = path;
    slot.tenant = tenant;
    slot.labels = labels;
    slot.filled = true;
    return labels;
  }

  record(cluster: string, path: string, tenant: string, method: i32, responseCode: i32, durationMs: u64): void {
    const labels = this.memoizedLabelSet(cluster, path, tenant);
    incrementMetric(this.requestsId(labels, method, responseCode), 1);
    if (this.durationHistogram) recordMetric(this.durationId(labels), durationMs);
  }
}
