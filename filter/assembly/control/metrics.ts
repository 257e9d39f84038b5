// Envoy counters for the filter's side of the control plane, process-wide across VMs (Envoy stats are shared), so
// an operator can see from /stats/prometheus whether a proxy is ACKing, NACKing, reconnecting or dropping reports.
import { defineMetric, incrementMetric, MetricType } from "../abi/host";

export const DISCOVERY_ACKS_TOTAL = "meshlens_control_plane_acks_total";
export const DISCOVERY_NACKS_TOTAL = "meshlens_control_plane_nacks_total";
export const DISCOVERY_MALFORMED_TOTAL = "meshlens_control_plane_malformed_responses_total";
export const DISCOVERY_STREAMS_OPENED_TOTAL = "meshlens_control_plane_streams_opened_total";
export const DISCOVERY_STREAM_FAILURES_TOTAL = "meshlens_control_plane_stream_failures_total";
export const REPORTS_SENT_TOTAL = "meshlens_control_plane_reports_sent_total";
export const REPORTS_ACCEPTED_TOTAL = "meshlens_control_plane_reports_accepted_total";
export const REPORTS_FAILED_TOTAL = "meshlens_control_plane_reports_failed_total";
export const REPORT_WINDOWS_DROPPED_TOTAL = "meshlens_control_plane_report_windows_dropped_total";
export const REPORT_ENTRIES_DROPPED_TOTAL = "meshlens_control_plane_report_entries_dropped_total";

// Defines each counter on first use; a counter the host refuses is silently not counted.
export class ControlCounters {
  private ids: Map<string, u32> = new Map<string, u32>();

  add(name: string, delta: i64 = 1): void {
    if (delta == 0) return;
    let id: u32 = 0;
    if (this.ids.has(name)) {
      id = this.ids.get(name);
    } else {
      id = defineMetric(MetricType.Counter, name);
      this.ids.set(name, id);
    }
    if (id != 0) incrementMetric(id, delta);
  }
}
