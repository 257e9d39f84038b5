// Test-only entry: exposes the pure layers (json, config, policy/) with string-in/string-out functions so the
// Node tests can exercise them without a proxy-wasm host. Built to filter/build/policy-harness.wasm; never shipped.
import { JsonKind, JsonValue, parseJson } from "../json";
import { parseFilterConfig } from "../config";
import { TenantBounds, TenantResolver } from "../policy/tenant";
import { LocalAdmission } from "../policy/label-admission";
import { isIdLikeSegment, PathTemplater, PathTemplaterOptions } from "../policy/path-template";
import {
  boundedMethod, requestDurationName, requestsTotalName, responseCodeLabel, sanitizeLabelValue, setProxyLabels,
} from "../policy/request-metrics";
import { destinationServiceOf } from "../policy/labels";

function quote(text: string): string {
  const out = new Array<string>();
  out.push("\"");
  let plainFrom = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c != 0x22 && c != 0x5c && c >= 0x20 && c < 0x7f) continue;
    out.push(text.substring(plainFrom, i));
    if (c == 0x22) out.push("\\\"");
    else if (c == 0x5c) out.push("\\\\");
    else {
      const hex = c.toString(16);
      out.push("\\u" + "0000".substring(hex.length) + hex);
    }
    plainFrom = i + 1;
  }
  out.push(text.substring(plainFrom));
  out.push("\"");
  return out.join("");
}

// Canonical JSON (numbers as the hex of their f64 bits) so tests can compare against JSON.parse + a JS re-serializer.
function serialize(value: JsonValue): string {
  switch (value.kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return value.bool ? "true" : "false";
    case JsonKind.Number: return "n:" + reinterpret<u64>(value.num).toString(16);
    case JsonKind.String: return quote(value.str);
    case JsonKind.Array: {
      const parts = new Array<string>();
      for (let i = 0; i < value.items.length; i++) parts.push(serialize(value.items[i]));
      return "[" + parts.join(",") + "]";
    }
    default: {
      const parts = new Array<string>();
      for (let i = 0; i < value.keys.length; i++) parts.push(quote(value.keys[i]) + ":" + serialize(value.values[i]));
      return "{" + parts.join(",") + "}";
    }
  }
}

export function jsonParse(text: string, maxDepth: i32): string {
  const result = parseJson(text, maxDepth);
  const value = result.value;
  if (value === null) return "error: " + result.error;
  return serialize(value);
}

export function jsonGet(text: string, key: string): string {
  const value = parseJson(text).value;
  if (value === null) return "error";
  const found = value.get(key);
  return found === null ? "null-result" : serialize(found);
}

// Either the single error line or a summary of the typed config.
export function configParse(text: string): string {
  const result = parseFilterConfig(text);
  const config = result.config;
  if (config === null) return result.error;
  const allowed = config.tenant.allowed;
  const controlPlane = config.controlPlane;
  const policy = config.defaultPolicy;
  return "ok" +
    " tenant.headers=" + config.tenant.headers.join(",") +
    " tenant.maxLength=" + config.tenant.maxLength.toString() +
    " tenant.allowed=" + (allowed === null ? "-" : allowed.join(",")) +
    " tenant.maxTenants=" + config.tenant.maxTenants.toString() +
    " paths.templates=" + config.paths.templates.join(",") +
    " paths.maxPerCluster=" + config.paths.maxPerCluster.toString() +
    " paths.maxLength=" + config.paths.maxLength.toString() +
    " paths.collapseIds=" + (config.paths.collapseIds ? "true" : "false") +
    " metrics.maxSeries=" + config.metrics.maxSeries.toString() +
    " metrics.maxClusters=" + config.metrics.maxClusters.toString() +
    " metrics.durationHistogram=" + (config.metrics.durationHistogram ? "true" : "false") +
    " tickMs=" + config.tickMs.toString() +
    " reportIntervalMs=" + config.reportIntervalMs.toString() +
    " controlPlane=" + (controlPlane === null ? "-" :
      controlPlane.cluster + "/" + controlPlane.timeoutMs.toString() + "/" + controlPlane.token +
      (controlPlane.tokenEnv.length > 0 ? " tokenEnv=" + controlPlane.tokenEnv : "")) +
    " node.id=" + config.node.id +
    " defaultPolicy=" + (policy === null ? "-" : serialize(policy));
}

let tenants: TenantResolver = new TenantResolver(new TenantBounds(64, 100, null));

// `allowedCsv` "-" means no allow-list.
export function tenantSetup(maxLength: i32, maxTenants: i32, allowedCsv: string): void {
  let allowed: Set<string> | null = null;
  if (allowedCsv != "-") {
    allowed = new Set<string>();
    const items = allowedCsv.split(",");
    for (let i = 0; i < items.length; i++) if (items[i].length > 0) allowed.add(items[i]);
  }
  tenants = new TenantResolver(new TenantBounds(maxLength, maxTenants, allowed));
}

// Two resolvers over one registry, as two worker VMs over shared data.
let twinTenants: Array<TenantResolver> = new Array<TenantResolver>();

export function tenantTwinSetup(maxTenants: i32): void {
  const registry = new LocalAdmission();
  twinTenants = [
    new TenantResolver(new TenantBounds(64, maxTenants, null), registry),
    new TenantResolver(new TenantBounds(64, maxTenants, null), registry),
  ];
}

export function tenantTwinResolve(index: i32, value: string): string {
  return twinTenants[index].bound(value);
}

// Header values separated by "\n"; the single character "\u0001" marks an absent header.
export function tenantResolve(values: string): string {
  const parts = values.split("\n");
  const headerValues = new Array<string | null>(parts.length);
  for (let i = 0; i < parts.length; i++) headerValues[i] = parts[i] == "\u0001" ? null : parts[i];
  return tenants.resolve(headerValues);
}

export function tenantDistinct(): i32 {
  return tenants.distinctTenants;
}

let paths: PathTemplater = new PathTemplater(new PathTemplaterOptions([], 200, 2048, 256, true));

export function pathSetup(templatesNewline: string, maxPerCluster: i32, maxLength: i32, maxClusters: i32,
  collapseIds: bool): void {
  const templates = templatesNewline.length == 0 ? new Array<string>() : templatesNewline.split("\n");
  paths = new PathTemplater(new PathTemplaterOptions(templates, maxPerCluster, maxLength, maxClusters, collapseIds));
}

export function pathTemplate(path: string): string {
  return paths.template(path);
}

export function pathBounded(cluster: string, path: string): string {
  return paths.bounded(cluster, path);
}

// The filter's route: the path as the UTF-8 bytes of a header value.
export function pathTemplateUtf8(path: string): string {
  const bytes = String.UTF8.encode(path);
  return paths.templateUtf8(changetype<usize>(bytes), bytes.byteLength);
}

export function pathBoundedUtf8(cluster: string, path: string): string {
  const bytes = String.UTF8.encode(path);
  return paths.boundedUtf8(cluster, changetype<usize>(bytes), bytes.byteLength);
}

// Whether two paths (each as UTF-8 bytes) get the very same template string object.
export function pathSameTemplateObject(first: string, second: string): bool {
  return pathTemplateUtf8(first) === pathTemplateUtf8(second);
}

export function pathTemplateCount(cluster: string): i32 {
  return paths.templateCount(cluster);
}

export function idLike(segment: string): bool {
  return isIdLikeSegment(segment, 0, segment.length);
}

export function metricRequestsName(cluster: string, path: string, method: string, code: string, tenant: string): string {
  return requestsTotalName(cluster, path, method, code, tenant);
}

export function metricProxyLabels(reporter: string, workload: string, namespace: string): void {
  setProxyLabels(reporter, workload, namespace);
}

// "host|name|namespace" of the service a cluster routes to.
export function metricDestination(cluster: string): string {
  const d = destinationServiceOf(cluster);
  return d.host + "|" + d.name + "|" + d.namespace;
}

export function metricDurationName(cluster: string, path: string, tenant: string): string {
  return requestDurationName(cluster, path, tenant);
}

export function metricMethod(method: string): string {
  return boundedMethod(method);
}

export function metricResponseCode(code: i64): string {
  return responseCodeLabel(code);
}

export function metricSanitize(value: string): string {
  return sanitizeLabelValue(value);
}
