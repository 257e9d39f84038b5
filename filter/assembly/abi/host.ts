// Typed wrappers over the ABI imports: UTF-8 conversion, pointer plumbing, reading and freeing host-allocated
// results. This file and imports.ts are the only places that see raw pointers (text.ts only reads code units).
import * as imports from "./imports";
import { codeUnitAt } from "../text";

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

// Result blocks. Envoy copies every value it returns (a header map, a property, shared data) into a block it gets
// from the module's malloc, and the module frees the block once read (proxy-wasm-cpp-host 65bb78f, the version
// envoyproxy/envoy v1.36.0 pins in bazel/repository_locations.bzl: include/proxy-wasm/wasm.h WasmBase::allocMemory
// and copyToPointerSize, src/exports.cc get_header_map_pairs; c4d7bb0 for v1.33.0 does the same). On the request
// path that is a header map and five properties per stream, each a TLSF allocation and free. RESULT_BLOCKS blocks
// are kept instead and handed out again: malloc takes a free one, releaseResult gives it back. At most one snapshot
// and one value are held at once, so two would do; larger values than RESULT_BLOCK_LIMIT, and any request while all
// are taken, go to the heap as before. Bounded: RESULT_BLOCKS × RESULT_BLOCK_LIMIT bytes stay reserved at most.
const RESULT_BLOCKS: i32 = 4;
const RESULT_BLOCK_LIMIT: usize = 4096;
const RESULT_BLOCK_MIN: usize = 256;
const resultBlocks = new StaticArray<usize>(RESULT_BLOCKS);
const resultCapacities = new StaticArray<usize>(RESULT_BLOCKS);
const resultTaken = new StaticArray<bool>(RESULT_BLOCKS);

// The module's malloc (abi/exports.ts): what the host asks for to hand a value over.
export function allocateResult(size: usize): usize {
  if (size <= RESULT_BLOCK_LIMIT) {
    for (let i = 0; i < RESULT_BLOCKS; i++) {
      if (unchecked(resultTaken[i])) continue;
      let block = unchecked(resultBlocks[i]);
      if (size > unchecked(resultCapacities[i])) {
        if (block != 0) heap.free(block);
        // Powers of two from RESULT_BLOCK_MIN: a block grows a few times at most.
        let capacity = RESULT_BLOCK_MIN;
        while (capacity < size) capacity <<= 1;
        block = heap.alloc(capacity);
        unchecked(resultBlocks[i] = block);
        unchecked(resultCapacities[i] = capacity);
      }
      unchecked(resultTaken[i] = true);
      return block;
    }
  }
  return heap.alloc(size);
}

// Gives back what allocateResult handed out (the module's free, and every reader of a host result here).
export function releaseResult(ptr: usize): void {
  for (let i = 0; i < RESULT_BLOCKS; i++) {
    if (unchecked(resultBlocks[i]) == ptr) {
      unchecked(resultTaken[i] = false);
      return;
    }
  }
  heap.free(ptr);
}

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
  releaseResult(ptr);
  return buffer;
}

function takeResultString(): string {
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <usize>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0 || size == 0) return "";
  const text = String.UTF8.decodeUnsafe(ptr, size);
  releaseResult(ptr);
  return text;
}

function freeResult(): void {
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  if (ptr != 0) releaseResult(ptr);
}

// True when the `length` bytes at `ptr` spell `text` and `text` is ASCII (so byte i is code unit i).
function asciiEquals(ptr: usize, length: i32, text: string): bool {
  if (text.length != length) return false;
  for (let i = 0; i < length; i++) {
    const c = codeUnitAt(text, i);
    if (c >= 0x80 || <i32>load<u8>(ptr + <usize>i) != c) return false;
  }
  return true;
}

export function utf8(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

// Arguments that the host only reads during the call (header names and values, metric names) are encoded into
// one reused raw block instead of a fresh ArrayBuffer each: request-path calls then allocate nothing.
let scratch: usize = 0;
let scratchCapacity: usize = 0;

function scratchFor(size: usize): usize {
  if (size > scratchCapacity) {
    if (scratch != 0) heap.free(scratch);
    scratchCapacity = size < 256 ? 256 : size;
    scratch = heap.alloc(scratchCapacity);
  }
  return scratch;
}

// Encodes `first` then `second` back to back into the scratch block; returns the byte length of `first` (the
// second's is left in scratchSecondLength). Both pointers are valid until the next scratch use.
let scratchSecondLength: usize = 0;

function encodeTwo(first: string, second: string): usize {
  const firstMax = <usize>first.length * 3;
  const base = scratchFor(firstMax + <usize>second.length * 3);
  const firstLength = String.UTF8.encodeUnsafe(changetype<usize>(first), first.length, base);
  scratchSecondLength = String.UTF8.encodeUnsafe(changetype<usize>(second), second.length, base + firstLength);
  return firstLength;
}

// The UTF-8 of strings passed on every request (the retry header names and values, which are constants and
// per-policy strings), kept by the identity of the string: a hit encodes nothing, and hands the host the same bytes
// at the same address each time. A slot holds its string, so no other string takes its address while it does.
const ENCODED_SLOT_BITS: u32 = 6;
const ENCODED_SLOTS: i32 = 1 << ENCODED_SLOT_BITS;
const encodedTexts = new StaticArray<string | null>(ENCODED_SLOTS);
const encodedBytes = new StaticArray<ArrayBuffer | null>(ENCODED_SLOTS);

function encodedOnce(text: string): ArrayBuffer {
  // Fibonacci hashing: the top bits of the product are the well-mixed ones.
  const slot = <i32>((<u32>changetype<usize>(text) * 0x9e3779b1) >> (32 - ENCODED_SLOT_BITS));
  if (unchecked(encodedTexts[slot]) === text) return changetype<ArrayBuffer>(unchecked(encodedBytes[slot]));
  const bytes = utf8(text);
  unchecked(encodedTexts[slot] = text);
  unchecked(encodedBytes[slot] = bytes);
  return bytes;
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
// VM environment (vm_config.environment_variables: key_values and host_env_keys)

// The value of `name` (ASCII) in the VM environment, or null when it is not set. Malformed host output (pointers
// outside the block, a missing terminator) never traps: such entries are skipped.
export function getEnvironmentVariable(name: string): string | null {
  store<u32>(RESULT_U32_SLOT, 0);
  store<u32>(RESULT_SIZE_SLOT, 0);
  if (imports.environ_sizes_get(RESULT_U32_SLOT, RESULT_SIZE_SLOT) != 0) return null;
  const count = <usize>load<u32>(RESULT_U32_SLOT);
  const size = <usize>load<u32>(RESULT_SIZE_SLOT);
  // Every entry ends with a NUL, so a count above the block size is a host lying about one or the other.
  if (count == 0 || size == 0 || count > size) return null;
  const pointers = heap.alloc(count * 4);
  const block = heap.alloc(size);
  const end = block + size;
  const nameLength = <usize>name.length;
  let value: string | null = null;
  if (imports.environ_get(pointers, block) == 0) {
    for (let i: usize = 0; i < count && value === null; i++) {
      const entry = <usize>load<u32>(pointers + i * 4);
      if (entry < block || entry + nameLength >= end) continue;
      if (!asciiEquals(entry, <i32>nameLength, name) || load<u8>(entry + nameLength) != 0x3d) continue;
      const start = entry + nameLength + 1;
      let stop = start;
      while (stop < end && load<u8>(stop) != 0) stop++;
      if (stop < end) value = String.UTF8.decodeUnsafe(start, stop - start);
    }
  }
  heap.free(pointers);
  heap.free(block);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Headers

// A whole header map, fetched with a single hostcall, searched in place without decoding every entry. It reads
// the block the host allocated, which stays owned by getHeaderMap until its next call: a snapshot is valid until
// then (each callback takes one and drops it), and the request path copies nothing into the GC heap.
// Malformed host output never traps: lookups bounded by the block's size simply find nothing.
export class HeaderMapSnapshot {
  private count: i32 = 0;

  private base: usize = 0;
  private total: usize = 0;

  constructor(base: usize, total: usize) {
    this.reset(base, total);
  }

  reset(base: usize, total: usize): HeaderMapSnapshot {
    this.base = base;
    this.total = total;
    this.count = 0;
    this.foundLength = 0;
    if (total >= 4) {
      const declared = load<u32>(base);
      // Each entry needs at least 8 length bytes and two terminators.
      const possible = <i32>((total - 4) / 10);
      this.count = declared > <u32>possible ? possible : <i32>declared;
    }
    return this;
  }

  get size(): i32 {
    return this.count;
  }

  // Byte offset of the first value of `lowercaseName` within the copy, or -1 when absent or the map is malformed;
  // the value's length is left in `foundLength`.
  private foundLength: i32 = 0;

  private find(lowercaseName: string): i32 {
    const base = this.base;
    const total = this.total;
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
    return String.UTF8.decodeUnsafe(this.base + <usize>offset, <usize>this.foundLength);
  }

  has(lowercaseName: string): bool {
    return this.find(lowercaseName) >= 0;
  }

  // One pass over the map for every name a stream reads (each lower-case), instead of one pass per name: afterwards
  // pointerAt(i) is where the first value of names[i] is in the host block (valid while the snapshot is; 0 when
  // absent or the map is malformed) and lengthAt(i) its byte length. Returns whether any name starts with
  // `lowercasePrefix`.
  locate(names: Array<string>, lowercasePrefix: string): bool {
    const wanted = names.length;
    if (this.pointers.length < wanted) {
      this.pointers = new StaticArray<usize>(wanted);
      this.lengths = new StaticArray<i32>(wanted);
    }
    const pointers = this.pointers;
    for (let j = 0; j < wanted; j++) unchecked(pointers[j] = 0);
    const base = this.base;
    const total = this.total;
    const prefixLength = lowercasePrefix.length;
    let prefixSeen = false;
    let missing = wanted;
    let data: usize = 4 + <usize>this.count * 8;
    for (let i = 0; i < this.count; i++) {
      const keyLength = <usize>load<u32>(base + 4 + <usize>i * 8);
      const valueLength = <usize>load<u32>(base + 8 + <usize>i * 8);
      const valueStart = data + keyLength + 1;
      const next = valueStart + valueLength + 1;
      if (keyLength > total || valueLength > total || next > total) break;
      const key = base + data;
      if (missing > 0) {
        for (let j = 0; j < wanted; j++) {
          const name = unchecked(names[j]);
          if (unchecked(pointers[j]) != 0 || <i32>keyLength != name.length || !this.keyEquals(key, name)) continue;
          unchecked(pointers[j] = base + valueStart);
          unchecked(this.lengths[j] = <i32>valueLength);
          missing--;
        }
      }
      if (!prefixSeen && <i32>keyLength >= prefixLength && this.keyEquals(key, lowercasePrefix)) prefixSeen = true;
      data = next;
    }
    return prefixSeen;
  }

  private pointers: StaticArray<usize> = new StaticArray<usize>(0);
  private lengths: StaticArray<i32> = new StaticArray<i32>(0);

  pointerAt(index: i32): usize {
    return unchecked(this.pointers[index]);
  }

  lengthAt(index: i32): i32 {
    return unchecked(this.lengths[index]);
  }

  // Header names are compared byte-wise and case-insensitively for ASCII letters.
  private keyEquals(keyPtr: usize, lowercaseName: string): bool {
    for (let j = 0; j < lowercaseName.length; j++) {
      let c = <i32>load<u8>(keyPtr + <usize>j);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c != codeUnitAt(lowercaseName, j)) return false;
    }
    return true;
  }
}

// The host block behind the latest snapshot (0 when none), freed when the next one is taken; the snapshot object
// itself is reused too, since only the latest one is valid.
let snapshotBlock: usize = 0;
const snapshot = new HeaderMapSnapshot(0, 0);

export function getHeaderMap(mapType: MapType): HeaderMapSnapshot {
  if (snapshotBlock != 0) {
    releaseResult(snapshotBlock);
    snapshotBlock = 0;
  }
  resetResultSlots();
  const status = imports.proxy_get_header_map_pairs(<u32>mapType, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) {
    freeResult();
    return snapshot.reset(0, 0);
  }
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <usize>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0) return snapshot.reset(0, 0);
  snapshotBlock = ptr;
  return snapshot.reset(ptr, size);
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

// For names and values the filter sets again and again (see encodedOnce).
export function replaceHeader(mapType: MapType, name: string, value: string): HostStatus {
  const key = encodedOnce(name);
  const bytes = encodedOnce(value);
  return toHostStatus(imports.proxy_replace_header_map_value(
    <u32>mapType, ptrOf(key), key.byteLength, ptrOf(bytes), bytes.byteLength));
}

export function removeHeader(mapType: MapType, name: string): HostStatus {
  const nameLength = encodeTwo(name, "");
  return toHostStatus(imports.proxy_remove_header_map_value(<u32>mapType, scratch, nameLength));
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

// Index of the candidate (ASCII) spelled by the `size` bytes at `ptr`; -1 when none is.
export function matchAscii(ptr: usize, size: i32, candidates: Array<string>): i32 {
  for (let i = 0; i < candidates.length; i++) {
    if (asciiEquals(ptr, size, unchecked(candidates[i]))) return i;
  }
  return -1;
}

export function decodeUtf8(ptr: usize, size: i32): string {
  return String.UTF8.decodeUnsafe(ptr, <usize>size);
}

// Recent values of one kind (cluster names, a tenant header's values), most recent first, at most `capacity`, each
// with the bytes it was decoded from. Values that alternate among a few so keep one string object per value, and
// the identity-keyed caches downstream hit; a hit compares bytes (memory.compare, a word at a time) and decodes
// nothing. Values longer than maxBytes are decoded and not remembered, so a hostile header of tens of KiB is not
// kept: what the table holds stays within capacity × maxBytes (and the strings decoded from them).
export class InternTable {
  private texts: Array<string> = new Array<string>();
  private bytes: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  constructor(public readonly capacity: i32, public readonly maxBytes: i32) {}

  // The string of the `size` bytes at `ptr` (UTF-8): the table's own when it holds those bytes, else the decoded
  // string, which becomes the first entry (the oldest dropped when full).
  of(ptr: usize, size: i32): string {
    const bytes = this.bytes;
    for (let i = 0; i < bytes.length; i++) {
      const known = unchecked(bytes[i]);
      if (known.byteLength == size && memory.compare(changetype<usize>(known), ptr, <usize>size) == 0) {
        return unchecked(this.texts[i]);
      }
    }
    const text = String.UTF8.decodeUnsafe(ptr, <usize>size);
    if (this.capacity <= 0 || size > this.maxBytes) return text;
    const copy = new ArrayBuffer(size);
    memory.copy(changetype<usize>(copy), ptr, <usize>size);
    const texts = this.texts;
    if (texts.length < this.capacity) {
      texts.push(text);
      bytes.push(copy);
    }
    for (let i = texts.length - 1; i > 0; i--) {
      unchecked(texts[i] = texts[i - 1]);
      unchecked(bytes[i] = bytes[i - 1]);
    }
    unchecked(texts[0] = text);
    unchecked(bytes[0] = copy);
    return text;
  }
}

// Like getPropertyString, interned through `recent`.
export function getPropertyStringInterned(path: ArrayBuffer, recent: InternTable): string | null {
  resetResultSlots();
  const status = imports.proxy_get_property(ptrOf(path), path.byteLength, RESULT_PTR_SLOT, RESULT_SIZE_SLOT);
  if (status != <u32>HostStatus.Ok) return null;
  const ptr = <usize>load<u32>(RESULT_PTR_SLOT);
  const size = <i32>load<u32>(RESULT_SIZE_SLOT);
  if (ptr == 0) return "";
  if (size <= 0) {
    releaseResult(ptr);
    return "";
  }
  const text = recent.of(ptr, size);
  releaseResult(ptr);
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
  releaseResult(ptr);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

// Returns 0 when the host refuses the definition; Envoy never hands out id 0.
export function defineMetric(metricType: MetricType, name: string): u32 {
  const nameLength = encodeTwo(name, "");
  store<u32>(RESULT_U32_SLOT, 0);
  const status = imports.proxy_define_metric(<u32>metricType, scratch, nameLength, RESULT_U32_SLOT);
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

// Shared queues (proxy-wasm-envoy.md §11): the registering root context is the one woken by proxy_on_queue_ready.
// Returns the queue id, 0 when the host refused.
export function registerSharedQueue(name: string): u32 {
  const nameBytes = utf8(name);
  store<u32>(RESULT_U32_SLOT, 0);
  const status = toHostStatus(imports.proxy_register_shared_queue(ptrOf(nameBytes), nameBytes.byteLength, RESULT_U32_SLOT));
  return status == HostStatus.Ok ? load<u32>(RESULT_U32_SLOT) : 0;
}

export function enqueueSharedQueue(queueId: u32, data: ArrayBuffer): HostStatus {
  return toHostStatus(imports.proxy_enqueue_shared_queue(queueId, ptrOf(data), data.byteLength));
}

// Drops every queued item (the items carry no data, only the wake-up); returns how many.
export function drainSharedQueue(queueId: u32): i32 {
  let drained = 0;
  while (drained < 1024) {
    resetResultSlots();
    if (toHostStatus(imports.proxy_dequeue_shared_queue(queueId, RESULT_PTR_SLOT, RESULT_SIZE_SLOT)) != HostStatus.Ok) break;
    freeResult();
    drained++;
  }
  return drained;
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
