// What the filter's contexts call: one function per call site, so contexts/root.ts and contexts/http.ts each gain
// a line or two. Reads and writes headers and properties through abi/host.ts; decisions come from Resilience.
import {
  getPropertyI64, getPropertyString, HeaderMapSnapshot, MapType, nowNanoseconds, propertyPath, removeHeader,
  replaceHeader, sendLocalResponse,
} from "../abi/host";
import { JsonValue } from "../json";
import { parsePolicy, ResiliencePolicy } from "../policy/resilience-policy";
import { needsResponder } from "../policy/circuit-breaker";
import { methodLabel } from "../policy/request-metrics";
import { HostResilienceMetrics, HostSharedStore } from "./host-bindings";
import { AdmitResult, Resilience } from "./resilience";
import { ExportedSeries } from "../contexts/series";

const RESPONSE_GRPC_STATUS = propertyPath(["response", "grpc_status"]);
const RESPONSE_FLAGS = propertyPath(["response", "flags"]);
const RESPONSE_CODE_DETAILS = propertyPath(["response", "code_details"]);
const VIA_UPSTREAM = "via_upstream";
const ATTEMPT_COUNT = propertyPath(["upstream", "request_attempt_count"]);
// The upstream host of the last attempt as "ip:port": Envoy's CEL `upstream.address` is
// upstreamInfo().upstreamHost()->address()->asStringView() (envoyproxy/envoy v1.36.0
// source/extensions/filters/common/expr/context.cc, UpstreamLookupValues Address; the same since 1.33).
export const UPSTREAM_ADDRESS = propertyPath(["upstream", "address"]);

export const BREAKER_OPEN_STATUS: u32 = 503;
export const BREAKER_OPEN_DETAILS = "meshlens_breaker_open";
export const BREAKER_HEADER = "x-meshlens-breaker";
const GRPC_UNAVAILABLE: i32 = 14;
export const ENVOY_HEADER_PREFIX = "x-envoy-";

export function nowMs(): f64 {
  return <f64>(nowNanoseconds() / 1000000);
}

export class ResilienceSetup {
  resilience: Resilience | null = null;
  error: string = "";
}

// Built once per VM in on_configure from the plugin config's "defaultPolicy" (absent: every default, all clusters).
// A refused policy is reported as a filter-config error so on_configure fails with one critical line.
export function createResilience(defaultPolicy: JsonValue | null, series: ExportedSeries): ResilienceSetup {
  const setup = new ResilienceSetup();
  let policy = new ResiliencePolicy();
  if (defaultPolicy !== null) {
    const parsed = parsePolicy(defaultPolicy);
    if (parsed.value === null) {
      setup.error = parsed.error.replace("invalid policy: ", "invalid filter config: defaultPolicy.");
      return setup;
    }
    policy = parsed.value!;
  }
  const resilience = new Resilience(new HostSharedStore(), new HostResilienceMetrics(series));
  resilience.setPolicies([policy]);
  setup.resilience = resilience;
  return setup;
}

export class PolicyListResult {
  policies: Array<ResiliencePolicy> | null = null;
  error: string = "";
}

// Policies pushed by the control plane, ahead of the plugin's default: among equally specific targets the earlier
// one wins, so a pushed "*" policy overrides the default. The first invalid policy refuses the whole set (NACK),
// and the caller keeps the previous one.
export function policiesFrom(pushed: Array<JsonValue>, defaultPolicy: ResiliencePolicy): PolicyListResult {
  const result = new PolicyListResult();
  const list = new Array<ResiliencePolicy>();
  for (let i = 0; i < pushed.length; i++) {
    const parsed = parsePolicy(pushed[i]);
    if (parsed.value === null) {
      result.error = parsed.error;
      return result;
    }
    list.push(parsed.value!);
  }
  list.push(defaultPolicy);
  result.policies = list;
  return result;
}

// on_request_headers: strips caller retry headers, then either replies 503 locally (breaker Open) or sets the
// retry headers. Returns the admission to hand to recordResponse in on_log; `reject` means the local reply is sent
// and the callback must stop iteration.
// `method` is the stream's method index (policy/request-metrics methodIndex): its label is the method itself for
// registered methods, so no header is decoded again here. `isGrpc` is the content-type's verdict, `envoyHeaders`
// whether any request header starts with ENVOY_HEADER_PREFIX (both from the stream's one pass over the headers).
// `out` is the stream context's own result, refilled.
export function admitRequest(
  resilience: Resilience, cluster: string, tenant: string, pathTemplate: string, method: i32, isGrpc: bool,
  envoyHeaders: bool, headers: HeaderMapSnapshot, out: AdmitResult,
): AdmitResult {
  const admitted = resilience.admit(cluster, tenant, pathTemplate, methodLabel(method), isGrpc, nowMs(), out);
  const strip = admitted.headersToRemove;
  // Every stripped name is an x-envoy-* header (RETRY_HEADERS_TO_STRIP); most requests carry none.
  if (envoyHeaders) {
    for (let i = 0; i < strip.length; i++) {
      if (headers.has(strip[i])) removeHeader(MapType.RequestHeaders, strip[i]);
    }
  }
  if (admitted.reject) {
    sendLocalResponse(BREAKER_OPEN_STATUS, BREAKER_OPEN_DETAILS, "upstream circuit breaker open",
      [BREAKER_HEADER, "open"], isGrpc ? GRPC_UNAVAILABLE : -1);
    return admitted;
  }
  const set = admitted.headersToSet;
  for (let i = 0; i + 1 < set.length; i += 2) replaceHeader(MapType.RequestHeaders, set[i], set[i + 1]);
  return admitted;
}

// What on_log reads about the upstream exchange beyond code and duration. Read once per stream and shared by the
// breaker (recordResponse) and the telemetry window (recordRequestTelemetry): each property is a host call.
export class ResponseFacts {
  // < 0 when NOT_FOUND, not read, or out of range.
  grpcStatus: i32 = -1;
  flags: u64 = 0;
  // 1 when not retried; 0 when unknown.
  attempts: i32 = 0;
  // The upstream sent the response (response.code_details "via_upstream"); see classifyOutcome's table.
  fromUpstream: bool = false;
}

// gRPC status only when asked: for non-gRPC requests Envoy derives it from the HTTP status, which the breaker must
// not see. The attempt count is read always: a route retry policy may retry what meshlens did not grant.
// Who answered is asked only when it can change the outcome (needsResponder): flagged or 5xx responses.
export function readResponseFacts(withGrpcStatus: bool, responseCode: i32, out: ResponseFacts): ResponseFacts {
  const grpcStatus = withGrpcStatus ? getPropertyI64(RESPONSE_GRPC_STATUS, -1) : -1;
  out.grpcStatus = grpcStatus < 0 || grpcStatus > 16 ? -1 : <i32>grpcStatus;
  const flags = <u64>getPropertyI64(RESPONSE_FLAGS, 0);
  out.flags = flags;
  if (needsResponder(responseCode, flags)) {
    const details = getPropertyString(RESPONSE_CODE_DETAILS);
    out.fromUpstream = details !== null && details == VIA_UPSTREAM;
  } else {
    out.fromUpstream = responseCode > 0;
  }
  const attempts = getPropertyI64(ATTEMPT_COUNT, 0);
  out.attempts = attempts < 0 || attempts > 1000 ? 0 : <i32>attempts;
  return out;
}

// Whether recordResponse will use the stream's outcome (admitted into a scope, not rejected).
export function recordsOutcome(admitted: AdmitResult | null): bool {
  return admitted !== null && !admitted.reject && admitted.scope !== null;
}

// on_log: feeds the outcome (and the retries Envoy actually made) to the breaker window and the retry budget.
// responseCode and durationMs are the values the request metrics already read; `facts` were read with the gRPC
// status when admitted.isGrpc.
export function recordResponse(
  resilience: Resilience, admitted: AdmitResult | null, responseCode: i64, durationMs: f64, facts: ResponseFacts,
): void {
  if (admitted === null || !recordsOutcome(admitted)) return;
  const code = responseCode < 0 || responseCode > 999 ? 0 : <i32>responseCode;
  let fromSuspect = false;
  if (resilience.excusesNetwork(admitted)) {
    const address = getPropertyString(UPSTREAM_ADDRESS);
    fromSuspect = address !== null && resilience.isSuspect(address);
  }
  resilience.record(admitted, code, admitted.isGrpc ? facts.grpcStatus : -1, facts.flags, facts.fromUpstream, durationMs,
    facts.attempts, nowMs(), fromSuspect);
}
