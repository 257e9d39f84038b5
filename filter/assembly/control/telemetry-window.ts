// Outcomes of one report window, keyed by upstream connection (upstream.local_address, upstream.address, cluster)
// and by (cluster, path template, tenant) — telemetry.proto's ConnectionEntry and RouteEntry. Bounded: a key that
// finds its table full is not added and the outcome is counted in droppedOutcomes, so a burst of new connections
// cannot grow the VM's memory; route keys are already bounded labels (path templates, tenants), so their table
// only fills when the label caps are set above it. Pure: time is passed in.
import { classifyOutcome, Outcome } from "../policy/circuit-breaker";
import {
  ConnectionEntry, durationBucketIndex, NodeIdentity, OutcomeCounters, RouteEntry, TelemetryReportMessage,
} from "./protobuf";

export const DEFAULT_MAX_CONNECTIONS: i32 = 1024;
export const DEFAULT_MAX_ROUTES: i32 = 1024;

// One completed request as on_log sees it.
export class RequestOutcome {
  cluster: string = "";
  pathTemplate: string = "";
  tenant: string = "";
  // "" when the request never reached an upstream connection.
  localAddress: string = "";
  remoteAddress: string = "";
  responseCode: i32 = 0;
  // -1 when the response carried none.
  grpcStatus: i32 = -1;
  // Envoy's response.flags bitmask.
  responseFlags: u64 = 0;
  // The upstream sent the response (response.code_details "via_upstream").
  fromUpstream: bool = false;
  durationMs: f64 = 0;
  // upstream.request_attempt_count; 0 when unknown.
  attempts: i32 = 0;
  // The governing policy's breaker.slowCallMs.
  slowCallMs: f64 = 800;
  // Failed or slow on a network-suspect endpoint, so not counted by its network-aware breaker.
  networkSuspect: bool = false;
}

function isFailure(outcome: RequestOutcome): bool {
  // The breaker's own failure classification, so reports and breakers count the same errors.
  return classifyOutcome(outcome.responseCode, outcome.grpcStatus, outcome.responseFlags, outcome.fromUpstream) == Outcome.Failure;
}

function addOutcome(counters: OutcomeCounters, outcome: RequestOutcome): void {
  counters.requests++;
  if (isFailure(outcome)) counters.errors++;
  if (outcome.durationMs >= outcome.slowCallMs) counters.slowCalls++;
  const duration = outcome.durationMs > 0 ? outcome.durationMs : 0;
  counters.durationMsSum += <u64>duration;
  counters.durationBuckets[durationBucketIndex(duration)]++;
  if (outcome.attempts > 1) counters.retries += <u32>(outcome.attempts - 1);
  if (outcome.networkSuspect) counters.networkSuspectFailures++;
}

export class TelemetryWindow {
  windowStartMs: f64;
  private connections: Map<string, ConnectionEntry> = new Map<string, ConnectionEntry>();
  private connectionList: Array<ConnectionEntry> = new Array<ConnectionEntry>();
  private routes: Map<string, RouteEntry> = new Map<string, RouteEntry>();
  private routeList: Array<RouteEntry> = new Array<RouteEntry>();
  // Outcomes (or rejections) not recorded under some key because its table was full, since the VM started.
  droppedOutcomes: u32 = 0;

  constructor(nowMs: f64, public readonly maxConnections: i32 = DEFAULT_MAX_CONNECTIONS,
    public readonly maxRoutes: i32 = DEFAULT_MAX_ROUTES) {
    this.windowStartMs = nowMs;
  }

  get entryCount(): i32 {
    return this.connectionList.length + this.routeList.length;
  }

  private route(cluster: string, pathTemplate: string, tenant: string): RouteEntry | null {
    const key = cluster + "\n" + pathTemplate + "\n" + tenant;
    if (this.routes.has(key)) return this.routes.get(key);
    if (this.routeList.length >= this.maxRoutes) {
      this.droppedOutcomes++;
      return null;
    }
    const entry = new RouteEntry(cluster, pathTemplate, tenant);
    this.routes.set(key, entry);
    this.routeList.push(entry);
    return entry;
  }

  private connection(localAddress: string, remoteAddress: string, cluster: string): ConnectionEntry | null {
    const key = localAddress + "\n" + remoteAddress + "\n" + cluster;
    if (this.connections.has(key)) return this.connections.get(key);
    if (this.connectionList.length >= this.maxConnections) {
      this.droppedOutcomes++;
      return null;
    }
    const entry = new ConnectionEntry(localAddress, remoteAddress, cluster);
    this.connections.set(key, entry);
    this.connectionList.push(entry);
    return entry;
  }

  record(outcome: RequestOutcome): void {
    const route = this.route(outcome.cluster, outcome.pathTemplate, outcome.tenant);
    if (route !== null) addOutcome(route.counters, outcome);
    if (outcome.localAddress.length == 0 || outcome.remoteAddress.length == 0) return;
    const connection = this.connection(outcome.localAddress, outcome.remoteAddress, outcome.cluster);
    if (connection === null) return;
    addOutcome(connection.counters, outcome);
    // Which routes and tenants used the connection, so its kernel retransmits can be split between them.
    const share = connection.route(outcome.pathTemplate, outcome.tenant);
    share.requests++;
    if (isFailure(outcome)) share.errors++;
  }

  // A request the breaker rejected locally never had an upstream connection.
  recordRejection(cluster: string, pathTemplate: string, tenant: string): void {
    const route = this.route(cluster, pathTemplate, tenant);
    if (route !== null) route.counters.breakerRejections++;
  }

  // Closes the window at nowMs into a report and starts the next one.
  take(node: NodeIdentity, policyVersion: string, nowMs: f64): TelemetryReportMessage {
    const report = new TelemetryReportMessage();
    report.node = node;
    report.policyVersion = policyVersion;
    report.windowStartUnixMs = <u64>this.windowStartMs;
    report.windowEndUnixMs = <u64>nowMs;
    report.connections = this.connectionList;
    report.routes = this.routeList;
    this.reset(nowMs);
    return report;
  }

  // Throws the window away (the control plane is away or still busy with the previous report).
  discard(nowMs: f64): i32 {
    const entries = this.entryCount;
    this.reset(nowMs);
    return entries;
  }

  private reset(nowMs: f64): void {
    this.windowStartMs = nowMs;
    this.connections = new Map<string, ConnectionEntry>();
    this.connectionList = new Array<ConnectionEntry>();
    this.routes = new Map<string, RouteEntry>();
    this.routeList = new Array<RouteEntry>();
  }
}
