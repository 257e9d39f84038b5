// Public API of the Node proxy-wasm host (the "Node host API" contract).
export { ManualClock, RealClock, type Clock, type TimerSource } from './clock.ts';
export { PluginLoadError, WasmTrap } from './errors.ts';
export { EnvoyStats, DEFAULT_HISTOGRAM_BUCKETS, loadDefaultStatsTags, filterExtraStatTags, type TagSpecifier } from './stats.ts';
export {
  ENVOY_PROFILES, DEFAULT_PROFILE, OLDEST_PROFILE, LEGACY_PROPERTY_NAMES, envoyProfile, type EnvoyProfile,
} from './envoy-profiles.ts';
export { ISTIO_VERSIONS, istioBootstrapStatsTags, extraStatTagSpecifier, type IstioVersion } from './istio-stat-tags.ts';
export {
  ProxyWasmPlugin, FAILURE_POLICIES, RELOAD_STATS, type FailurePolicy, type ReloadConfig, type PluginOptions, type SimulatedRequest,
  type SimulatedResult, type LogEntry,
} from './plugin.ts';
export { FAIL_STREAM_REPLY, type HttpStream, type RequestHeadersOutcome, type ResponseHeadersOutcome } from './http-stream.ts';
export type { StreamProps, LocalReply, LogInfo } from './stream-types.ts';
export { validateModule, type ValidatedModule, type AbiVersion } from './abi-validation.ts';
export { SharedData, processSharedData } from './shared-data.ts';
export { parseModuleShape } from './wasm-binary.ts';
export type { NodeInfo } from './properties.ts';
export { WasmResult, MapType, BufferType, MetricType, RESPONSE_FLAG_BITS, LOG_LEVELS, type LogLevel } from './abi-constants.ts';
