// The entry points Envoy calls (proxy-wasm-envoy.md §2), forwarding to the contexts. Signatures are i32-only and
// type-checked by the host at load, so they stay exactly as the ABI states.
import { FilterHeadersStatus } from "./host";
import { createContext, deleteContext, httpContext, rootContext } from "../contexts/registry";
import { onGrpcClose, onGrpcReceive } from "../control/callouts";

export function proxy_abi_version_0_2_1(): void {}

// The host copies results into blocks from here and hands ownership to the module (freed by abi/host.ts).
// heap.alloc is the raw allocator: the GC never moves or collects these blocks.
export function malloc(size: usize): usize {
  return heap.alloc(size);
}

// Never called by Envoy; exported so WAMR adds no heap of its own. WAMR reserves a host-managed app heap inside
// linear memory unless the module exports a malloc (i32 -> i32) AND a free (i32 -> void) (WAMR-2.2.0, the version
// Envoy 1.33-1.36 pin: core/iwasm/interpreter/wasm_loader.c resolves them, wasm_runtime.c memory_instantiate
// sets heap_size = 0 only when both exist; aot/aot_runtime.c the same). cpp-host's WAMR VM instantiates through
// wasm_instance_new, which asks for a 32 KiB heap, rounded up to a whole 64 KiB page at the end of the initial
// memory: the range this module's TLSF allocator also takes as its own at start-up.
export function free(ptr: usize): void {
  heap.free(ptr);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  createContext(contextId, parentId);
}

export function proxy_on_vm_start(rootId: u32, vmConfigurationSize: u32): u32 {
  return 1;
}

export function proxy_on_configure(rootId: u32, configurationSize: u32): u32 {
  const root = rootContext(rootId);
  if (root === null) return 0;
  return root.onConfigure(configurationSize) ? 1 : 0;
}

export function proxy_on_tick(rootId: u32): void {
  const root = rootContext(rootId);
  if (root !== null) root.onTick();
}

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: u32): u32 {
  const stream = httpContext(contextId);
  if (stream === null) return <u32>FilterHeadersStatus.Continue;
  return <u32>stream.onRequestHeaders();
}

export function proxy_on_response_headers(contextId: u32, headerCount: u32, endOfStream: u32): u32 {
  return <u32>FilterHeadersStatus.Continue;
}

export function proxy_on_log(contextId: u32): void {
  const stream = httpContext(contextId);
  if (stream !== null) stream.onLog();
}

export function proxy_on_done(contextId: u32): u32 {
  return 1;
}

export function proxy_on_delete(contextId: u32): void {
  deleteContext(contextId);
}

// gRPC call-out callbacks (always on the root context); metadata callbacks are not needed.
export function proxy_on_grpc_receive(rootId: u32, token: u32, messageSize: u32): void {
  onGrpcReceive(rootId, token, messageSize);
}

export function proxy_on_grpc_close(rootId: u32, token: u32, grpcStatus: u32): void {
  onGrpcClose(rootId, token, grpcStatus);
}
