// One HTTP stream: resolves its labels at request headers and records them at log time.
import {
  decodeUtf8, FilterHeadersStatus, getHeaderMap, getPropertyI64, getPropertyStringInterned, HeaderMapSnapshot, MapType,
  matchAscii, propertyPath,
} from "../abi/host";
import { UNKNOWN_LABEL } from "../policy/labels";
import { KNOWN_METHODS, OTHER_METHOD, responseCodeIndex } from "../policy/request-metrics";
import { CONTENT_TYPE_HEADER, FIRST_TENANT_HEADER, METHOD_HEADER, PATH_HEADER, RootContext } from "./root";
import {
  admitRequest, ENVOY_HEADER_PREFIX, readResponseFacts, recordResponse, recordsOutcome,
} from "../resilience/filter-glue";
import { isGrpcContentType } from "../policy/retry-decision";
import { AdmitResult } from "../resilience/resilience";
import { recordRequestTelemetry } from "../control/session";

// Served to Wasm since Envoy 1.29 (envoy PR #31620), so by every supported Envoy (1.32 … 1.36); the legacy top-level
// cluster_name is gone from 1.33 (PR #36619) and no supported version needs it.
const XDS_CLUSTER_NAME = propertyPath(["xds", "cluster_name"]);
const RESPONSE_CODE = propertyPath(["response", "code"]);
const REQUEST_DURATION = propertyPath(["request", "duration"]);

const NANOSECONDS_PER_MILLISECOND: i64 = 1000000;

export class HttpContext {
  resolved: bool = false;
  cluster: string = UNKNOWN_LABEL;
  path: string = UNKNOWN_LABEL;
  method: i32 = OTHER_METHOD;
  tenant: string = UNKNOWN_LABEL;
  // A gRPC content-type; only worked out when the resilience layer needs it.
  isGrpc: bool = false;
  // Some request header starts with x-envoy- (admitRequest strips caller retry headers then).
  envoyHeaders: bool = false;
  admission: AdmitResult | null = null;
  // What admission points to once admitted: kept with the (pooled) context and refilled by every stream.
  private admitted: AdmitResult = new AdmitResult();

  constructor(public id: u32, public root: RootContext) {}

  // A finished context taken up again for a new stream (contexts/registry.ts pools them): as if just constructed.
  reuse(id: u32, root: RootContext): HttpContext {
    this.id = id;
    this.root = root;
    this.resolved = false;
    this.cluster = UNKNOWN_LABEL;
    this.path = UNKNOWN_LABEL;
    this.method = OTHER_METHOD;
    this.tenant = UNKNOWN_LABEL;
    this.isGrpc = false;
    this.envoyHeaders = false;
    this.admission = null;
    return this;
  }

  onRequestHeaders(): FilterHeadersStatus {
    if (!this.root.configured) return FilterHeadersStatus.Continue;
    const headers = getHeaderMap(MapType.RequestHeaders);
    this.resolveLabels(headers);
    // Breaker gate (an Open scope queues the local 503) and retry headers.
    const resilience = this.root.resilience;
    if (resilience !== null) {
      const admitted = admitRequest(resilience, this.cluster, this.tenant, this.path, this.method, this.isGrpc,
        this.envoyHeaders, headers, this.admitted);
      this.admission = admitted;
      // The local 503 is already queued; the host turns any return into a stop.
      if (admitted.reject) return FilterHeadersStatus.StopIteration;
    }
    return FilterHeadersStatus.Continue;
  }

  onLog(): void {
    if (!this.root.configured) return;
    // A stream reset before its headers reached the filter still gets counted; on_log can read the headers.
    if (!this.resolved) this.resolveLabels(getHeaderMap(MapType.RequestHeaders));
    const code = getPropertyI64(RESPONSE_CODE, 0);
    const durationNs = getPropertyI64(REQUEST_DURATION, 0);
    const durationMs = durationNs > 0 ? <u64>(durationNs / NANOSECONDS_PER_MILLISECOND) : 0;
    this.root.metrics!.record(this.cluster, this.path, this.tenant, this.method, responseCodeIndex(code), durationMs);
    const resilience = this.root.resilience;
    const control = this.root.control;
    const admission = this.admission;
    const rejected = admission !== null && admission.reject;
    const breakerUsesOutcome = resilience !== null && recordsOutcome(admission);
    if (!breakerUsesOutcome && (control === null || rejected)) {
      if (control !== null) recordRequestTelemetry(control, this.cluster, this.path, this.tenant, code, <f64>durationMs, admission, this.root.responseFacts);
      return;
    }
    // Read once for both consumers; the telemetry window wants the gRPC status of every stream.
    const facts = readResponseFacts(control !== null || (admission !== null && admission.isGrpc),
      code < 0 || code > 999 ? 0 : <i32>code, this.root.responseFacts);
    if (resilience !== null) recordResponse(resilience, admission, code, <f64>durationMs, facts);
    if (control !== null) recordRequestTelemetry(control, this.cluster, this.path, this.tenant, code, <f64>durationMs, admission, facts);
  }

  private resolveLabels(headers: HeaderMapSnapshot): void {
    const root = this.root;
    const cluster = getPropertyStringInterned(XDS_CLUSTER_NAME, root.recentClusters);
    this.cluster = cluster === null || cluster.length == 0 ? UNKNOWN_LABEL : cluster;

    this.envoyHeaders = headers.locate(root.headerNames, ENVOY_HEADER_PREFIX);
    const values = root.tenantHeaderValues;
    const recent = root.recentTenantValues;
    for (let i = 0; i < values.length; i++) {
      const value = headers.pointerAt(FIRST_TENANT_HEADER + i);
      unchecked(values[i] = value == 0 ? null : unchecked(recent[i]).of(value, headers.lengthAt(FIRST_TENANT_HEADER + i)));
    }
    this.tenant = root.tenants!.resolve(values);

    const path = headers.pointerAt(PATH_HEADER);
    this.path = path == 0 ? UNKNOWN_LABEL : root.paths!.boundedUtf8(this.cluster, path, headers.lengthAt(PATH_HEADER));
    // Same rule as policy/request-metrics methodIndex, matched on the raw bytes to avoid decoding the method.
    const methodValue = headers.pointerAt(METHOD_HEADER);
    const method = methodValue == 0 ? -1 : matchAscii(methodValue, headers.lengthAt(METHOD_HEADER), KNOWN_METHODS);
    this.method = method < 0 ? OTHER_METHOD : method;
    const contentType = headers.pointerAt(CONTENT_TYPE_HEADER);
    this.isGrpc = contentType != 0 && root.resilience !== null &&
      isGrpcContentType(decodeUtf8(contentType, headers.lengthAt(CONTENT_TYPE_HEADER)));
    this.resolved = true;
  }
}
