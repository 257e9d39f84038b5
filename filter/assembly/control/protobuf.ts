// A small protobuf wire codec for the filter's side of the control plane (protos/meshlens/v1/discovery.proto,
// policy.proto, telemetry.proto). Encoders write canonical proto3: fields in number order, implicit-presence
// scalars omitted when zero, repeated scalars packed. Decoders are bounded and never trap: truncated data,
// overlong varints, wrong wire types on known fields and lengths past the end yield an error string; unknown fields
// of every wire type are skipped. A decoded Policy becomes a JsonValue with the JSON model's camelCase keys, so the
// resilience policy parser validates pushed policies with exactly the rules it applies to the plugin config.
import { JsonKind, JsonValue } from "../json";

export const enum WireType { Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

// Far above any real snapshot; bounds the work a hostile or corrupted message can cause.
export const MAX_RESOURCES: i32 = 4096;
export const MAX_STATUS_CODES: i32 = 1024;
// discovery.proto NetworkSuspects: the control plane pushes at most this many addresses.
export const MAX_SUSPECTS: i32 = 1024;
// Groups are long deprecated and never used by these protos; nesting deeper than this is malformed.
const MAX_GROUP_DEPTH: i32 = 16;

// ---- writer ------------------------------------------------------------------------------------------------------

export class ProtoWriter {
  private data: Uint8Array = new Uint8Array(64);
  private length: i32 = 0;

  get size(): i32 {
    return this.length;
  }

  private reserve(extra: i32): void {
    const needed = this.length + extra;
    if (needed <= this.data.length) return;
    let capacity = this.data.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  rawVarint(value: u64): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.data[this.length++] = <u8>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    this.data[this.length++] = <u8>v;
  }

  private tag(field: i32, wire: WireType): void {
    this.rawVarint(<u64>((field << 3) | <i32>wire));
  }

  private rawBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.data.set(bytes, this.length);
    this.length += bytes.length;
  }

  // Implicit-presence scalars: the zero value is not encoded.
  uint64(field: i32, value: u64): void {
    if (value == 0) return;
    this.tag(field, WireType.Varint);
    this.rawVarint(value);
  }

  uint32(field: i32, value: u32): void {
    this.uint64(field, <u64>value);
  }

  // Negative int32 values are sign-extended to ten bytes, as every protobuf encoder does.
  int32(field: i32, value: i32): void {
    this.uint64(field, <u64><i64>value);
  }

  enumValue(field: i32, value: i32): void {
    this.int32(field, value);
  }

  string(field: i32, value: string): void {
    if (value.length == 0) return;
    this.bytes(field, Uint8Array.wrap(String.UTF8.encode(value)));
  }

  bytes(field: i32, value: Uint8Array): void {
    this.tag(field, WireType.LengthDelimited);
    this.rawVarint(<u64>value.length);
    this.rawBytes(value);
  }

  // Sub-messages are written even when empty: presence of a message field is meaningful.
  message(field: i32, inner: ProtoWriter): void {
    this.bytes(field, inner.finish());
  }

  packedUint32(field: i32, values: Array<u32>): void {
    if (values.length == 0) return;
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.rawVarint(<u64>values[i]);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.data.slice(0, this.length);
  }

  finishBuffer(): ArrayBuffer {
    return this.finish().buffer;
  }
}

// ---- reader ------------------------------------------------------------------------------------------------------

// Reads one message's fields from bytes[start, end). After any failure `error` is set and every read returns zero,
// so callers check once per field.
export class ProtoReader {
  pos: i32;
  error: string = "";
  // The current field, set by next().
  field: i32 = 0;
  wire: i32 = 0;

  constructor(public readonly bytes: Uint8Array, start: i32, public readonly end: i32) {
    this.pos = start;
  }

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(rule: string): void {
    if (!this.failed) this.error = rule;
  }

  // Advances to the next field; false at the end of the message or after an error.
  next(): bool {
    if (this.failed || this.pos >= this.end) return false;
    const key = this.varint();
    if (this.failed) return false;
    const field = key >> 3;
    if (field == 0 || field > 536870911) {
      this.fail("be well-formed protobuf (field number " + field.toString() + " at byte " + this.pos.toString() + ")");
      return false;
    }
    this.field = <i32>field;
    this.wire = <i32>(key & 7);
    return true;
  }

  varint(): u64 {
    let result: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) {
        this.fail("be well-formed protobuf (truncated varint at byte " + this.pos.toString() + ")");
        return 0;
      }
      const b = <u64>this.bytes[this.pos++];
      if (shift == 63 && b > 1) break;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    this.fail("be well-formed protobuf (varint longer than 64 bits at byte " + this.pos.toString() + ")");
    return 0;
  }

  fixed64(): u64 {
    if (this.end - this.pos < 8) {
      this.fail("be well-formed protobuf (truncated fixed64 at byte " + this.pos.toString() + ")");
      this.pos = this.end;
      return 0;
    }
    let v: u64 = 0;
    for (let i = 7; i >= 0; i--) v = (v << 8) | <u64>this.bytes[this.pos + i];
    this.pos += 8;
    return v;
  }

  private fixed32(): u32 {
    if (this.end - this.pos < 4) {
      this.fail("be well-formed protobuf (truncated fixed32 at byte " + this.pos.toString() + ")");
      this.pos = this.end;
      return 0;
    }
    let v: u32 = 0;
    for (let i = 3; i >= 0; i--) v = (v << 8) | <u32>this.bytes[this.pos + i];
    this.pos += 4;
    return v;
  }

  // Returns the start of a length-delimited payload and moves past it; its end is `pos` afterwards.
  delimited(): i32 {
    const length = this.varint();
    if (this.failed) return this.pos;
    if (length > <u64>(this.end - this.pos)) {
      this.fail("be well-formed protobuf (length " + length.toString() + " past the end at byte " + this.pos.toString() + ")");
      this.pos = this.end;
      return this.pos;
    }
    const start = this.pos;
    this.pos += <i32>length;
    return start;
  }

  string(): string {
    const start = this.delimited();
    if (this.failed) return "";
    return String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>start, <usize>(this.pos - start));
  }

  double(): f64 {
    return reinterpret<f64>(this.fixed64());
  }

  // A field of the schema arrived with another wire type: the sender does not speak this schema.
  expect(wire: WireType, fieldName: string, kind: string): bool {
    if (this.wire == <i32>wire) return true;
    this.fail(fieldName + " must be " + kind + " (wire type " + this.wire.toString() + ")");
    return false;
  }

  skip(): void {
    this.skipWire(this.wire, 0);
  }

  private skipWire(wire: i32, depth: i32): void {
    if (wire == <i32>WireType.Varint) this.varint();
    else if (wire == <i32>WireType.Fixed64) this.fixed64();
    else if (wire == <i32>WireType.LengthDelimited) this.delimited();
    else if (wire == <i32>WireType.Fixed32) this.fixed32();
    else if (wire == <i32>WireType.StartGroup) {
      if (depth >= MAX_GROUP_DEPTH) {
        this.fail("be well-formed protobuf (groups nested too deeply)");
        return;
      }
      const group = this.field;
      while (!this.failed) {
        if (!this.next()) {
          this.fail("be well-formed protobuf (unterminated group " + group.toString() + ")");
          return;
        }
        if (this.wire == <i32>WireType.EndGroup) {
          if (this.field != group) this.fail("be well-formed protobuf (mismatched end of group " + group.toString() + ")");
          return;
        }
        this.skipWire(this.wire, depth + 1);
      }
    } else {
      this.fail("be well-formed protobuf (wire type " + wire.toString() + " at byte " + this.pos.toString() + ")");
    }
  }
}

// ---- DiscoveryRequest (encode) ------------------------------------------------------------------------------------

export class NodeIdentity {
  constructor(public id: string, public cluster: string, public worker: string) {}
}

export const GRPC_INVALID_ARGUMENT: i32 = 3;

function writeNode(node: NodeIdentity): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, node.id);
  w.string(2, node.cluster);
  w.string(3, node.worker);
  return w;
}

// node is sent on a stream's first request only; errorMessage non-null makes the request a NACK.
export function encodeDiscoveryRequest(
  versionInfo: string, node: NodeIdentity | null, responseNonce: string, errorCode: i32, errorMessage: string | null,
  suspectsVersion: string = "",
): ArrayBuffer {
  const w = new ProtoWriter();
  w.string(1, versionInfo);
  if (node !== null) w.message(2, writeNode(node));
  w.string(3, responseNonce);
  if (errorMessage !== null) {
    const detail = new ProtoWriter();
    detail.int32(1, errorCode);
    detail.string(2, errorMessage);
    w.message(4, detail);
  }
  w.string(5, suspectsVersion);
  return w.finishBuffer();
}

// ---- DiscoveryResponse (decode) -----------------------------------------------------------------------------------

export class PolicyResourceMessage {
  id: string = "";
  version: u64 = 0;
  // The policy as the JSON model (camelCase); an empty object when the resource carried none.
  policy: JsonValue = new JsonValue(JsonKind.Object);
}

export class DiscoveryResponseMessage {
  versionInfo: string = "";
  nonce: string = "";
  resources: Array<PolicyResourceMessage> = new Array<PolicyResourceMessage>();
  // network_suspects: `suspects` is null when the response carries none (the VM keeps the set it has).
  suspectsVersion: string = "";
  suspects: Array<string> | null = null;
  // "invalid discovery response: <field> must <rule>" when the bytes are not a DiscoveryResponse.
  error: string = "";
}

const RESPONSE_ERROR_PREFIX = "invalid discovery response: ";

function jsonNumber(value: f64): JsonValue {
  const v = new JsonValue(JsonKind.Number);
  v.num = value;
  return v;
}

function jsonBool(value: bool): JsonValue {
  const v = new JsonValue(JsonKind.Bool);
  v.bool = value;
  return v;
}

function jsonString(value: string): JsonValue {
  const v = new JsonValue(JsonKind.String);
  v.str = value;
  return v;
}

function setKey(obj: JsonValue, key: string, value: JsonValue): void {
  for (let i = 0; i < obj.keys.length; i++) {
    if (obj.keys[i] == key) {
      obj.values[i] = value;
      return;
    }
  }
  obj.keys.push(key);
  obj.values.push(value);
}

// A repeated occurrence of a message field merges into the first, as protobuf specifies.
function childObject(obj: JsonValue, key: string): JsonValue {
  const existing = obj.get(key);
  if (existing !== null && existing.kind == JsonKind.Object) return existing;
  const created = new JsonValue(JsonKind.Object);
  setKey(obj, key, created);
  return created;
}

// Field kinds of the policy messages.
const K_BOOL: i32 = 0;
const K_UINT32: i32 = 1;
const K_DOUBLE: i32 = 2;
const K_STRING: i32 = 3;

function readScalar(r: ProtoReader, kind: i32, field: string, out: JsonValue, key: string): void {
  if (kind == K_DOUBLE) {
    if (r.expect(WireType.Fixed64, field, "a double")) setKey(out, key, jsonNumber(r.double()));
  } else if (kind == K_STRING) {
    if (r.expect(WireType.LengthDelimited, field, "a string")) setKey(out, key, jsonString(r.string()));
  } else if (r.expect(WireType.Varint, field, kind == K_BOOL ? "a bool" : "a uint32")) {
    const raw = r.varint();
    // uint32 keeps the low 32 bits of the varint, like every protobuf decoder.
    setKey(out, key, kind == K_BOOL ? jsonBool(raw != 0) : jsonNumber(<f64><u32>raw));
  }
}

const TARGET_FIELDS: StaticArray<string> = ["cluster", "pathTemplate", "perTenant"];
const TARGET_KINDS: StaticArray<i32> = [K_STRING, K_STRING, K_BOOL];
const BREAKER_FIELDS: StaticArray<string> = [
  "enabled", "errorRateThreshold", "slowCallMs", "slowCallRateThreshold", "minRequests", "windowMs", "openMs",
  "maxOpenMs", "halfOpenProbes", "halfOpenSuccesses", "networkAware",
];
const BREAKER_KINDS: StaticArray<i32> = [
  K_BOOL, K_DOUBLE, K_UINT32, K_DOUBLE, K_UINT32, K_UINT32, K_UINT32, K_UINT32, K_UINT32, K_UINT32, K_BOOL,
];
// RetryPolicy fields 1..6; 7 (on) and 8 (retriable_status_codes) are handled separately.
const RETRY_FIELDS: StaticArray<string> = [
  "enabled", "idempotentOnly", "perTryTimeoutMs", "budgetRatio", "minRetriesPerSecond", "backoffMaxMs",
];
const RETRY_KINDS: StaticArray<i32> = [K_BOOL, K_BOOL, K_UINT32, K_DOUBLE, K_UINT32, K_UINT32];
const RULE_FIELDS: StaticArray<string> = ["maxRetries", "backoffBaseMs"];
const RULE_KINDS: StaticArray<i32> = [K_UINT32, K_UINT32];

// Decodes a message whose fields 1..names.length are all scalars.
function readFlat(
  r: ProtoReader, start: i32, end: i32, path: string, names: StaticArray<string>, kinds: StaticArray<i32>, out: JsonValue,
): void {
  const inner = new ProtoReader(r.bytes, start, end);
  while (inner.next()) {
    const index = inner.field - 1;
    if (index >= 0 && index < names.length) readScalar(inner, kinds[index], path + "." + names[index], out, names[index]);
    else inner.skip();
  }
  if (inner.failed) r.fail(inner.error);
}

function readRetryRuleEntry(r: ProtoReader, start: i32, end: i32, path: string, on: JsonValue): void {
  const entry = new ProtoReader(r.bytes, start, end);
  let key = "";
  let value: JsonValue | null = null;
  while (entry.next()) {
    if (entry.field == 1) {
      if (entry.expect(WireType.LengthDelimited, path + ".key", "a string")) key = entry.string();
    } else if (entry.field == 2) {
      if (!entry.expect(WireType.LengthDelimited, path + "." + (key.length > 0 ? key : "value"), "a RetryRule")) break;
      const ruleStart = entry.delimited();
      if (entry.failed) break;
      if (value === null) value = new JsonValue(JsonKind.Object);
      readFlat(entry, ruleStart, entry.pos, path + "." + (key.length > 0 ? key : "value"), RULE_FIELDS, RULE_KINDS, value);
    } else {
      entry.skip();
    }
  }
  if (entry.failed) {
    r.fail(entry.error);
    return;
  }
  // A map entry without a value maps the key to the value type's defaults, an empty message.
  setKey(on, key, value === null ? new JsonValue(JsonKind.Object) : value);
}

function appendStatusCode(r: ProtoReader, codes: JsonValue, path: string, value: u64): void {
  if (codes.items.length >= MAX_STATUS_CODES) {
    r.fail(path + " must have at most " + MAX_STATUS_CODES.toString() + " entries");
    return;
  }
  codes.items.push(jsonNumber(<f64><u32>value));
}

function readRetry(r: ProtoReader, start: i32, end: i32, path: string, out: JsonValue): void {
  const inner = new ProtoReader(r.bytes, start, end);
  while (inner.next()) {
    const field = inner.field;
    if (field >= 1 && field <= 6) {
      readScalar(inner, RETRY_KINDS[field - 1], path + "." + RETRY_FIELDS[field - 1], out, RETRY_FIELDS[field - 1]);
    } else if (field == 7) {
      if (!inner.expect(WireType.LengthDelimited, path + ".on", "a map entry")) break;
      const entryStart = inner.delimited();
      if (inner.failed) break;
      readRetryRuleEntry(inner, entryStart, inner.pos, path + ".on", childObject(out, "on"));
    } else if (field == 8) {
      const codesPath = path + ".retriableStatusCodes";
      const existing = out.get("retriableStatusCodes");
      let codes: JsonValue;
      if (existing !== null) codes = existing;
      else {
        codes = new JsonValue(JsonKind.Array);
        setKey(out, "retriableStatusCodes", codes);
      }
      // Packed (the proto3 default) and unpacked encodings are both valid for a repeated scalar.
      if (inner.wire == <i32>WireType.LengthDelimited) {
        const packedStart = inner.delimited();
        if (inner.failed) break;
        const packed = new ProtoReader(inner.bytes, packedStart, inner.pos);
        while (!packed.failed && packed.pos < packed.end) {
          const value = packed.varint();
          if (!packed.failed) appendStatusCode(packed, codes, codesPath, value);
        }
        if (packed.failed) inner.fail(packed.error);
      } else if (inner.expect(WireType.Varint, codesPath, "a uint32")) {
        appendStatusCode(inner, codes, codesPath, inner.varint());
      }
    } else {
      inner.skip();
    }
  }
  if (inner.failed) r.fail(inner.error);
}

function readPolicy(r: ProtoReader, start: i32, end: i32, path: string, out: JsonValue): void {
  const inner = new ProtoReader(r.bytes, start, end);
  while (inner.next()) {
    const field = inner.field;
    if (field < 1 || field > 3) {
      inner.skip();
      continue;
    }
    const name = field == 1 ? "target" : field == 2 ? "breaker" : "retry";
    if (!inner.expect(WireType.LengthDelimited, path + "." + name, "a message")) break;
    const childStart = inner.delimited();
    if (inner.failed) break;
    const child = childObject(out, name);
    if (field == 1) readFlat(inner, childStart, inner.pos, path + ".target", TARGET_FIELDS, TARGET_KINDS, child);
    else if (field == 2) readFlat(inner, childStart, inner.pos, path + ".breaker", BREAKER_FIELDS, BREAKER_KINDS, child);
    else readRetry(inner, childStart, inner.pos, path + ".retry", child);
  }
  if (inner.failed) r.fail(inner.error);
}

function readResource(r: ProtoReader, start: i32, end: i32, path: string, out: PolicyResourceMessage): void {
  const inner = new ProtoReader(r.bytes, start, end);
  while (inner.next()) {
    const field = inner.field;
    if (field == 1) {
      if (inner.expect(WireType.LengthDelimited, path + ".id", "a string")) out.id = inner.string();
    } else if (field == 2) {
      if (inner.expect(WireType.Varint, path + ".version", "a uint64")) out.version = inner.varint();
    } else if (field == 3) {
      if (!inner.expect(WireType.LengthDelimited, path + ".policy", "a message")) break;
      const policyStart = inner.delimited();
      if (inner.failed) break;
      readPolicy(inner, policyStart, inner.pos, path + ".policy", out.policy);
    } else {
      inner.skip();
    }
  }
  if (inner.failed) r.fail(inner.error);
}

export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponseMessage {
  const out = new DiscoveryResponseMessage();
  const r = new ProtoReader(bytes, 0, bytes.length);
  while (r.next()) {
    const field = r.field;
    if (field == 1) {
      if (r.expect(WireType.LengthDelimited, "versionInfo", "a string")) out.versionInfo = r.string();
    } else if (field == 2) {
      const path = "resources[" + out.resources.length.toString() + "]";
      if (!r.expect(WireType.LengthDelimited, path, "a message")) break;
      if (out.resources.length >= MAX_RESOURCES) {
        r.fail("resources must have at most " + MAX_RESOURCES.toString() + " entries");
        break;
      }
      const start = r.delimited();
      if (r.failed) break;
      const resource = new PolicyResourceMessage();
      readResource(r, start, r.pos, path, resource);
      out.resources.push(resource);
    } else if (field == 3) {
      if (r.expect(WireType.LengthDelimited, "nonce", "a string")) out.nonce = r.string();
    } else if (field == 4 || field == 5) {
      // network_suspects_version, network_suspects: present together whenever the control plane keeps a set.
      if (!r.expect(WireType.LengthDelimited, "networkSuspects", "strings")) break;
      let suspects = out.suspects;
      if (suspects === null) out.suspects = suspects = new Array<string>();
      if (field == 4) out.suspectsVersion = r.string();
      else if (suspects.length < MAX_SUSPECTS) suspects.push(r.string());
      else r.fail("networkSuspects must have at most 1024 entries");
    } else {
      r.skip();
    }
  }
  if (r.failed) out.error = RESPONSE_ERROR_PREFIX + qualify(r.error);
  return out;
}

// Reader errors are either "<field> must <rule>" or a bare "be well-formed ..." about the whole message.
function qualify(error: string): string {
  return error.startsWith("be ") ? "message must " + error : error;
}

// ---- TelemetryReport (encode) and TelemetryReportAck (decode) -----------------------------------------------------

// Envoy's default histogram bounds in milliseconds (telemetry.proto OutcomeCounters); one more bucket counts the rest.
export const DURATION_BUCKET_BOUNDS_MS: StaticArray<f64> = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
export const DURATION_BUCKET_COUNT: i32 = 20;

export class OutcomeCounters {
  requests: u32 = 0;
  errors: u32 = 0;
  slowCalls: u32 = 0;
  durationMsSum: u64 = 0;
  durationBuckets: StaticArray<u32> = new StaticArray<u32>(DURATION_BUCKET_COUNT);
  retries: u32 = 0;
  breakerRejections: u32 = 0;
  networkSuspectFailures: u32 = 0;

  encode(): ProtoWriter {
    const w = new ProtoWriter();
    w.uint32(1, this.requests);
    w.uint32(2, this.errors);
    w.uint32(3, this.slowCalls);
    w.uint64(4, this.durationMsSum);
    // Trailing zero buckets are omitted (the proto allows it and it keeps idle keys small).
    let used = DURATION_BUCKET_COUNT;
    while (used > 0 && this.durationBuckets[used - 1] == 0) used--;
    const buckets = new Array<u32>(used);
    for (let i = 0; i < used; i++) buckets[i] = this.durationBuckets[i];
    w.packedUint32(5, buckets);
    w.uint32(6, this.retries);
    w.uint32(7, this.breakerRejections);
    w.uint32(8, this.networkSuspectFailures);
    return w;
  }
}

export function durationBucketIndex(durationMs: f64): i32 {
  for (let i = 0; i < DURATION_BUCKET_BOUNDS_MS.length; i++) {
    if (durationMs <= DURATION_BUCKET_BOUNDS_MS[i]) return i;
  }
  return DURATION_BUCKET_COUNT - 1;
}

// Requests of one (path template, tenant) on a connection (telemetry.proto ConnectionRouteShare): the weights the
// control plane splits the connection's retransmits by.
export class ConnectionRouteShare {
  requests: u32 = 0;
  errors: u32 = 0;
  constructor(public pathTemplate: string, public tenant: string) {}
}

// telemetry.proto's cap on ConnectionEntry.routes; pairs beyond it are summed under ("~other", "~other").
export const MAX_CONNECTION_ROUTES: i32 = 16;

export class ConnectionEntry {
  counters: OutcomeCounters = new OutcomeCounters();
  routes: Array<ConnectionRouteShare> = new Array<ConnectionRouteShare>();
  constructor(public localAddress: string, public remoteAddress: string, public cluster: string) {}

  // The share of (pathTemplate, tenant), created when there is room, else the overflow share.
  route(pathTemplate: string, tenant: string): ConnectionRouteShare {
    for (let i = 0; i < this.routes.length; i++) {
      const r = this.routes[i];
      if (r.pathTemplate == pathTemplate && r.tenant == tenant) return r;
    }
    if (this.routes.length >= MAX_CONNECTION_ROUTES) {
      const last = this.routes[this.routes.length - 1];
      last.pathTemplate = "~other";
      last.tenant = "~other";
      return last;
    }
    const share = new ConnectionRouteShare(pathTemplate, tenant);
    this.routes.push(share);
    return share;
  }
}

export class RouteEntry {
  counters: OutcomeCounters = new OutcomeCounters();
  constructor(public cluster: string, public pathTemplate: string, public tenant: string) {}
}

// One telemetry.proto BreakerEntry, encoded at once (no intermediate object: the module's size budget is tight).
// `state` is already the proto's BreakerState number (Closed = 1).
export function encodeBreakerEntry(
  cluster: string, tenant: string, state: i32, transitions: u32, policyId: string, pathTemplate: string, sinceUnixMs: u64,
  openUntilUnixMs: u64, openCause: i32, tripRequests: u32, tripFailures: u32, tripSlowCalls: u32,
): ProtoWriter {
  const entry = new ProtoWriter();
  entry.string(1, cluster);
  entry.string(2, tenant);
  entry.enumValue(3, state);
  entry.uint32(4, transitions);
  entry.string(5, policyId);
  entry.string(6, pathTemplate);
  entry.uint64(7, sinceUnixMs);
  entry.uint64(8, openUntilUnixMs);
  entry.enumValue(9, openCause);
  entry.uint32(10, tripRequests);
  entry.uint32(11, tripFailures);
  entry.uint32(12, tripSlowCalls);
  return entry;
}

export class TelemetryReportMessage {
  node: NodeIdentity | null = null;
  policyVersion: string = "";
  windowStartUnixMs: u64 = 0;
  windowEndUnixMs: u64 = 0;
  connections: Array<ConnectionEntry> = new Array<ConnectionEntry>();
  routes: Array<RouteEntry> = new Array<RouteEntry>();
  // Encoded BreakerEntry messages (encodeBreakerEntry).
  breakers: Array<ProtoWriter> = new Array<ProtoWriter>();

  encode(): ArrayBuffer {
    const w = new ProtoWriter();
    const node = this.node;
    if (node !== null) w.message(1, writeNode(node));
    w.string(2, this.policyVersion);
    w.uint64(3, this.windowStartUnixMs);
    w.uint64(4, this.windowEndUnixMs);
    for (let i = 0; i < this.connections.length; i++) {
      const c = this.connections[i];
      const entry = new ProtoWriter();
      entry.string(1, c.localAddress);
      entry.string(2, c.remoteAddress);
      entry.string(3, c.cluster);
      entry.message(4, c.counters.encode());
      for (let j = 0; j < c.routes.length; j++) {
        const r = c.routes[j];
        const share = new ProtoWriter();
        share.string(1, r.pathTemplate);
        share.string(2, r.tenant);
        share.uint32(3, r.requests);
        share.uint32(4, r.errors);
        entry.message(5, share);
      }
      w.message(5, entry);
    }
    for (let i = 0; i < this.routes.length; i++) {
      const route = this.routes[i];
      const entry = new ProtoWriter();
      entry.string(1, route.cluster);
      entry.string(2, route.pathTemplate);
      entry.string(3, route.tenant);
      entry.message(4, route.counters.encode());
      w.message(6, entry);
    }
    for (let i = 0; i < this.breakers.length; i++) w.message(7, this.breakers[i]);
    return w.finishBuffer();
  }
}

export class TelemetryReportAckMessage {
  acceptedEntries: u32 = 0;
  error: string = "";
}

export function decodeTelemetryReportAck(bytes: Uint8Array): TelemetryReportAckMessage {
  const out = new TelemetryReportAckMessage();
  const r = new ProtoReader(bytes, 0, bytes.length);
  while (r.next()) {
    if (r.field == 1) {
      if (r.expect(WireType.Varint, "acceptedEntries", "a uint32")) out.acceptedEntries = <u32>r.varint();
    } else {
      r.skip();
    }
  }
  if (r.failed) out.error = "invalid telemetry report ack: " + qualify(r.error);
  return out;
}
