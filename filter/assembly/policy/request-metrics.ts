// Request metric naming and cardinality bounds. Pure: the glue defines the metrics with the host.
//
// Envoy stats carry no labels, so tags are encoded Istio-style in the stat name,
//   reporter=.=source;.;source_workload=.=W;.;source_workload_namespace=.=N;.;destination_service=.=S;.;
//   destination_service_name=.=SN;.;destination_service_namespace=.=SNS;.;upstream_cluster=.=X;.;path=.=Y;.;
//   method=.=GET;.;response_code=.=200;.;tenant=.=acme;.;meshlens_requests_total
// and cut back out by the TagSpecifiers Istio renders from extraStatTags ("(<tag>=\\.=(.*?);\\.;)"; the list is
// filter/stats-tags.json). Every label the filter emits, response_code included, must be in extraStatTags: Istio
// ≥ 1.18 declares no response_code specifier of that form (istio/istio#44154).
//
// Istio's bootstrap also has unanchored specifiers (cache, component, tag, wasm_filter, authz_*; see
// ISTIO_UNANCHORED below) that Envoy runs on every stat name, labels included: a cluster like
// outbound|6379||redis-cache.default.svc.cluster.local would gain cache="default". Envoy lets only the first
// matching specifier of a tag name produce that tag (TagProducerImpl::produceTags), and extraStatTags come before
// those specifiers. So a name whose values contain such a trigger starts with an empty guard field of that tag name
// ("cache=.=;.;"), extracted by our own extraStatTags entry of that name: Istio's is then skipped, the value stays
// whole, and the empty label is no label to Prometheus.
import { Admission, LabelAdmission, LocalAdmission } from "./label-admission";
import { destinationServiceOf, ISTIO_UNKNOWN_LABEL, OVERFLOW_LABEL } from "./labels";

export const REQUESTS_TOTAL = "meshlens_requests_total";
export const REQUEST_DURATION = "meshlens_request_duration_milliseconds";
export const SERIES_OVERFLOW_TOTAL = "meshlens_series_overflow_total";

export const TAG_UPSTREAM_CLUSTER = "upstream_cluster";
export const TAG_PATH = "path";
export const TAG_METHOD = "method";
export const TAG_RESPONSE_CODE = "response_code";
export const TAG_TENANT = "tenant";
export const TAG_REPORTER = "reporter";
export const TAG_SOURCE_WORKLOAD = "source_workload";
export const TAG_SOURCE_WORKLOAD_NAMESPACE = "source_workload_namespace";
export const TAG_DESTINATION_SERVICE = "destination_service";
export const TAG_DESTINATION_SERVICE_NAME = "destination_service_name";
export const TAG_DESTINATION_SERVICE_NAMESPACE = "destination_service_namespace";

// Istio's reporter values (istio/proxy istio_stats.cc): a client-side proxy reports "source", a waypoint
// "waypoint"; the filter runs on outbound traffic only.
export const REPORTER_SOURCE = "source";
export const REPORTER_WAYPOINT = "waypoint";

// Istio 1.24–1.28 bootstrap specifiers that can match inside a label value: their tag name and the fixed text a
// value must contain for them to match (istio/istio tools/packaging/common/envoy_bootstrap.json; values never
// contain "=" or ";", and the separators put "=" before and ";" after every value, so only text inside a value can
// complete them).
const ISTIO_UNANCHORED_TAGS: Array<string> = [
  "cache", "component", "tag", "wasm_filter", "authz_enforce_result", "authz_enforce_result", "authz_dry_run_action",
  "authz_dry_run_action", "authz_dry_run_result", "authz_dry_run_result",
];
const ISTIO_UNANCHORED_TRIGGERS: Array<string> = [
  "cache.", "component.", "tag.", "wasm_filter.", "rbac.allowed", "rbac.denied", ".istio_dry_run_allow_",
  ".istio_dry_run_deny_", ".shadow_allowed", ".shadow_denied",
];

const VALUE_SEPARATOR = "=.=";
const FIELD_SEPARATOR = ";.;";

// Longest label value kept; longer values are cut (they are already bounded upstream, this is the last guard).
export const MAX_LABEL_VALUE_LENGTH: i32 = 256;

// Registered HTTP methods, in the order of their indices.
export const KNOWN_METHODS: Array<string> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

// Index of the "~other" method; known methods are 0..OTHER_METHOD-1.
export const OTHER_METHOD: i32 = 9;
// Index of the "~other" response code; valid codes are their own index 0..999.
export const OTHER_RESPONSE_CODE: i32 = 1000;

// Methods are case-sensitive (RFC 9110); anything outside the registered set is "~other", like OTel's _OTHER.
export function methodIndex(method: string | null): i32 {
  if (method === null) return OTHER_METHOD;
  for (let i = 0; i < KNOWN_METHODS.length; i++) {
    if (KNOWN_METHODS[i] == method) return i;
  }
  return OTHER_METHOD;
}

export function methodLabel(index: i32): string {
  return index >= 0 && index < KNOWN_METHODS.length ? KNOWN_METHODS[index] : OVERFLOW_LABEL;
}

export function boundedMethod(method: string | null): string {
  return methodLabel(methodIndex(method));
}

// Envoy reports 0 when no response was sent; anything outside 0..999 is not an HTTP status.
export function responseCodeIndex(code: i64): i32 {
  return code < 0 || code > 999 ? OTHER_RESPONSE_CODE : <i32>code;
}

export function responseCodeLabelOf(index: i32): string {
  return index >= 0 && index < OTHER_RESPONSE_CODE ? index.toString() : OVERFLOW_LABEL;
}

export function responseCodeLabel(code: i64): string {
  return responseCodeLabelOf(responseCodeIndex(code));
}

// One small integer per (method, response code) pair, for keying per-label-set caches without strings.
export function methodAndCodeKey(method: i32, responseCode: i32): i32 {
  return method * (OTHER_RESPONSE_CODE + 1) + responseCode;
}

function isSafeValueChar(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e || c == 0x2f || c == 0x7b || c == 0x7d || c == 0x7c ||
    c == 0x3a || c == 0x40 || c == 0x2b;
}

// Keeps [A-Za-z0-9-._~/{}|:@+] and replaces everything else with "_", so no value can contain the separators
// "=.=" or ";.;" (nor newlines, quotes or backslashes that would need escaping in the exposition).
export function sanitizeLabelValue(value: string): string {
  const length = value.length < MAX_LABEL_VALUE_LENGTH ? value.length : MAX_LABEL_VALUE_LENGTH;
  let clean = length == value.length;
  for (let i = 0; i < length && clean; i++) {
    if (!isSafeValueChar(value.charCodeAt(i))) clean = false;
  }
  if (clean) return value;
  if (length == 0) return "";
  const codes = new Array<i32>(length);
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    codes[i] = isSafeValueChar(c) ? c : 0x5f;
  }
  return String.fromCharCodes(codes);
}

// The labels every series of this VM carries, from the proxy's node (set once in on_configure, before any metric
// is defined): already encoded, as they repeat in every stat name.
let proxyFields: string = encodeFields([TAG_REPORTER, TAG_SOURCE_WORKLOAD, TAG_SOURCE_WORKLOAD_NAMESPACE],
  [REPORTER_SOURCE, ISTIO_UNKNOWN_LABEL, ISTIO_UNKNOWN_LABEL]);

export function setProxyLabels(reporter: string, workload: string, namespace: string): void {
  proxyFields = encodeFields([TAG_REPORTER, TAG_SOURCE_WORKLOAD, TAG_SOURCE_WORKLOAD_NAMESPACE], [
    reporter, workload.length > 0 ? workload : ISTIO_UNKNOWN_LABEL, namespace.length > 0 ? namespace : ISTIO_UNKNOWN_LABEL,
  ]);
}

function encodeFields(tagNames: Array<string>, tagValues: Array<string>): string {
  const parts = new Array<string>(tagNames.length * 4);
  for (let i = 0; i < tagNames.length; i++) {
    parts[i * 4] = tagNames[i];
    parts[i * 4 + 1] = VALUE_SEPARATOR;
    parts[i * 4 + 2] = sanitizeLabelValue(tagValues[i]);
    parts[i * 4 + 3] = FIELD_SEPARATOR;
  }
  return parts.join("");
}

// Empty guard fields for the unanchored Istio tags whose trigger text occurs in `fields` (see the file comment).
function guardFields(fields: string): string {
  let guards = "";
  let last = "";
  for (let i = 0; i < ISTIO_UNANCHORED_TRIGGERS.length; i++) {
    const tag = ISTIO_UNANCHORED_TAGS[i];
    if (tag == last || !fields.includes(ISTIO_UNANCHORED_TRIGGERS[i])) continue;
    guards += tag + VALUE_SEPARATOR + FIELD_SEPARATOR;
    last = tag;
  }
  return guards;
}

// Encodes sanitized tag values in the given order followed by the metric name, after the proxy labels; an
// upstream_cluster tag brings Istio's destination_service labels derived from it.
export function encodeStatName(tagNames: Array<string>, tagValues: Array<string>, metricName: string): string {
  const names = new Array<string>();
  const values = new Array<string>();
  for (let i = 0; i < tagNames.length; i++) {
    if (tagNames[i] == TAG_UPSTREAM_CLUSTER) {
      const destination = destinationServiceOf(sanitizeLabelValue(tagValues[i]));
      names.push(TAG_DESTINATION_SERVICE);
      values.push(destination.host);
      names.push(TAG_DESTINATION_SERVICE_NAME);
      values.push(destination.name);
      names.push(TAG_DESTINATION_SERVICE_NAMESPACE);
      values.push(destination.namespace);
    }
    names.push(tagNames[i]);
    values.push(tagValues[i]);
  }
  const fields = proxyFields + encodeFields(names, values);
  return guardFields(fields) + fields + metricName;
}

const REQUEST_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_PATH, TAG_METHOD, TAG_RESPONSE_CODE, TAG_TENANT];
const DURATION_TAGS: Array<string> = [TAG_UPSTREAM_CLUSTER, TAG_PATH, TAG_TENANT];

export function requestsTotalName(
  cluster: string, path: string, method: string, responseCode: string, tenant: string,
): string {
  return encodeStatName(REQUEST_TAGS, [cluster, path, method, responseCode, tenant], REQUESTS_TOTAL);
}

export function requestDurationName(cluster: string, path: string, tenant: string): string {
  return encodeStatName(DURATION_TAGS, [cluster, path, tenant], REQUEST_DURATION);
}

// The series every request falls into once the global cap is reached: totals stay exact, detail is lost.
export function overflowRequestsTotalName(): string {
  return requestsTotalName(OVERFLOW_LABEL, OVERFLOW_LABEL, OVERFLOW_LABEL, OVERFLOW_LABEL, OVERFLOW_LABEL);
}

export function overflowRequestDurationName(): string {
  return requestDurationName(OVERFLOW_LABEL, OVERFLOW_LABEL, OVERFLOW_LABEL);
}

export const SERIES_NAMESPACE = "series";

// What one stat exports in /stats/prometheus: a counter or gauge one line, a histogram one line per bucket, one for
// +Inf, one _sum and one _count. Envoy's buckets are HistogramSettingsImpl::defaultBuckets unless the bootstrap sets
// stats_config.histogram_bucket_settings, which Istio's does not (envoyproxy/envoy v1.36.x
// source/common/stats/histogram_impl.cc defaultBuckets, 19 values; source/server/admin/prometheus_stats.cc
// outputHistogram; the Node host's DEFAULT_HISTOGRAM_BUCKETS).
export const ENVOY_DEFAULT_BUCKETS: i32 = 19;
export const HISTOGRAM_SERIES: i32 = ENVOY_DEFAULT_BUCKETS + 3;

export function seriesWeight(histogram: bool): i32 {
  return histogram ? HISTOGRAM_SERIES : 1;
}

// The series every VM may define outside the budget, whatever the traffic: the "~other" request series (counter,
// and histogram when enabled), the fold counter, and `others` more (the resilience metrics' folds). They are
// counted against maxSeries up front, so the fold series never push the export past it.
export function reservedSeries(durationHistogram: bool, others: i32): i32 {
  return 1 + (durationHistogram ? HISTOGRAM_SERIES : 0) + 1 + others;
}

// The global series bound, for the whole process: a stat is admitted through the injected LabelAdmission with the
// weight of the series it exports (seriesWeight), so N worker VMs defining the same stat count it once, and every
// meshlens_ series in /stats/prometheus, folds included, stays within maxSeries together.
// Locally it also bounds what a VM keeps: label sets, and cached refusals, at most maxSeries each.
export class SeriesBudget {
  private defined: i32 = 0;
  private labelSets: i32 = 0;
  private cachedRefusals: i32 = 0;
  // What the admitted stats may weigh together: maxSeries less the reserved fold series.
  readonly cap: i32;

  constructor(
    public readonly maxSeries: i32, private admission: LabelAdmission = new LocalAdmission(), reserved: i32 = 0,
  ) {
    this.cap = maxSeries > reserved ? maxSeries - reserved : 0;
  }

  // Stats this VM has defined.
  get size(): i32 {
    return this.defined;
  }

  // Every label set stands for at least one series, so a VM never needs more than maxSeries of them.
  get roomForLabelSet(): bool {
    return this.labelSets < this.maxSeries;
  }

  noteLabelSet(): void {
    this.labelSets++;
  }

  // Takes `weight` series for `statName` unless the process-wide cap would be passed (or the registry could not
  // decide).
  admit(statName: string, weight: i32 = 1): Admission {
    const verdict = this.admission.admit(SERIES_NAMESPACE, statName, this.cap, weight);
    if (verdict == Admission.Admitted) this.defined++;
    return verdict;
  }

  // Whether one more refusal may be remembered; past the bound, refusals are asked again (one slot read each).
  mayCacheRefusal(): bool {
    if (this.cachedRefusals >= this.maxSeries) return false;
    this.cachedRefusals++;
    return true;
  }
}
