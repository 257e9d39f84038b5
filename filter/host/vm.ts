// One Wasm instance = one simulated Envoy thread: its own linear memory, context-id counter, metric ids, call-out
// tokens and tick timer. Every call into the module goes through invoke(), which tracks the current/effective
// context, turns traps into a failed VM and runs Envoy's "after VM call" actions once the outermost call returns.
import { buildImports, type HostEnvironment } from './imports.ts';
import { WasmTrap } from './errors.ts';
import type { Stat } from './stats.ts';
import { byteLength, decodeUtf8, utf8Encoder, type HeaderList } from './headers.ts';
import { WasmResult } from './abi-constants.ts';
import type { ValidatedModule } from './abi-validation.ts';
import type { LogInfo, StreamProps } from './stream-types.ts';

export enum Restriction { None = 0, Start = 1, Allocator = 2 }

/**
 * Why a VM failed, as proxy-wasm-cpp-host's FailState names it: only RuntimeError (a trap in module code) is
 * recovered by FAIL_RELOAD (envoy v1.33.0 source/extensions/common/wasm/wasm.cc maybeReloadHandleIfNeeded).
 */
export type FailState = 'RuntimeError' | 'UnableToInitializeCode' | 'StartFailed';

export interface CalloutResponse {
  headers?: HeaderList; trailers?: HeaderList; body?: Uint8Array;
  initialMetadata?: HeaderList; trailingMetadata?: HeaderList;
}

export class RootContext {
  readonly isRoot = true;
  tickPeriodMs = 0;
  tickDueNs: bigint | undefined;
  statusCode = 0;
  statusMessage = '';
  pendingDone = false;
  constructor(readonly id: number) {}
}

const NO_HEADERS: HeaderList = [];

export type StreamPhase = 'created' | 'requestHeaders' | 'request' | 'responseHeaders' | 'response' | 'log' | 'done';

export interface PendingLocalReply { status: number; details: string; body: string; headers: HeaderList; grpcStatus?: number }

export class StreamContext {
  readonly isRoot = false;
  phase: StreamPhase = 'created';
  requestHeaders: HeaderList = NO_HEADERS;
  responseHeaders: HeaderList | undefined;
  requestTrailers: HeaderList | undefined;
  responseTrailers: HeaderList | undefined;
  /** Request headers remain reachable while the filter keeps the request paused after on_request_headers. */
  requestHeadersActive = false;
  responseHeadersActive = false;
  body: Uint8Array | undefined;
  bodyType = -1;
  localReply: PendingLocalReply | undefined;
  /** Set by send_local_response: whatever the callback returns becomes a stop. */
  stopNextIteration = false;
  continueRequested = false;
  continueResponseRequested = false;
  closeRequested = false;
  responseCode: number | undefined;
  responseCodeDetails: string | undefined;
  logInfo: LogInfo | undefined;
  filterState: Map<string, Uint8Array> | undefined;
  readonly startNs: bigint;
  onAsyncSettle: (() => void) | undefined;
  constructor(readonly id: number, readonly root: RootContext, readonly props: StreamProps, startNs: bigint) {
    this.startNs = startNs;
  }
}

export type Context = RootContext | StreamContext;

type Fn = (...args: number[]) => number | void;
export interface ModuleExports {
  memory: WebAssembly.Memory;
  malloc: (size: number) => number;
  _initialize?: Fn; _start?: Fn; main?: Fn; __main_void?: Fn;
  proxy_on_context_create?: Fn; proxy_on_vm_start?: Fn; proxy_on_configure?: Fn; proxy_on_tick?: Fn;
  proxy_on_request_headers?: Fn; proxy_on_request_body?: Fn; proxy_on_request_trailers?: Fn;
  proxy_on_response_headers?: Fn; proxy_on_response_body?: Fn; proxy_on_response_trailers?: Fn;
  proxy_on_log?: Fn; proxy_on_done?: Fn; proxy_on_delete?: Fn;
  proxy_on_http_call_response?: Fn; proxy_on_grpc_receive?: Fn; proxy_on_grpc_close?: Fn;
  proxy_on_grpc_receive_initial_metadata?: Fn; proxy_on_grpc_receive_trailing_metadata?: Fn;
  proxy_on_queue_ready?: Fn;
}

export interface MetricSlot { stat: Stat; type: number }

export class WasmVm {
  exports!: ModuleExports;
  failed = false;
  failure: string | undefined;
  failState: FailState | undefined;
  restriction = Restriction.None;
  private nextContextId = 1;
  root: RootContext | undefined;
  readonly streams = new Map<number, StreamContext>();
  /** The context the host dispatched into, and the one host calls act on (proxy_set_effective_context). */
  current: Context | undefined;
  effective: Context | undefined;
  private depth = 0;
  /** Buffers available only while PLUGIN_CONFIGURATION is being read in on_configure. */
  inConfigure = false;
  callout: CalloutResponse | undefined;
  readonly metrics = new Map<number, MetricSlot>();
  readonly metricIdCounters = [0, 1, 2];
  /** Call-out tokens: kind in the low two bits (0 http, 1 grpc call, 2 grpc stream). */
  readonly tokenCounters = [0, 1, 2];
  readonly callouts = new Map<number, { kind: number; cancel(): void; send?(msg: Uint8Array, end: boolean): boolean; close?(): void }>();
  private readonly settleQueue = new Set<StreamContext>();

  // Memory views, refreshed only when the module's memory grew (growth detaches the old ArrayBuffer).
  private buf: ArrayBuffer | undefined;
  u8!: Uint8Array;
  dv!: DataView;

  constructor(readonly label: string, readonly env: HostEnvironment, readonly validated: ValidatedModule) {}

  /** Synchronous, so a FAIL_RELOAD replacement can be built while the stream that needs it is being created. */
  instantiate(module: WebAssembly.Module): void {
    this.restriction = Restriction.Start; // a start section runs inside instantiation
    try {
      const instance = new WebAssembly.Instance(module, buildImports(this));
      const ex = instance.exports as Record<string, unknown>;
      const memory = Object.values(ex).find((v) => v instanceof WebAssembly.Memory) as WebAssembly.Memory | undefined;
      if (!memory) throw new WasmTrap('Wasm module is missing memory');
      this.exports = { ...(ex as unknown as ModuleExports), memory, malloc: (ex[this.validated.allocator] as (n: number) => number) };
      this.refresh();
    } catch (e) {
      this.restriction = Restriction.None;
      // A trap in a start section is module code failing; a link or memory error is not.
      this.markFailed(`Failed to instantiate Wasm module: ${(e as Error).message}`,
        e instanceof WebAssembly.RuntimeError ? 'RuntimeError' : 'UnableToInitializeCode');
      return;
    }
    const { _initialize, _start, main, __main_void } = this.exports;
    if (_initialize) {
      this.invokeRestricted(_initialize, '_initialize');
      if (main) this.invokeRestricted(main, 'main', 0, 0);
      else if (__main_void) this.invokeRestricted(__main_void, '__main_void');
    } else if (_start) {
      this.invokeRestricted(_start, '_start');
    }
    this.restriction = Restriction.None;
  }

  private invokeRestricted(fn: Fn, name: string, a = 0, b = 0): void {
    if (this.failed) return;
    this.restriction = Restriction.Start;
    try {
      fn(a, b);
    } catch (e) {
      this.trap(name, e);
    } finally {
      this.restriction = Restriction.None;
    }
  }

  refresh(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.buf) {
      this.buf = buffer;
      this.u8 = new Uint8Array(buffer);
      this.dv = new DataView(buffer);
    }
  }

  allocateContextId(): number { return this.nextContextId++; }

  /**
   * Calls an export on behalf of a context. Returns the export's i32 result (0 when it is absent or the VM trapped).
   * Extra arguments are ignored by wasm, so one fixed-arity entry serves every callback without allocating.
   */
  invoke(ctx: Context, fn: Fn | undefined, name: string, a = 0, b = 0, c = 0, d = 0, e = 0): number {
    if (!fn || this.failed) return 0;
    const prevCurrent = this.current, prevEffective = this.effective;
    this.current = ctx;
    this.effective = ctx;
    this.depth++;
    let result = 0;
    try {
      result = (fn(a, b, c, d, e) as number | undefined) ?? 0;
    } catch (err) {
      this.trap(name, err);
    } finally {
      this.depth--;
      this.current = prevCurrent;
      this.effective = prevEffective;
    }
    if (this.depth === 0 && this.settleQueue.size > 0) this.runAfterVmCallActions();
    return result >>> 0;
  }

  /** A stream got a deferred action (continue, local reply, close) from a call not dispatched to it. */
  queueSettle(stream: StreamContext): void { this.settleQueue.add(stream); }
  private runAfterVmCallActions(): void {
    const streams = [...this.settleQueue];
    this.settleQueue.clear();
    for (const s of streams) s.onAsyncSettle?.();
  }

  isOutermostFor(stream: StreamContext): boolean { return this.depth === 1 && this.current === stream; }

  trap(where: string, err: unknown): void {
    const detail = err instanceof WebAssembly.RuntimeError || err instanceof WasmTrap
      ? `${err.name === 'WasmTrap' ? 'Uncaught Error' : 'Uncaught RuntimeError'}: ${err.message}`
      : `Uncaught Error: ${(err as Error)?.message ?? String(err)}`;
    this.markFailed(`Function: ${where} failed: ${detail}`, 'RuntimeError');
  }

  markFailed(message: string, state: FailState): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = message;
    this.failState = state;
    this.env.log('critical', message, this, undefined);
    for (const c of this.callouts.values()) c.cancel();
    this.callouts.clear();
    if (this.root) this.root.tickDueNs = undefined;
  }

  // ---- memory helpers (pointers are u32: `>>> 0`) ----
  // Views are refreshed lazily: when memory grows the old ArrayBuffer is detached (length 0), so any access that
  // looks out of bounds refreshes once and checks again.
  private fits(end: number): boolean {
    if (end <= this.u8.length) return true;
    this.refresh();
    return end <= this.u8.length;
  }
  inBounds(ptr: number, len: number): boolean { return this.fits(ptr + len); }
  view(ptr: number, len: number): Uint8Array | undefined {
    ptr >>>= 0; len >>>= 0;
    return this.fits(ptr + len) ? this.u8.subarray(ptr, ptr + len) : undefined;
  }
  string(ptr: number, len: number): string | undefined {
    ptr >>>= 0; len >>>= 0;
    if (!this.fits(ptr + len)) return undefined;
    return decodeUtf8(this.u8, ptr, ptr + len);
  }
  writeU32(ptr: number, value: number): boolean {
    ptr >>>= 0;
    if (!this.fits(ptr + 4)) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }
  writeU64(ptr: number, value: bigint): boolean {
    ptr >>>= 0;
    if (!this.fits(ptr + 8)) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }
  /**
   * Calls the module allocator under the allocator allow-list; returns 0 on failure. The views are not refreshed
   * here: a growth detaches them, and every write into the block goes through fits(), which refreshes then.
   */
  allocate(size: number): number {
    const prev = this.restriction;
    this.restriction = Restriction.Allocator;
    try {
      return (this.exports.malloc(size) as number) >>> 0;
    } finally {
      this.restriction = prev;
    }
  }
  /** Copies a result into module-owned memory and writes (ptr, size) to *pp, *np; empty → ptr 0, size 0. */
  copyOut(bytes: Uint8Array, pp: number, np: number): WasmResult {
    if (bytes.length === 0) {
      return this.writeU32(pp, 0) && this.writeU32(np, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    }
    const ptr = this.allocate(bytes.length);
    if (ptr === 0 || !this.inBounds(ptr, bytes.length)) return WasmResult.InvalidMemoryAccess;
    this.u8.set(bytes, ptr);
    return this.writeU32(pp, ptr) && this.writeU32(np, bytes.length) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  /** Copies a string as UTF-8 into module-owned memory (ASCII written directly, no intermediate buffer). */
  copyStringOut(s: string, pp: number, np: number): WasmResult {
    const len = byteLength(s);
    if (len === 0) return this.writeU32(pp, 0) && this.writeU32(np, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    const ptr = this.allocate(len);
    if (ptr === 0 || !this.inBounds(ptr, len)) return WasmResult.InvalidMemoryAccess;
    if (len === s.length) {
      const u8 = this.u8;
      for (let i = 0; i < len; i++) u8[ptr + i] = s.charCodeAt(i);
    } else {
      utf8Encoder.encodeInto(s, this.u8.subarray(ptr, ptr + len));
    }
    return this.writeU32(pp, ptr) && this.writeU32(np, len) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }
  /** Writes an int64 result (8 bytes LE) into module-owned memory. */
  copyInt64Out(n: number | bigint, pp: number, np: number): WasmResult {
    const ptr = this.allocate(8);
    if (ptr === 0 || !this.inBounds(ptr, 8)) return WasmResult.InvalidMemoryAccess;
    if (typeof n === 'number' && n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
      this.dv.setUint32(ptr, n >>> 0, true);
      this.dv.setUint32(ptr + 4, Math.floor(n / 4294967296), true);
    } else {
      this.dv.setBigInt64(ptr, BigInt.asIntN(64, typeof n === 'bigint' ? n : BigInt(Math.trunc(n))), true);
    }
    return this.writeU32(pp, ptr) && this.writeU32(np, 8) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  memoryBytes(): number { return this.exports?.memory.buffer.byteLength ?? 0; }
}
