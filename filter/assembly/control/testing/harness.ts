// Test entry (never shipped): exposes the control-plane codec, snapshot validation, the telemetry window, the
// reconnect backoff and the one-stream lease records and decisions to uvu tests through `asc --bindings esm` (built by test/filter-control/load-harness.ts into
// filter/build/test/). Pure code only: no proxy-wasm imports are reachable from here.
import { JsonKind, JsonValue, parseJson } from "../../json";
import { JitteredBackoff, Prng } from "../backoff";
import {
  encodeBreakerEntry, ConnectionEntry, ConnectionRouteShare, decodeDiscoveryResponse, decodeTelemetryReportAck, DURATION_BUCKET_COUNT,
  encodeDiscoveryRequest, NodeIdentity, OutcomeCounters, RouteEntry, TelemetryReportMessage,
} from "../protobuf";
import { ackVerdict, LeaseRecord, leaseMsFor, SlotRecord, VERDICT_APPLIED, VERDICT_REJECTED } from "../lease";
import { validateSnapshot } from "../snapshot";
import { RequestOutcome, TelemetryWindow } from "../telemetry-window";

function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

function num(v: f64): string {
  if (!isFinite(v)) return isNaN(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  if (Math.floor(v) == v && Math.abs(v) < 9007199254740992) return (<i64>v).toString();
  return v.toString();
}

function dump(v: JsonValue): string {
  if (v.kind == JsonKind.Null) return "null";
  if (v.kind == JsonKind.Bool) return v.bool ? "true" : "false";
  if (v.kind == JsonKind.Number) return num(v.num);
  if (v.kind == JsonKind.String) return quote(v.str);
  if (v.kind == JsonKind.Array) {
    const parts = new Array<string>();
    for (let i = 0; i < v.items.length; i++) parts.push(dump(v.items[i]));
    return "[" + parts.join(",") + "]";
  }
  const parts = new Array<string>();
  for (let i = 0; i < v.keys.length; i++) parts.push(quote(v.keys[i]) + ":" + dump(v.values[i]));
  return "{" + parts.join(",") + "}";
}

export function encodeRequest(
  versionInfo: string, hasNode: bool, nodeId: string, nodeCluster: string, worker: string, nonce: string,
  hasError: bool, code: i32, message: string,
): Uint8Array {
  const node = hasNode ? new NodeIdentity(nodeId, nodeCluster, worker) : null;
  return Uint8Array.wrap(encodeDiscoveryRequest(versionInfo, node, nonce, code, hasError ? message : null));
}

export function decodeResponse(bytes: Uint8Array): string {
  const r = decodeDiscoveryResponse(bytes);
  const resources = new Array<string>();
  for (let i = 0; i < r.resources.length; i++) {
    const res = r.resources[i];
    resources.push("{\"id\":" + quote(res.id) + ",\"version\":\"" + res.version.toString() + "\",\"policy\":" + dump(res.policy) + "}");
  }
  return "{\"error\":" + quote(r.error) + ",\"versionInfo\":" + quote(r.versionInfo) + ",\"nonce\":" + quote(r.nonce) +
    ",\"resources\":[" + resources.join(",") + "]}";
}

// {"error": "...", "version": "...", "suspects": [...] | null} — the network-suspect set a response carries.
export function decodeSuspects(bytes: Uint8Array): string {
  const r = decodeDiscoveryResponse(bytes);
  const suspects = r.suspects;
  let list = "null";
  if (suspects !== null) {
    const quoted = new Array<string>();
    for (let i = 0; i < suspects.length; i++) quoted.push(quote(suspects[i]));
    list = "[" + quoted.join(",") + "]";
  }
  return "{\"error\":" + quote(r.error) + ",\"version\":" + quote(r.suspectsVersion) + ",\"suspects\":" + list + "}";
}

// {"error": "...", "ids": [...]} — what the discovery client would NACK with, or accept.
export function validateResponse(bytes: Uint8Array): string {
  const s = validateSnapshot(decodeDiscoveryResponse(bytes));
  const ids = new Array<string>();
  for (let i = 0; i < s.ids.length; i++) ids.push(quote(s.ids[i]));
  return "{\"error\":" + quote(s.error) + ",\"version\":" + quote(s.version) + ",\"ids\":[" + ids.join(",") + "]}";
}

export function decodeAck(bytes: Uint8Array): string {
  const ack = decodeTelemetryReportAck(bytes);
  return "{\"error\":" + quote(ack.error) + ",\"acceptedEntries\":" + ack.acceptedEntries.toString() + "}";
}

// ---- report from a JSON description shaped like the protobufjs object ----------------------------------------------

function field(obj: JsonValue, key: string): JsonValue | null {
  return obj.get(key);
}

function text(obj: JsonValue, key: string): string {
  const v = field(obj, key);
  return v === null ? "" : v.str;
}

function u64Of(obj: JsonValue, key: string): u64 {
  const v = field(obj, key);
  if (v === null) return 0;
  if (v.kind == JsonKind.String) return U64.parseInt(v.str);
  return <u64>v.num;
}

function countersFrom(obj: JsonValue | null): OutcomeCounters {
  const c = new OutcomeCounters();
  if (obj === null) return c;
  c.requests = <u32>u64Of(obj, "requests");
  c.errors = <u32>u64Of(obj, "errors");
  c.slowCalls = <u32>u64Of(obj, "slowCalls");
  c.durationMsSum = u64Of(obj, "durationMsSum");
  const buckets = field(obj, "durationBuckets");
  if (buckets !== null) {
    for (let i = 0; i < buckets.items.length && i < DURATION_BUCKET_COUNT; i++) c.durationBuckets[i] = <u32>buckets.items[i].num;
  }
  c.retries = <u32>u64Of(obj, "retries");
  c.breakerRejections = <u32>u64Of(obj, "breakerRejections");
  return c;
}

export function encodeReport(description: string): Uint8Array {
  const parsed = parseJson(description);
  const root = parsed.value;
  if (root === null) return new Uint8Array(0);
  const report = new TelemetryReportMessage();
  const node = field(root, "node");
  if (node !== null) report.node = new NodeIdentity(text(node, "id"), text(node, "cluster"), text(node, "worker"));
  report.policyVersion = text(root, "policyVersion");
  report.windowStartUnixMs = u64Of(root, "windowStartUnixMs");
  report.windowEndUnixMs = u64Of(root, "windowEndUnixMs");
  const connections = field(root, "connections");
  if (connections !== null) {
    for (let i = 0; i < connections.items.length; i++) {
      const c = connections.items[i];
      const entry = new ConnectionEntry(text(c, "localAddress"), text(c, "remoteAddress"), text(c, "cluster"));
      entry.counters = countersFrom(field(c, "counters"));
      const shares = field(c, "routes");
      if (shares !== null) {
        for (let j = 0; j < shares.items.length; j++) {
          const s = shares.items[j];
          const share = new ConnectionRouteShare(text(s, "pathTemplate"), text(s, "tenant"));
          share.requests = <u32>u64Of(s, "requests");
          share.errors = <u32>u64Of(s, "errors");
          entry.routes.push(share);
        }
      }
      report.connections.push(entry);
    }
  }
  const routes = field(root, "routes");
  if (routes !== null) {
    for (let i = 0; i < routes.items.length; i++) {
      const r = routes.items[i];
      const entry = new RouteEntry(text(r, "cluster"), text(r, "pathTemplate"), text(r, "tenant"));
      entry.counters = countersFrom(field(r, "counters"));
      report.routes.push(entry);
    }
  }
  const breakers = field(root, "breakers");
  if (breakers !== null) {
    for (let i = 0; i < breakers.items.length; i++) {
      const b = breakers.items[i];
      report.breakers.push(encodeBreakerEntry(text(b, "cluster"), text(b, "tenant"), <i32>u64Of(b, "state"),
        <u32>u64Of(b, "transitions"), text(b, "policyId"), text(b, "pathTemplate"), u64Of(b, "sinceUnixMs"),
        u64Of(b, "openUntilUnixMs"), <i32>u64Of(b, "openCause"), <u32>u64Of(b, "tripRequests"), <u32>u64Of(b, "tripFailures"),
        <u32>u64Of(b, "tripSlowCalls")));
    }
  }
  return Uint8Array.wrap(report.encode());
}

// ---- telemetry window -----------------------------------------------------------------------------------------------

let window: TelemetryWindow = new TelemetryWindow(0);

export function windowNew(nowMs: f64, maxConnections: i32, maxRoutes: i32): void {
  window = new TelemetryWindow(nowMs, maxConnections, maxRoutes);
}

export function windowRecord(
  cluster: string, pathTemplate: string, tenant: string, localAddress: string, remoteAddress: string,
  responseCode: i32, grpcStatus: i32, responseFlags: u64, durationMs: f64, attempts: i32, slowCallMs: f64,
): void {
  const o = new RequestOutcome();
  o.cluster = cluster;
  o.pathTemplate = pathTemplate;
  o.tenant = tenant;
  o.localAddress = localAddress;
  o.remoteAddress = remoteAddress;
  o.responseCode = responseCode;
  o.grpcStatus = grpcStatus;
  o.responseFlags = responseFlags;
  // A status here stands for a response the upstream sent; who answered is tested in the breaker's classify table.
  o.fromUpstream = responseCode > 0;
  o.durationMs = durationMs;
  o.attempts = attempts;
  o.slowCallMs = slowCallMs;
  window.record(o);
}

export function windowReject(cluster: string, pathTemplate: string, tenant: string): void {
  window.recordRejection(cluster, pathTemplate, tenant);
}

export function windowTake(nodeId: string, version: string, nowMs: f64): Uint8Array {
  return Uint8Array.wrap(window.take(new NodeIdentity(nodeId, "", "vm_0"), version, nowMs).encode());
}

export function windowDropped(): u32 {
  return window.droppedOutcomes;
}

export function windowEntries(): i32 {
  return window.entryCount;
}

// ---- backoff ---------------------------------------------------------------------------------------------------------

export function backoffDelays(seed: u64, count: i32): Float64Array {
  const backoff = new JitteredBackoff(new Prng(seed));
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = backoff.nextDelayMs();
  return out;
}

// ---- one stream per proxy: lease and slot records, the ACK verdict ---------------------------------------------------

export function leaseMs(tickMs: i32): f64 {
  return leaseMsFor(tickMs);
}

// Encodes and decodes a lease; returns [owner, queue, expiresMs, lapsed at nowMs ? 1 : 0].
export function leaseRoundTrip(owner: u32, queue: u32, expiresMs: f64, nowMs: f64): Float64Array {
  const lease = new LeaseRecord();
  lease.owner = owner;
  lease.queue = queue;
  lease.expiresMs = expiresMs;
  const back = LeaseRecord.decode(lease.encode());
  const out = new Float64Array(4);
  out[0] = <f64>back.owner;
  out[1] = <f64>back.queue;
  out[2] = back.expiresMs;
  out[3] = back.lapsed(nowMs) ? 1 : 0;
  return out;
}

// "applied", "waiting" or "rejected:<reason>" for snapshot `seq`, over slots given column by column (each slot
// encoded and decoded on the way, as shared data carries it).
export function verdictOf(
  owners: Uint32Array, heartbeats: Float64Array, applied: Uint32Array, rejected: Uint32Array, reasons: string,
  seq: u32, nowMs: f64, leaseMs: f64,
): string {
  const why = reasons.split("|");
  const slots = new Array<SlotRecord>();
  for (let i = 0; i < owners.length; i++) {
    const slot = new SlotRecord();
    slot.owner = owners[i];
    slot.heartbeatMs = heartbeats[i];
    slot.applied = applied[i];
    slot.rejected = rejected[i];
    slot.reason = i < why.length ? why[i] : "";
    slots.push(SlotRecord.decode(slot.encode()));
  }
  const verdict = ackVerdict(slots, seq, nowMs, leaseMs);
  if (verdict.state == VERDICT_APPLIED) return "applied";
  if (verdict.state == VERDICT_REJECTED) return "rejected:" + verdict.reason;
  return "waiting";
}
