// The entry points Envoy calls (proxy-wasm-envoy.md §2), forwarding to the contexts. Signatures are i32-only and
// type-checked by the host at load, so they stay exactly as the ABI states.
//
// Garbage collection: the module is built with AssemblyScript's minimal runtime (filter/build.mjs), whose collector
// runs only when asked (__collect) and marks from globals alone, never the stack. So it is asked only where no
// managed object can be held by a frame: as an entry point returns with no other entry point running beneath it
// (a host may call in again from inside a host call). Envoy never collects for the module, so the module asks
// itself: after on_configure and every on_tick (each VM ticks every tickMs), after every collectEvery-th on_delete,
// which bounds the garbage of a busy VM between ticks (and of one whose clock never ticks), and after any entry point
// during which linear memory grew (the allocator found no room). A growth also halves collectEvery: streams that
// leave more garbage (hostile paths and tenants leave KiBs each) are collected after fewer of them, so memory settles
// instead of doubling again.
// The incremental runtime this replaces collected by itself, but spilled every managed local to a shadow stack and
// ran a write barrier on every reference store: per request that cost more than the whole collection work does
// here (test/bench/filter.bench.ts).
import { allocateResult, FilterHeadersStatus, releaseResult } from "./host";
import { createContext, deleteContext, httpContext, rootContext } from "../contexts/registry";
import { onGrpcClose, onGrpcReceive, onQueueReady } from "../control/callouts";

// Entry points running now (nested when a host calls in from inside a host call).
let running: i32 = 0;
// Streams deleted since the last collection, and how many make a collection: a few hundred bytes of garbage each
// for ordinary streams, so 1024 of them cost little memory, and marking the live heap that often no measurable time
// per request; never fewer than MIN_COLLECT_EVERY, so a VM whose live state is large does not mark it too often.
let deletedStreams: i32 = 0;
let collectEvery: i32 = 1024;
const MIN_COLLECT_EVERY: i32 = 128;
// Linear memory (pages) after the last collection.
let collectedPages: i32 = memory.size();

function enter(): void {
  running++;
}

// Leaves an entry point; collects when asked to, or when memory grew, and nothing else runs.
function leave(collect: bool): void {
  running--;
  if (running != 0) return;
  const grew = memory.size() > collectedPages;
  if (grew && collectEvery > MIN_COLLECT_EVERY) collectEvery >>= 1;
  if (collect || grew || deletedStreams >= collectEvery) {
    deletedStreams = 0;
    __collect();
    collectedPages = memory.size();
  }
}

export function proxy_abi_version_0_2_1(): void {}

// The host copies results into blocks from here and hands ownership to the module (given back by abi/host.ts,
// which reuses a few of them). The raw allocator underneath: the GC never moves or collects these blocks.
export function malloc(size: usize): usize {
  return allocateResult(size);
}

// Never called by Envoy; exported so WAMR adds no heap of its own. WAMR reserves a host-managed app heap inside
// linear memory unless the module exports a malloc (i32 -> i32) AND a free (i32 -> void) (WAMR-2.2.0, the version
// Envoy 1.33-1.36 pin: core/iwasm/interpreter/wasm_loader.c resolves them, wasm_runtime.c memory_instantiate
// sets heap_size = 0 only when both exist; aot/aot_runtime.c the same). cpp-host's WAMR VM instantiates through
// wasm_instance_new, which asks for a 32 KiB heap, rounded up to a whole 64 KiB page at the end of the initial
// memory: the range this module's TLSF allocator also takes as its own at start-up.
export function free(ptr: usize): void {
  releaseResult(ptr);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  enter();
  createContext(contextId, parentId);
  leave(false);
}

export function proxy_on_vm_start(rootId: u32, vmConfigurationSize: u32): u32 {
  return 1;
}

export function proxy_on_configure(rootId: u32, configurationSize: u32): u32 {
  enter();
  const root = rootContext(rootId);
  const configured = root !== null && root.onConfigure(configurationSize);
  // Parsing the configuration leaves the most garbage a VM ever makes at once.
  leave(true);
  return configured ? 1 : 0;
}

export function proxy_on_tick(rootId: u32): void {
  enter();
  const root = rootContext(rootId);
  if (root !== null) root.onTick();
  leave(true);
}

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: u32): u32 {
  enter();
  const stream = httpContext(contextId);
  const status = stream === null ? FilterHeadersStatus.Continue : stream.onRequestHeaders();
  leave(false);
  return <u32>status;
}

export function proxy_on_response_headers(contextId: u32, headerCount: u32, endOfStream: u32): u32 {
  return <u32>FilterHeadersStatus.Continue;
}

export function proxy_on_log(contextId: u32): void {
  enter();
  const stream = httpContext(contextId);
  if (stream !== null) stream.onLog();
  leave(false);
}

export function proxy_on_done(contextId: u32): u32 {
  return 1;
}

export function proxy_on_delete(contextId: u32): void {
  enter();
  deleteContext(contextId);
  deletedStreams++;
  leave(false);
}

// gRPC call-out callbacks (always on the root context); metadata callbacks are not needed.
export function proxy_on_grpc_receive(rootId: u32, token: u32, messageSize: u32): void {
  enter();
  onGrpcReceive(rootId, token, messageSize);
  leave(false);
}

export function proxy_on_grpc_close(rootId: u32, token: u32, grpcStatus: u32): void {
  enter();
  onGrpcClose(rootId, token, grpcStatus);
  leave(false);
}

// Shared-queue wake-ups between the VMs of one proxy (control/proxy-share.ts).
export function proxy_on_queue_ready(rootId: u32, queueId: u32): void {
  enter();
  onQueueReady(rootId, queueId);
  leave(false);
}
