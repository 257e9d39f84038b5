// The one series budget of a VM, shared by every meshlens metric (request metrics and resilience metrics), and the
// counter of samples that went to a "~other" series (or, for a breaker-state gauge, nowhere) instead of their own.
import { defineMetric, incrementMetric, MetricType } from "../abi/host";
import { Admission, LabelAdmission } from "../policy/label-admission";
import { SeriesBudget, seriesWeight, SERIES_OVERFLOW_TOTAL } from "../policy/request-metrics";

// Stands in for a metric id where the process-wide cap refused the series: Envoy keeps the metric type in an id's
// low two bits and 3 is no type, so no host hands this id out.
export const REFUSED_SERIES: u32 = 0xffffffff;

export class ExportedSeries {
  readonly budget: SeriesBudget;
  private foldedId: u32 = 0;

  constructor(maxSeries: i32, reserved: i32, admission: LabelAdmission) {
    this.budget = new SeriesBudget(maxSeries, admission, reserved);
  }

  // The metric id of `name` when the budget admits it; REFUSED_SERIES when refused for good, 0 when not decided
  // (ask again later).
  define(type: MetricType, name: string): u32 {
    const verdict = this.budget.admit(name, seriesWeight(type == MetricType.Histogram));
    if (verdict == Admission.Admitted) return defineMetric(type, name);
    return verdict == Admission.Refused ? REFUSED_SERIES : 0;
  }

  // A fold series: part of the reserve (reservedSeries), so defined without asking the budget.
  defineFold(type: MetricType, name: string): u32 {
    return defineMetric(type, name);
  }

  // `samples` recorded into a fold series (or dropped) instead of their own.
  folded(samples: i64): void {
    if (this.foldedId == 0) this.foldedId = defineMetric(MetricType.Counter, SERIES_OVERFLOW_TOTAL);
    incrementMetric(this.foldedId, samples);
  }
}
