// Numeric enums of proxy-wasm ABI 0.2.1 (proxy-wasm-envoy.md §3).
export enum WasmResult {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4, BadExpression = 5,
  InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8, ResultMismatch = 9, InternalFailure = 10,
  BrokenConnection = 11, Unimplemented = 12,
}
export enum MapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4, GrpcReceiveTrailingMetadata = 5, HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}
export enum BufferType {
  HttpRequestBody = 0, HttpResponseBody = 1, DownstreamData = 2, UpstreamData = 3, HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5, VmConfiguration = 6, PluginConfiguration = 7, CallData = 8,
}
export enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export enum FilterHeadersStatus { Continue = 0, StopIteration = 1, ContinueAndEndStream = 2, StopAllIterationAndBuffer = 3, StopAllIterationAndWatermark = 4 }
export enum GrpcStatus { Ok = 0, Cancelled = 1, Unknown = 2, DeadlineExceeded = 4, Unavailable = 14 }
/** Legacy response-flag bits as `response.flags` encodes them, keyed by Envoy's short flag. */
export const RESPONSE_FLAG_BITS: Record<string, number> = {
  LH: 0x1, UH: 0x2, UT: 0x4, LR: 0x8, UR: 0x10, UF: 0x20, UC: 0x40, UO: 0x80, NR: 0x100, DI: 0x200, FI: 0x400,
  RL: 0x800, UAEX: 0x1000, RLSE: 0x2000, DC: 0x4000, URX: 0x8000, SI: 0x10000, IH: 0x20000, DPE: 0x40000,
  UMSDR: 0x80000, RFCF: 0x100000, NFCF: 0x200000, DT: 0x400000, UPE: 0x800000, NC: 0x1000000, OM: 0x2000000, DF: 0x4000000,
};
