// Typed wrappers over the ABI imports: UTF-8 conversion, pointer plumbing, reading and freeing host-allocated
// results. This file and imports.ts are the only places that see raw pointers.
import * as imports from "./imports";

export enum HostStatus {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
  Other = 13,
}

export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }

export enum MapType {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
}

export enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

export enum FilterHeadersStatus { Continue = 0, StopIteration = 1, StopAllIterationAndWatermark = 4 }

// Statuses ≥ 13 do not exist in ABI 0.2.1; a host returning one is reported as Other rather than trusted.
export function toHostStatus(raw: u32): HostStatus {
  return raw <= 12 ? <HostStatus>raw : HostStatus.Other;
}

// Out-parameter slots for scalar results; callbacks are sequential within a VM, and the allocator the host may
// call back into during a hostcall never touches these.
const RESULT_PTR_SLOT: usize = memory.data(4);
const RESULT_SIZE_SLOT: usize = memory.data(4);
const RESULT_U64_SLOT: usize = memory.data(8, 8);
const RESULT_U32_SLOT: usize = memory.data(4);

function resetResultSlots(): void {
  store<u32>(RESULT_PTR_SLOT, 0);
  store<u32>(RESULT_SIZE_SLOT, 0);
}

// Moves a host-allocated result block into a GC-managed ArrayBuffer and frees the block.
function takeResultBytes(): ArrayBuffer {
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <i32>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0 || size <= 0) return new ArrayBuffer(0);
  const buffer = new ArrayBuffer(size);
  memory.copy(changetype<usize>(buffer), ptr, <usize>size);
  heap.free(ptr);
  return buffer;
}

function takeResultString(): string {
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <usize>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0 || size == 0) return "";
  const text = String.UTF8.decodeUnsafe(ptr, size);
  heap.free(ptr);
  return text;
}

function freeResult(): void {
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  if (ptr != 0) heap.free(ptr);
}

// True when the `length` bytes at `ptr` spell `text` and `text` is ASCII (so byte i is code unit i).
function asciiEquals(ptr: usize, length: i32, text: string): bool {
  if (text.length != length) return false;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80 || <i32>load<u8>(ptr + <usize>i) != c) return false;
  }
  return true;
}

export function utf8(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

function ptrOf(buffer: ArrayBuffer): usize {
  return changetype<usize>(buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// Logging, time, ticks, buffers

export function log(level: LogLevel, message: string): void {
  const bytes = utf8(message);
  imports.proxy_log(<u32>level, ptrOf(bytes), bytes.byteLength);
}

export function nowNanoseconds(): u64 {
  store<u64>(RESULT_U64_SLOT, 0);
  imports.proxy_get_current_time_nanoseconds(RESULT_U64_SLOT);
  return load<u64>(RESULT_U64_SLOT);
}

export function setTickPeriodMilliseconds(periodMs: u32): HostStatus {
  return toHostStatus(imports.proxy_set_tick_period_milliseconds(periodMs));
}

export class BytesResult {
  constructor(public status: HostStatus, public data: ArrayBuffer) {}
}

export function getBufferBytes(bufferType: BufferType, start: u32, maxSize: u32): BytesResult {
  resetResultSlots();
  const status = toHostStatus(
    imports.proxy_get_buffer_bytes(<u32>bufferType, start, maxSize, RESULT_PTR_SLOT, RESULT_SIZE_SLOT));
  if (status != HostStatus.Ok) return new BytesResult(status, new ArrayBuffer(0));
  return new BytesResult(status, takeResultBytes());
}

export function getBufferString(bufferType: BufferType, start: u32, maxSize: u32): string {
  resetResultSlots();
  const status = imports.proxy_get_buffer_bytes(<u32>bufferType, start, maxSize, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return "";
  return takeResultString();
}

// ---------------------------------------------------------------------------------------------------------------
// Headers

// One copy of a whole header map, fetched with a single hostcall, searched without decoding every entry.
// Malformed host output never traps: lookups bounded by the copied size simply find nothing.
export class HeaderMapSnapshot {
  private count: i32 = 0;

  constructor(private bytes: ArrayBuffer) {
    if (bytes.byteLength >= 4) {
      const declared = load<u32>(changetype<usize>(bytes));
      // Each entry needs at least 8 length bytes and two terminators.
      const possible = (bytes.byteLength - 4) / 10;
      this.count = declared > <u32>possible ? possible : <i32>declared;
    }
  }

  get size(): i32 {
    return this.count;
  }

  // Byte offset of the first value of `lowercaseName` within the copy, or -1 when absent or the map is malformed;
  // the value's length is left in `foundLength`.
  private foundLength: i32 = 0;

  private find(lowercaseName: string): i32 {
    const base = changetype<usize>(this.bytes);
    const total = <usize>this.bytes.byteLength;
    const nameLength = lowercaseName.length;
    let data: usize = 4 + <usize>this.count * 8;
    for (let i = 0; i < this.count; i++) {
      const keyLength = <usize>load<u32>(base + 4 + <usize>i * 8);
      const valueLength = <usize>load<u32>(base + 8 + <usize>i * 8);
      const keyStart = data;
      const valueStart = keyStart + keyLength + 1;
      const next = valueStart + valueLength + 1;
      if (keyLength > total || valueLength > total || next > total) return -1;
      if (<i32>keyLength == nameLength && this.keyEquals(base + keyStart, lowercaseName)) {
        this.foundLength = <i32>valueLength;
        return <i32>valueStart;
      }
      data = next;
    }
    return -1;
  }

  // Returns the first value of `lowercaseName`, or null when absent or the map is malformed.
  get(lowercaseName: string): string | null {
    const offset = this.find(lowercaseName);
    if (offset < 0) return null;
    return String.UTF8.decodeUnsafe(changetype<usize>(this.bytes) + <usize>offset, <usize>this.foundLength);
  }

  // Like get(), but returns `previous` itself when the value has the same bytes, sparing an allocation for
  // values that repeat from request to request (tenant ids, methods).
  getReusing(lowercaseName: string, previous: string | null): string | null {
    const offset = this.find(lowercaseName);
    if (offset < 0) return null;
    const ptr = changetype<usize>(this.bytes) + <usize>offset;
    if (previous !== null && asciiEquals(ptr, this.foundLength, previous)) return previous;
    return String.UTF8.decodeUnsafe(ptr, <usize>this.foundLength);
  }

  // Index of the candidate (ASCII) equal to the value of `lowercaseName`; -1 when none matches or it is absent.
  matchValue(lowercaseName: string, candidates: Array<string>): i32 {
    const offset = this.find(lowercaseName);
    if (offset < 0) return -1;
    const ptr = changetype<usize>(this.bytes) + <usize>offset;
    for (let i = 0; i < candidates.length; i++) {
      if (asciiEquals(ptr, this.foundLength, candidates[i])) return i;
    }
    return -1;
  }

  has(lowercaseName: string): bool {
    return this.get(lowercaseName) !== null;
  }

  // Header names are compared byte-wise and case-insensitively for ASCII letters.
  private keyEquals(keyPtr: usize, lowercaseName: string): bool {
    for (let j = 0; j < lowercaseName.length; j++) {
      let c = <i32>load<u8>(keyPtr + <usize>j);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c != lowercaseName.charCodeAt(j)) return false;
    }
    return true;
  }
}

export function getHeaderMap(mapType: MapType): HeaderMapSnapshot {
  resetResultSlots();
  const status = imports.proxy_get_header_map_pairs(<u32>mapType, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return new HeaderMapSnapshot(new ArrayBuffer(0));
  return new HeaderMapSnapshot(takeResultBytes());
}

export function getHeader(mapType: MapType, name: string): string | null {
  const key = utf8(name);
  resetResultSlots();
  const status = imports.proxy_get_header_map_value(
    <u32>mapType, ptrOf(key), key.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return null;
  return takeResultString();
}

export function addHeader(mapType: MapType, name: string, value: string): HostStatus {
  const key = utf8(name);
  const bytes = utf8(value);
  return toHostStatus(imports.proxy_add_header_map_value(
    <u32>mapType, ptrOf(key), key.byteLength, ptrOf(bytes), bytes.byteLength));
}

export function replaceHeader(mapType: MapType, name: string, value: string): HostStatus {
  const key = utf8(name);
  const bytes = utf8(value);
  return toHostStatus(imports.proxy_replace_header_map_value(
    <u32>mapType, ptrOf(key), key.byteLength, ptrOf(bytes), bytes.byteLength));
}

export function removeHeader(mapType: MapType, name: string): HostStatus {
  const key = utf8(name);
  return toHostStatus(imports.proxy_remove_header_map_value(<u32>mapType, ptrOf(key), key.byteLength));
}

// Serializes alternating key/value strings into the ABI "pairs" format (proxy-wasm-envoy.md §4).
export function serializePairs(keysAndValues: Array<string>): ArrayBuffer {
  const count = keysAndValues.length >> 1;
  const encoded = new Array<ArrayBuffer>(count * 2);
  let total = 4 + count * 8;
  for (let i = 0; i < count * 2; i++) {
    const bytes = utf8(keysAndValues[i]);
    encoded[i] = bytes;
    total += bytes.byteLength + 1;
  }
  const out = new ArrayBuffer(total);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>count);
  let data = base + 4 + <usize>count * 8;
  for (let i = 0; i < count * 2; i++) {
    const bytes = encoded[i];
    store<u32>(base + 4 + <usize>i * 4, <u32>bytes.byteLength);
    memory.copy(data, changetype<usize>(bytes), <usize>bytes.byteLength);
    data += <usize>bytes.byteLength;
    store<u8>(data, 0);
    data += 1;
  }
  return out;
}

export function sendLocalResponse(
  statusCode: u32, details: string, body: string, headerKeysAndValues: Array<string>, grpcStatus: i32 = -1,
): HostStatus {
  const detailBytes = utf8(details);
  const bodyBytes = utf8(body);
  const pairs = serializePairs(headerKeysAndValues);
  return toHostStatus(imports.proxy_send_local_response(
    statusCode, ptrOf(detailBytes), detailBytes.byteLength, ptrOf(bodyBytes), bodyBytes.byteLength,
    ptrOf(pairs), pairs.byteLength, grpcStatus));
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

// Property paths are NUL-separated segments; build them once (e.g. at module start) and reuse them.
export function propertyPath(segments: Array<string>): ArrayBuffer {
  return utf8(segments.join("\0"));
}

export function getPropertyBytes(path: ArrayBuffer): BytesResult {
  resetResultSlots();
  const status = toHostStatus(
    imports.proxy_get_property(ptrOf(path), path.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT));
  if (status != HostStatus.Ok) return new BytesResult(status, new ArrayBuffer(0));
  return new BytesResult(status, takeResultBytes());
}

// Null when the property is absent (or the host could not encode it).
export function getPropertyString(path: ArrayBuffer): string | null {
  resetResultSlots();
  const status = imports.proxy_get_property(ptrOf(path), path.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return null;
  return takeResultString();
}

// Like getPropertyString, but returns `previous` itself when the bytes are the same (e.g. the cluster name,
// which repeats across most requests of a VM).
export function getPropertyStringReusing(path: ArrayBuffer, previous: string): string | null {
  resetResultSlots();
  const status = imports.proxy_get_property(ptrOf(path), path.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return null;
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <i32>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0 || size <= 0) return "";
  const text = asciiEquals(ptr, size, previous) ? previous : String.UTF8.decodeUnsafe(ptr, <usize>size);
  heap.free(ptr);
  return text;
}

// Integer properties (int64/uint64/duration/timestamp) are 8 bytes little-endian; anything else yields `fallback`.
export function getPropertyI64(path: ArrayBuffer, fallback: i64): i64 {
  resetResultSlots();
  const status = imports.proxy_get_property(ptrOf(path), path.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return fallback;
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0) return fallback;
  const value = size == 8 ? load<i64>(ptr) : fallback;
  heap.free(ptr);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

// Returns 0 when the host refuses the definition; Envoy never hands out id 0.
export function defineMetric(metricType: MetricType, name: string): u32 {
  const bytes = utf8(name);
  store<u32>(RESULT_U32_SLOT, 0);
  const status = imports.proxy_define_metric(<u32>metricType, ptrOf(bytes), bytes.byteLength, RESULT_U32_SLOT);
  return status == <u32>HostStatus.Ok ? load<u32>(RESULT_U32_SLOT) : 0;
}

export function incrementMetric(metricId: u32, delta: i64): HostStatus {
  return toHostStatus(imports.proxy_increment_metric(metricId, delta));
}

export function recordMetric(metricId: u32, value: u64): HostStatus {
  return toHostStatus(imports.proxy_record_metric(metricId, value));
}

export class MetricValue {
  constructor(public status: HostStatus, public value: u64) {}
}

export function getMetric(metricId: u32): MetricValue {
  store<u64>(RESULT_U64_SLOT, 0);
  const status = toHostStatus(imports.proxy_get_metric(metricId, RESULT_U64_SLOT));
  return new MetricValue(status, load<u64>(RESULT_U64_SLOT));
}

// ---------------------------------------------------------------------------------------------------------------
// Shared data (process-wide, CAS-versioned; proxy-wasm-envoy.md §11)

export class SharedValue {
  data: ArrayBuffer | null = null;
  cas: u32 = 0;
  status: HostStatus = HostStatus.Ok;
}

export function getSharedData(key: string): SharedValue {
  const keyBytes = utf8(key);
  const result = new SharedValue();
  resetResultSlots();
  store<u32>(RESULT_U32_SLOT, 0);
  result.status = toHostStatus(imports.proxy_get_shared_data(
    ptrOf(keyBytes), keyBytes.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT, RESULT_U32_SLOT));
  if (result.status == HostStatus.Ok) {
    result.data = takeResultBytes();
    result.cas = load<u32>(RESULT_U32_SLOT);
  } else {
    freeResult();
  }
  return result;
}

// cas 0 writes unconditionally; otherwise CasMismatch when another writer got there first.
export function setSharedData(key: string, data: ArrayBuffer, cas: u32): HostStatus {
  const keyBytes = utf8(key);
  return toHostStatus(imports.proxy_set_shared_data(
    ptrOf(keyBytes), keyBytes.byteLength, ptrOf(data), data.byteLength, cas));
}

// ---------------------------------------------------------------------------------------------------------------
// Contexts and call-outs (responses arrive on the root context; see proxy-wasm-envoy.md §9)

export function setEffectiveContext(contextId: u32): HostStatus {
  return toHostStatus(imports.proxy_set_effective_context(contextId));
}

export class CallResult {
  constructor(public status: HostStatus, public token: u32) {}
}

export function grpcCall(
  cluster: string, serviceName: string, method: string, metadataKeysAndValues: Array<string>,
  message: ArrayBuffer, timeoutMs: u32,
): CallResult {
  const clusterBytes = utf8(cluster);
  const serviceBytes = utf8(serviceName);
  const methodBytes = utf8(method);
  const metadata = serializePairs(metadataKeysAndValues);
  store<u32>(RESULT_U32_SLOT, 0);
  const status = toHostStatus(imports.proxy_grpc_call(
    ptrOf(clusterBytes), clusterBytes.byteLength, ptrOf(serviceBytes), serviceBytes.byteLength,
    ptrOf(methodBytes), methodBytes.byteLength, ptrOf(metadata), metadata.byteLength,
    ptrOf(message), message.byteLength, timeoutMs, RESULT_U32_SLOT));
  return new CallResult(status, status == HostStatus.Ok ? load<u32>(RESULT_U32_SLOT) : 0);
}

export function grpcStream(
  cluster: string, serviceName: string, method: string, metadataKeysAndValues: Array<string>,
): CallResult {
  const clusterBytes = utf8(cluster);
  const serviceBytes = utf8(serviceName);
  const methodBytes = utf8(method);
  const metadata = serializePairs(metadataKeysAndValues);
  store<u32>(RESULT_U32_SLOT, 0);
  const status = toHostStatus(imports.proxy_grpc_stream(
    ptrOf(clusterBytes), clusterBytes.byteLength, ptrOf(serviceBytes), serviceBytes.byteLength,
    ptrOf(methodBytes), methodBytes.byteLength, ptrOf(metadata), metadata.byteLength, RESULT_U32_SLOT));
  return new CallResult(status, status == HostStatus.Ok ? load<u32>(RESULT_U32_SLOT) : 0);
}

export function grpcSend(token: u32, message: ArrayBuffer, endStream: bool): HostStatus {
  return toHostStatus(imports.proxy_grpc_send(token, ptrOf(message), message.byteLength, endStream ? 1 : 0));
}

export function grpcCancel(token: u32): HostStatus {
  return toHostStatus(imports.proxy_grpc_cancel(token));
}

export function grpcClose(token: u32): HostStatus {
  return toHostStatus(imports.proxy_grpc_close(token));
}

export class StatusResult {
  constructor(public code: u32, public message: string) {}
}

// Status code and message of the last failed call-out or closed gRPC stream.
export function getStatus(): StatusResult {
  resetResultSlots();
  store<u32>(RESULT_U32_SLOT, 0);
  const status = imports.proxy_get_status(RESULT_U32_SLOT, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return new StatusResult(<u32>HostStatus.Other, "");
  const code = load<u32>(RESULT_U32_SLOT);
  return new StatusResult(code, takeResultString());
}

export function httpCall(
  cluster: string, headerKeysAndValues: Array<string>, body: ArrayBuffer, timeoutMs: u32,
): CallResult {
  const clusterBytes = utf8(cluster);
  const headers = serializePairs(headerKeysAndValues);
  const trailers = serializePairs(new Array<string>(0));
  store<u32>(RESULT_U32_SLOT, 0);
  const status = toHostStatus(imports.proxy_http_call(
    ptrOf(clusterBytes), clusterBytes.byteLength, ptrOf(headers), headers.byteLength,
    ptrOf(body), body.byteLength, ptrOf(trailers), trailers.byteLength, timeoutMs, RESULT_U32_SLOT));
  return new CallResult(status, status == HostStatus.Ok ? load<u32>(RESULT_U32_SLOT) : 0);
}
