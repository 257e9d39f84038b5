// Host functions of Proxy-Wasm ABI 0.2.1 exactly as Envoy registers them (proxy-wasm-envoy.md §1.1).
// Every parameter is i32 except the i64 metric values; every function returns a WasmResult (u32).
// Only functions the filter calls are declared: an unused declaration is dropped by asc, but a wrong arity on a
// used one makes Envoy refuse the module, so these signatures must match the host's byte for byte.

@external("env", "proxy_log")
export declare function proxy_log(level: u32, messagePtr: usize, messageSize: usize): u32;

@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(resultU64Ptr: usize): u32;

@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(periodMs: u32): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(
  bufferType: u32, start: u32, maxSize: u32, resultPtrPtr: usize, resultSizePtr: usize): u32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: u32, resultPtrPtr: usize, resultSizePtr: usize): u32;

@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(
  mapType: u32, keyPtr: usize, keySize: usize, resultPtrPtr: usize, resultSizePtr: usize): u32;

@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(
  mapType: u32, keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize): u32;

@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(
  mapType: u32, keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize): u32;

@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(mapType: u32, keyPtr: usize, keySize: usize): u32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32, detailsPtr: usize, detailsSize: usize, bodyPtr: usize, bodySize: usize,
  headerPairsPtr: usize, headerPairsSize: usize, grpcStatus: i32): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(
  pathPtr: usize, pathSize: usize, resultPtrPtr: usize, resultSizePtr: usize): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(
  keyPtr: usize, keySize: usize, resultPtrPtr: usize, resultSizePtr: usize, casPtr: usize): u32;

@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(
  keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize, cas: u32): u32;

@external("env", "proxy_register_shared_queue")
export declare function proxy_register_shared_queue(namePtr: usize, nameSize: usize, resultIdPtr: usize): u32;

@external("env", "proxy_enqueue_shared_queue")
export declare function proxy_enqueue_shared_queue(queueId: u32, valuePtr: usize, valueSize: usize): u32;

@external("env", "proxy_dequeue_shared_queue")
export declare function proxy_dequeue_shared_queue(queueId: u32, resultPtrPtr: usize, resultSizePtr: usize): u32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metricType: u32, namePtr: usize, nameSize: usize, resultIdPtr: usize): u32;

@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, delta: i64): u32;

@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): u32;

@external("env", "proxy_get_metric")
export declare function proxy_get_metric(metricId: u32, resultU64Ptr: usize): u32;

@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): u32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamPtr: usize, upstreamSize: usize, headerPairsPtr: usize, headerPairsSize: usize,
  bodyPtr: usize, bodySize: usize, trailerPairsPtr: usize, trailerPairsSize: usize,
  timeoutMs: u32, tokenPtr: usize): u32;

@external("env", "proxy_grpc_call")
export declare function proxy_grpc_call(
  servicePtr: usize, serviceSize: usize, serviceNamePtr: usize, serviceNameSize: usize,
  methodPtr: usize, methodSize: usize, initialMetadataPtr: usize, initialMetadataSize: usize,
  messagePtr: usize, messageSize: usize, timeoutMs: u32, tokenPtr: usize): u32;

@external("env", "proxy_grpc_stream")
export declare function proxy_grpc_stream(
  servicePtr: usize, serviceSize: usize, serviceNamePtr: usize, serviceNameSize: usize,
  methodPtr: usize, methodSize: usize, initialMetadataPtr: usize, initialMetadataSize: usize, tokenPtr: usize): u32;

@external("env", "proxy_grpc_send")
export declare function proxy_grpc_send(token: u32, messagePtr: usize, messageSize: usize, endStream: u32): u32;

@external("env", "proxy_grpc_cancel")
export declare function proxy_grpc_cancel(token: u32): u32;

@external("env", "proxy_grpc_close")
export declare function proxy_grpc_close(token: u32): u32;

@external("env", "proxy_get_status")
export declare function proxy_get_status(codePtr: usize, messagePtrPtr: usize, messageSizePtr: usize): u32;

// WASI, as cpp-host registers it (proxy-wasm-envoy.md §1.2): only the two calls that read
// vm_config.environment_variables, which every Envoy since 2021 provides and allows in every phase.
@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function environ_sizes_get(countPtr: usize, bufferSizePtr: usize): u32;

@external("wasi_snapshot_preview1", "environ_get")
export declare function environ_get(pointersPtr: usize, bufferPtr: usize): u32;
