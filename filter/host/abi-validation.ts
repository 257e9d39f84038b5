// What Envoy (proxy-wasm-cpp-host with V8) checks before and while linking a module, in the same order, with the
// same messages: ABI marker (bytecode_util), imports (v8.cc link), then exported functions (wasm.cc getFunctions).
import { describeSignature, parseModuleShape, sameSignature, sig, type FuncType, type ModuleShape } from './wasm-binary.ts';
import { PluginLoadError } from './errors.ts';

export type AbiVersion = '0_1_0' | '0_2_0' | '0_2_1';

/** env imports registered for every ABI 0.2.x module (cpp-host exports.h + Envoy's own). */
export const ENV_IMPORTS: Record<string, string> = {
  proxy_log: 'iii>i', proxy_get_log_level: 'i>i', proxy_get_current_time_nanoseconds: 'i>i',
  proxy_set_tick_period_milliseconds: 'i>i',
  proxy_get_buffer_bytes: 'iiiii>i', proxy_set_buffer_bytes: 'iiiii>i', proxy_get_buffer_status: 'iii>i',
  proxy_get_header_map_pairs: 'iii>i', proxy_set_header_map_pairs: 'iii>i', proxy_get_header_map_value: 'iiiii>i',
  proxy_add_header_map_value: 'iiiii>i', proxy_replace_header_map_value: 'iiiii>i',
  proxy_remove_header_map_value: 'iii>i', proxy_get_header_map_size: 'ii>i',
  proxy_continue_stream: 'i>i', proxy_close_stream: 'i>i', proxy_send_local_response: 'iiiiiiii>i',
  proxy_get_property: 'iiii>i', proxy_set_property: 'iiii>i',
  proxy_get_shared_data: 'iiiii>i', proxy_set_shared_data: 'iiiii>i',
  proxy_register_shared_queue: 'iii>i', proxy_resolve_shared_queue: 'iiiii>i',
  proxy_enqueue_shared_queue: 'iii>i', proxy_dequeue_shared_queue: 'iii>i',
  proxy_http_call: 'iiiiiiiiii>i', proxy_grpc_call: 'iiiiiiiiiiii>i', proxy_grpc_stream: 'iiiiiiiii>i',
  proxy_grpc_send: 'iiii>i', proxy_grpc_cancel: 'i>i', proxy_grpc_close: 'i>i', proxy_get_status: 'iii>i',
  proxy_define_metric: 'iiii>i', proxy_increment_metric: 'iI>i', proxy_record_metric: 'iI>i', proxy_get_metric: 'ii>i',
  proxy_set_effective_context: 'i>i', proxy_done: '>i', proxy_call_foreign_function: 'iiiiii>i',
  pthread_equal: 'ii>i', emscripten_notify_memory_growth: 'i>', envoy_resolve_dns: 'iii>i',
};

/** Registered only for ABI 0.1.0 modules (cpp-host registerCallbacks). */
export const ENV_IMPORTS_ABI_0_1_0: Record<string, string> = {
  proxy_get_configuration: 'ii>i', proxy_continue_request: '>i', proxy_continue_response: '>i', proxy_clear_route_cache: '>i',
};

/** Registered under both wasi_snapshot_preview1 and wasi_unstable (the Dec 2024 cpp-host set). */
export const WASI_IMPORTS: Record<string, string> = {
  fd_write: 'iiii>i', fd_read: 'iiii>i', fd_seek: 'iIii>i', fd_close: 'i>i', fd_fdstat_get: 'ii>i',
  environ_get: 'ii>i', environ_sizes_get: 'ii>i', args_get: 'ii>i', args_sizes_get: 'ii>i',
  clock_time_get: 'iIi>i', random_get: 'ii>i', proc_exit: 'i>', path_open: 'iiiiiIIii>i',
  fd_prestat_get: 'ii>i', fd_prestat_dir_name: 'iii>i', fd_fdstat_set_flags: 'ii>i', sched_yield: '>i', poll_oneoff: 'iiii>i',
};
export const WASI_MODULES = ['wasi_snapshot_preview1', 'wasi_unstable'] as const;

/** Exports cpp-host looks up, in lookup order, with the signature it demands. */
export const EXPORTED_FUNCTIONS: [string, string][] = [
  ['_initialize', '>'], ['_start', '>'], ['main', 'ii>i'], ['__main_void', '>i'],
  ['malloc', 'i>i'], ['proxy_on_memory_allocate', 'i>i'],
  ['proxy_on_context_create', 'ii>'], ['proxy_on_vm_start', 'ii>i'], ['proxy_on_configure', 'ii>i'],
  ['proxy_validate_configuration', 'ii>i'], ['proxy_on_tick', 'i>'], ['proxy_on_foreign_function', 'iii>'],
  ['proxy_on_queue_ready', 'ii>'],
  ['proxy_on_new_connection', 'i>i'], ['proxy_on_downstream_data', 'iii>i'], ['proxy_on_upstream_data', 'iii>i'],
  ['proxy_on_downstream_connection_close', 'ii>'], ['proxy_on_upstream_connection_close', 'ii>'],
  ['proxy_on_request_headers', 'iii>i'], ['proxy_on_request_body', 'iii>i'], ['proxy_on_request_trailers', 'ii>i'],
  ['proxy_on_request_metadata', 'ii>i'], ['proxy_on_response_headers', 'iii>i'], ['proxy_on_response_body', 'iii>i'],
  ['proxy_on_response_trailers', 'ii>i'], ['proxy_on_response_metadata', 'ii>i'],
  ['proxy_on_http_call_response', 'iiiii>'], ['proxy_on_grpc_receive', 'iii>'], ['proxy_on_grpc_close', 'iii>'],
  ['proxy_on_grpc_receive_initial_metadata', 'iii>'], ['proxy_on_grpc_receive_trailing_metadata', 'iii>'],
  ['proxy_on_done', 'i>i'], ['proxy_on_log', 'i>'], ['proxy_on_delete', 'i>'],
  ['envoy_on_resolve_dns', 'iii>'], ['envoy_on_stats_update', 'ii>'],
];

const ABI_MARKERS: [string, AbiVersion][] = [
  ['proxy_abi_version_0_1_0', '0_1_0'], ['proxy_abi_version_0_2_0', '0_2_0'], ['proxy_abi_version_0_2_1', '0_2_1'],
];

export function hostImportSignature(abi: AbiVersion, module: string, name: string): FuncType | undefined {
  if (module === 'env') {
    const s = ENV_IMPORTS[name] ?? (abi === '0_1_0' ? ENV_IMPORTS_ABI_0_1_0[name] : undefined);
    return s === undefined ? undefined : sig(s);
  }
  if ((WASI_MODULES as readonly string[]).includes(module)) {
    const s = WASI_IMPORTS[name];
    return s === undefined ? undefined : sig(s);
  }
  return undefined;
}

export interface ValidatedModule {
  abi: AbiVersion; shape: ModuleShape; allocator: 'malloc' | 'proxy_on_memory_allocate';
  /** Envoy's WAMR runtime would reserve its own heap inside this module's linear memory (see wamrAppHeap). */
  wamrAppHeap: boolean;
}

const defines = (shape: ModuleShape, name: string, spec: string): boolean =>
  shape.exports.some((e) => e.name === name && e.kind === 'function' && !e.imported && sameSignature(e.type!, sig(spec)));

/**
 * Whether WAMR reserves a host-managed app heap inside the module's linear memory. Envoy 1.33-1.36 pin WAMR-2.2.0;
 * its loader (core/iwasm/interpreter/wasm_loader.c, aot/aot_loader.c) takes as the module's allocator a defined
 * export `malloc` (i32 -> i32), or `__new` (i32 i32 -> i32) with `__retain`/`__pin` (i32 -> i32), and as its free a
 * defined `free`/`__release`/`__unpin` (i32 -> void); memory_instantiate (interpreter/wasm_runtime.c,
 * aot/aot_runtime.c) drops the heap only when it found both. proxy-wasm-cpp-host's WAMR VM (src/wamr/wamr.cc)
 * instantiates with wasm_instance_new, which asks for 32 KiB, and without an exported __heap_base the heap takes a
 * 64 KiB page appended to the initial memory. An allocator that claims all of memory.size() at start-up (as
 * AssemblyScript's TLSF does) then shares that page with WAMR. V8 and Wasmtime reserve nothing.
 */
export function wamrAppHeap(shape: ModuleShape): boolean {
  const malloc = defines(shape, 'malloc', 'i>i') ||
    (defines(shape, '__new', 'ii>i') && (defines(shape, '__retain', 'i>i') || defines(shape, '__pin', 'i>i')));
  const free = ['free', '__release', '__unpin'].some((n) => defines(shape, n, 'i>'));
  return !(malloc && free);
}

/** Throws PluginLoadError with Envoy's message for the first reason Envoy would refuse this module. */
export function validateModule(wasm: Uint8Array): ValidatedModule {
  let shape: ModuleShape;
  try {
    shape = parseModuleShape(wasm);
  } catch (e) {
    throw new PluginLoadError(`Failed to load Wasm code: ${(e as Error).message}`);
  }
  // bytecode_util: the first export whose name is a known ABI marker decides.
  let abi: AbiVersion | undefined;
  for (const ex of shape.exports) {
    const hit = ABI_MARKERS.find(([n]) => n === ex.name);
    if (hit) { abi = hit[1]; break; }
  }
  if (!abi) throw new PluginLoadError('Missing or unknown Proxy-Wasm ABI version');

  for (const imp of shape.imports) {
    const qualified = `${imp.module}.${imp.name}`;
    if (imp.kind === 'memory' || imp.kind === 'table') continue; // the host creates them
    if (imp.kind !== 'function') {
      throw new PluginLoadError(`Failed to load Wasm module due to a missing import: ${qualified}`);
    }
    const host = hostImportSignature(abi, imp.module, imp.name);
    if (!host) throw new PluginLoadError(`Failed to load Wasm module due to a missing import: ${qualified}`);
    if (!sameSignature(host, imp.type!)) {
      throw new PluginLoadError(`Failed to load Wasm module due to an import type mismatch for ${qualified}, ` +
        `want: ${describeSignature(imp.type!)}, but host exports: ${describeSignature(host)}`);
    }
  }

  const byName = new Map(shape.exports.map((e) => [e.name, e]));
  for (const [name, spec] of EXPORTED_FUNCTIONS) {
    const ex = byName.get(name);
    if (!ex) {
      if (name === 'proxy_on_memory_allocate' && !byName.has('malloc')) {
        throw new PluginLoadError('Wasm module is missing malloc function.');
      }
      continue;
    }
    if (ex.kind !== 'function' || !sameSignature(ex.type!, sig(spec))) {
      throw new PluginLoadError(`Bad function signature for: ${name}`);
    }
  }
  return { abi, shape, allocator: byName.has('malloc') ? 'malloc' : 'proxy_on_memory_allocate', wamrAppHeap: wamrAppHeap(shape) };
}
