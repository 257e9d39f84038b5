// Sends meshlens.v1.Telemetry/Report with proxy_grpc_call once per report interval, carrying the window's outcomes
// and the policy snapshot version in force. At most one report is in flight per VM: a window that closes while
// the previous call is still outstanding, or while the control plane is unreachable, is dropped and counted rather
// than queued, so an absent control plane costs neither memory nor a growing backlog of calls.
import { BufferType, getBufferBytes, getStatus, grpcCall, HostStatus, log, LogLevel } from "../abi/host";
import {
  ControlCounters, REPORT_ENTRIES_DROPPED_TOTAL, REPORT_WINDOWS_DROPPED_TOTAL, REPORTS_ACCEPTED_TOTAL, REPORTS_FAILED_TOTAL,
  REPORTS_SENT_TOTAL,
} from "./metrics";
import { decodeTelemetryReportAck, NodeIdentity } from "./protobuf";
import { TelemetryWindow } from "./telemetry-window";
import { Resilience } from "../resilience/resilience";
import { breakerEntries } from "./breaker-report";

export const TELEMETRY_SERVICE = "meshlens.v1.Telemetry";
export const TELEMETRY_METHOD = "Report";

export class TelemetryReporter {
  private inFlight: u32 = 0;
  private lastFailureLogged: bool = false;
  // Outcomes the window's bounded tables refused, already counted.
  private outcomesDroppedCounted: u32 = 0;

  constructor(
    private readonly cluster: string,
    private readonly bearerToken: string,
    private readonly timeoutMs: u32,
    private readonly intervalMs: f64,
    private readonly node: NodeIdentity,
    readonly window: TelemetryWindow,
    private readonly counters: ControlCounters,
  ) {}

  owns(token: u32): bool {
    return token != 0 && token == this.inFlight;
  }

  // `resilience` supplies the breaker states of the report (none without it).
  onTick(nowMs: f64, policyVersion: string, resilience: Resilience | null = null): void {
    if (nowMs - this.window.windowStartMs < this.intervalMs) return;
    const refused = this.window.droppedOutcomes;
    this.counters.add(REPORT_ENTRIES_DROPPED_TOTAL, <i64>(refused - this.outcomesDroppedCounted));
    this.outcomesDroppedCounted = refused;
    if (this.inFlight != 0) {
      this.drop(nowMs);
      return;
    }
    const report = this.window.take(this.node, policyVersion, nowMs);
    if (resilience !== null) report.breakers = breakerEntries(resilience, nowMs);
    const metadata = new Array<string>();
    if (this.bearerToken.length > 0) {
      metadata.push("authorization");
      metadata.push("Bearer " + this.bearerToken);
    }
    const call = grpcCall(this.cluster, TELEMETRY_SERVICE, TELEMETRY_METHOD, metadata, report.encode(), this.timeoutMs);
    if (call.status != HostStatus.Ok) {
      this.counters.add(REPORT_WINDOWS_DROPPED_TOTAL);
      this.counters.add(REPORT_ENTRIES_DROPPED_TOTAL, <i64>(report.connections.length + report.routes.length + report.breakers.length));
      return;
    }
    this.inFlight = call.token;
    this.counters.add(REPORTS_SENT_TOTAL);
  }

  private drop(nowMs: f64): void {
    this.counters.add(REPORT_WINDOWS_DROPPED_TOTAL);
    this.counters.add(REPORT_ENTRIES_DROPPED_TOTAL, <i64>this.window.discard(nowMs));
  }

  onReceive(token: u32, size: u32): void {
    if (!this.owns(token)) return;
    this.inFlight = 0;
    const ack = decodeTelemetryReportAck(Uint8Array.wrap(getBufferBytes(BufferType.GrpcReceiveBuffer, 0, size).data));
    if (ack.error.length > 0) {
      this.counters.add(REPORTS_FAILED_TOTAL);
      log(LogLevel.Warn, "meshlens telemetry: " + ack.error);
      return;
    }
    this.counters.add(REPORTS_ACCEPTED_TOTAL);
    this.lastFailureLogged = false;
  }

  onClose(token: u32, grpcStatus: u32): void {
    if (!this.owns(token)) return;
    this.inFlight = 0;
    this.counters.add(REPORTS_FAILED_TOTAL);
    // One line per outage, not one per interval.
    if (!this.lastFailureLogged) {
      const status = getStatus();
      log(LogLevel.Warn, "meshlens telemetry: report failed with gRPC status " + grpcStatus.toString() +
        (status.message.length > 0 ? " (" + status.message + ")" : "") + "; dropping windows until it recovers");
      this.lastFailureLogged = true;
    }
  }
}
