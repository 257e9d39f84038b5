// Sends meshlens.v1.Telemetry/Report with proxy_grpc_call once per report interval, carrying the window's outcomes
// and the policy snapshot version in force: one report per proxy, sent by the VM that holds the proxy's discovery
// stream, carrying its own window and the windows the other VMs handed over through shared data (proxy-share.ts
// stashReport / collectReports), with every VM's breaker states. At most one report is in flight per proxy: a
// window that closes while the previous call is still outstanding, or while the control plane is unreachable, is
// dropped and counted (the other VMs' windows with it) rather than queued, so an absent control plane costs neither
// memory nor a growing backlog of calls.
import { BufferType, getBufferBytes, getStatus, grpcCall, HostStatus, log, LogLevel } from "../abi/host";
import {
  ControlCounters, REPORT_ENTRIES_DROPPED_TOTAL, REPORT_WINDOWS_DROPPED_TOTAL, REPORTS_ACCEPTED_TOTAL, REPORTS_FAILED_TOTAL,
  REPORTS_SENT_TOTAL,
} from "./metrics";
import { decodeTelemetryReportAck, NodeIdentity } from "./protobuf";
import { TelemetryWindow } from "./telemetry-window";
import { Resilience } from "../resilience/resilience";
import { breakerEntries } from "./breaker-report";
import { MAX_REPORT_BYTES, ProxyShare } from "./proxy-share";

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
    private readonly settleMs: f64 = 0,
  ) {}

  owns(token: u32): bool {
    return token != 0 && token == this.inFlight;
  }

  // `resilience` supplies the breaker states of the report (none without it).
  onTick(nowMs: f64, policyVersion: string, share: ProxyShare, resilience: Resilience | null = null): void {
    // Every VM's windows end at the same wall-clock boundaries (multiples of the interval), so the windows the other
    // VMs hand over are the holder's window's, not up to a whole interval older: the control plane judges a window
    // when its report arrives, and a VM's failures landing one window late would delay the verdicts on them.
    const settle = share.holding ? this.settleMs : 0;
    if (Math.floor((nowMs - settle) / this.intervalMs) <= Math.floor((this.window.windowStartMs - settle) / this.intervalMs)) return;
    const refused = this.window.droppedOutcomes;
    this.counters.add(REPORT_ENTRIES_DROPPED_TOTAL, <i64>(refused - this.outcomesDroppedCounted));
    this.outcomesDroppedCounted = refused;
    if (!share.holding) {
      const report = this.window.take(this.node, policyVersion, nowMs);
      // Each VM reports the scopes it has seen (a scope's state is process-wide, but a VM knows only the scopes its
      // traffic touched); the control plane keeps the newest state per scope (control-plane/src/breaker-states.ts).
      if (resilience !== null) report.breakers = breakerEntries(resilience, nowMs);
      const entries = report.connections.length + report.routes.length + report.breakers.length;
      if (!share.stashReport(report.encode(), entries, <f64>report.windowStartUnixMs)) this.dropped(1, entries);
      return;
    }
    // Taken even when they cannot be sent: a window is sent with the next report or dropped, never kept longer.
    const others = share.collectReports(MAX_REPORT_BYTES / 2);
    if (this.inFlight != 0) {
      this.dropped(others.windows, others.entries);
      this.drop(nowMs);
      return;
    }
    const report = this.window.take(this.node, policyVersion, nowMs);
    if (others.oldestStartMs < <f64>report.windowStartUnixMs) report.windowStartUnixMs = <u64>others.oldestStartMs;
    if (resilience !== null) report.breakers = breakerEntries(resilience, nowMs);
    const own = report.encode();
    const message = new ArrayBuffer(others.bytes.byteLength + own.byteLength);
    memory.copy(changetype<usize>(message), changetype<usize>(others.bytes), <usize>others.bytes.byteLength);
    memory.copy(changetype<usize>(message) + <usize>others.bytes.byteLength, changetype<usize>(own), <usize>own.byteLength);
    const metadata = new Array<string>();
    if (this.bearerToken.length > 0) {
      metadata.push("authorization");
      metadata.push("Bearer " + this.bearerToken);
    }
    const call = grpcCall(this.cluster, TELEMETRY_SERVICE, TELEMETRY_METHOD, metadata, message, this.timeoutMs);
    if (call.status != HostStatus.Ok) {
      this.dropped(others.windows + 1, others.entries + report.connections.length + report.routes.length + report.breakers.length);
      return;
    }
    this.inFlight = call.token;
    this.counters.add(REPORTS_SENT_TOTAL);
  }

  private dropped(windows: i32, entries: i32): void {
    this.counters.add(REPORT_WINDOWS_DROPPED_TOTAL, <i64>windows);
    this.counters.add(REPORT_ENTRIES_DROPPED_TOTAL, <i64>entries);
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
