// The plugin configuration: parsed once in on_configure into an immutable FilterConfig.
// Any problem yields exactly one message "invalid filter config: <field> must <rule>".
//
// {
//   "tenant":   { "headers": ["x-tenant-id"], "maxLength": 64, "allowed": ["acme"], "maxTenants": 100 },
//   "paths":    { "templates": ["/api/orders/{id}"], "maxPerCluster": 200, "maxLength": 2048, "collapseIds": true },
//   "metrics":  { "maxSeries": 5000, "maxClusters": 256, "durationHistogram": true },
//   "tickMs": 200, "reportIntervalMs": 1000,
//   "controlPlane": { "cluster": "outbound|18000||meshlens.meshlens-system.svc.cluster.local",
//                     "timeoutMs": 5000, "tokenEnv": "MESHLENS_PROXY_TOKEN" },   (or "token": "..." inline)
//   "node": { "id": "sidecar~10.0.0.1~orders-1.default~default.svc.cluster.local", "workload": "orders",
//             "namespace": "default" },   (optional: by default Envoy's xds.node id, WORKLOAD_NAME and NAMESPACE)
//   "defaultPolicy": { ... }    (validated by the resilience policy parser)
// }
//
// controlPlane.tokenEnv names a VM environment variable (vm_config.environment_variables) holding the bearer token,
// so the secret stays out of EnvoyFilter/WasmPlugin resources that many can read. Parsing stays pure: it records the
// name, and on_configure completes the config with resolveTokenEnv once it has read the variable through the host.
import { JsonKind, JsonValue, parseJson } from "./json";
import { normalizeTenant } from "./policy/tenant";
import { templateProblem } from "./policy/path-template";

export const CONFIG_ERROR_PREFIX = "invalid filter config: ";

export class TenantConfig {
  constructor(
    public readonly headers: Array<string>,
    public readonly maxLength: i32,
    // Lower-cased, or null when every valid tenant is accepted up to maxTenants.
    public readonly allowed: Array<string> | null,
    public readonly maxTenants: i32,
  ) {}
}

export class PathsConfig {
  constructor(
    public readonly templates: Array<string>,
    public readonly maxPerCluster: i32,
    public readonly maxLength: i32,
    public readonly collapseIds: bool,
  ) {}
}

export class MetricsConfig {
  constructor(
    public readonly maxSeries: i32,
    public readonly maxClusters: i32,
    public readonly durationHistogram: bool,
  ) {}
}

export class ControlPlaneConfig {
  constructor(
    public readonly cluster: string,
    public readonly timeoutMs: i32,
    // Empty until resolveTokenEnv fills it in when tokenEnv is set.
    public readonly token: string,
    // Empty when the token is inline (or absent).
    public readonly tokenEnv: string,
  ) {}
}

export class NodeConfig {
  constructor(
    public readonly id: string,
    public readonly workload: string,
    public readonly namespace: string,
  ) {}
}

export class FilterConfig {
  constructor(
    public readonly tenant: TenantConfig,
    public readonly paths: PathsConfig,
    public readonly metrics: MetricsConfig,
    public readonly tickMs: i32,
    public readonly reportIntervalMs: i32,
    public readonly controlPlane: ControlPlaneConfig | null,
    public readonly node: NodeConfig,
    // Raw JSON; the resilience policy parser owns its schema.
    public readonly defaultPolicy: JsonValue | null,
  ) {}
}

export class ConfigResult {
  config: FilterConfig | null = null;
  // Complete log line ("invalid filter config: ...") when config is null.
  error: string = "";
}

export const DEFAULT_TENANT_HEADER = "x-tenant-id";
export const DEFAULT_TENANT_MAX_LENGTH: i32 = 64;
export const DEFAULT_MAX_TENANTS: i32 = 100;
export const DEFAULT_PATHS_MAX_PER_CLUSTER: i32 = 200;
export const DEFAULT_PATH_MAX_LENGTH: i32 = 2048;
// At about 370 bytes a series with Istio's join labels and typical values, 5000 keep the worst-case scrape under
// 2 MB (test/filter/series-bound.test.ts measures it).
export const DEFAULT_MAX_SERIES: i32 = 5000;
// maxSeries counts every exported meshlens_ series, the reserved fold series included (policy/request-metrics
// reservedSeries: at most 34), so a smaller bound could not hold.
export const MIN_MAX_SERIES: i32 = 64;
export const DEFAULT_MAX_CLUSTERS: i32 = 256;
export const DEFAULT_TICK_MS: i32 = 200;
export const DEFAULT_REPORT_INTERVAL_MS: i32 = 1000;
export const DEFAULT_CONTROL_PLANE_TIMEOUT_MS: i32 = 5000;

const MAX_CONFIG_DEPTH: i32 = 32;
const MAX_TOKEN_LENGTH: i32 = 4096;

// Collects the first problem; later checks become no-ops so the caller can read fields linearly.
class Reader {
  error: string = "";

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(field: string, rule: string): void {
    if (!this.failed) this.error = CONFIG_ERROR_PREFIX + field + " must " + rule;
  }

  object(value: JsonValue | null, field: string, known: Array<string>): JsonValue | null {
    if (value === null) return null;
    if (value.kind != JsonKind.Object) {
      this.fail(field, "be an object");
      return null;
    }
    for (let i = 0; i < value.keys.length; i++) {
      const key = value.keys[i];
      if (!known.includes(key)) {
        this.fail(field.length > 0 ? field + "." + key : key, "not be present (unknown key; known: " + known.join(", ") + ")");
        return null;
      }
    }
    return value;
  }

  integer(parent: JsonValue | null, key: string, field: string, fallback: i32, min: i32, max: i32): i32 {
    if (parent === null) return fallback;
    const value = parent.get(key);
    if (value === null) return fallback;
    const rule = "be an integer in [" + min.toString() + ", " + max.toString() + "]";
    if (value.kind != JsonKind.Number) {
      this.fail(field, rule);
      return fallback;
    }
    const n = value.num;
    if (!(n >= <f64>min && n <= <f64>max) || Math.floor(n) != n) {
      this.fail(field, rule);
      return fallback;
    }
    return <i32>n;
  }

  boolean(parent: JsonValue | null, key: string, field: string, fallback: bool): bool {
    if (parent === null) return fallback;
    const value = parent.get(key);
    if (value === null) return fallback;
    if (value.kind != JsonKind.Bool) {
      this.fail(field, "be true or false");
      return fallback;
    }
    return value.bool;
  }

  string(parent: JsonValue | null, key: string, field: string, fallback: string, required: bool, maxLength: i32): string {
    const value: JsonValue | null = parent === null ? null : parent.get(key);
    if (value === null) {
      if (required) this.fail(field, "be set");
      return fallback;
    }
    if (value.kind != JsonKind.String) {
      this.fail(field, "be a string");
      return fallback;
    }
    if (required && value.str.length == 0) {
      this.fail(field, "be a non-empty string");
      return fallback;
    }
    if (value.str.length > maxLength) {
      this.fail(field, "be at most " + maxLength.toString() + " characters");
      return fallback;
    }
    return value.str;
  }

  // Null when absent; an empty array when invalid (after recording the problem).
  stringArray(parent: JsonValue | null, key: string, field: string, minItems: i32, maxItems: i32): Array<string> | null {
    const value: JsonValue | null = parent === null ? null : parent.get(key);
    if (value === null) return null;
    const rule = "be an array of " + minItems.toString() + " to " + maxItems.toString() + " strings";
    if (value.kind != JsonKind.Array || value.items.length < minItems || value.items.length > maxItems) {
      this.fail(field, rule);
      return new Array<string>();
    }
    const out = new Array<string>();
    for (let i = 0; i < value.items.length; i++) {
      const item = value.items[i];
      if (item.kind != JsonKind.String) {
        this.fail(field + "[" + i.toString() + "]", "be a string");
        return new Array<string>();
      }
      out.push(item.str);
    }
    return out;
  }
}

function isHeaderNameChar(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f;
}

function firstDuplicate(values: Array<string>): i32 {
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    if (seen.has(values[i])) return i;
    seen.add(values[i]);
  }
  return -1;
}

function readTenant(reader: Reader, root: JsonValue): TenantConfig {
  const section = reader.object(root.get("tenant"), "tenant", ["headers", "maxLength", "allowed", "maxTenants"]);
  let headers = reader.stringArray(section, "headers", "tenant.headers", 1, 8);
  if (headers === null) headers = [DEFAULT_TENANT_HEADER];
  for (let i = 0; i < headers.length && !reader.failed; i++) {
    const name = headers[i];
    let valid = name.length > 0 && name.length <= 128;
    for (let j = 0; j < name.length && valid; j++) valid = isHeaderNameChar(name.charCodeAt(j));
    if (!valid) reader.fail("tenant.headers[" + i.toString() + "]", "be a lower-case header name of [a-z0-9_-]");
  }
  if (!reader.failed && firstDuplicate(headers) >= 0) {
    reader.fail("tenant.headers[" + firstDuplicate(headers).toString() + "]", "not repeat an earlier header");
  }
  const maxLength = reader.integer(section, "maxLength", "tenant.maxLength", DEFAULT_TENANT_MAX_LENGTH, 1, 256);
  const maxTenants = reader.integer(section, "maxTenants", "tenant.maxTenants", DEFAULT_MAX_TENANTS, 1, 10000);
  const allowedRaw = reader.stringArray(section, "allowed", "tenant.allowed", 0, 10000);
  let allowed: Array<string> | null = null;
  if (allowedRaw !== null && !reader.failed) {
    const normalized = new Array<string>();
    for (let i = 0; i < allowedRaw.length; i++) {
      const tenant = normalizeTenant(allowedRaw[i], maxLength);
      if (tenant === null) {
        reader.fail("tenant.allowed[" + i.toString() + "]",
          "be 1 to tenant.maxLength characters of [A-Za-z0-9._-]");
        break;
      }
      normalized.push(tenant);
    }
    allowed = normalized;
  }
  return new TenantConfig(headers, maxLength, allowed, maxTenants);
}

function readPaths(reader: Reader, root: JsonValue): PathsConfig {
  const section = reader.object(root.get("paths"), "paths", ["templates", "maxPerCluster", "maxLength", "collapseIds"]);
  let templates = reader.stringArray(section, "templates", "paths.templates", 0, 1000);
  if (templates === null) templates = new Array<string>();
  for (let i = 0; i < templates.length && !reader.failed; i++) {
    const problem = templateProblem(templates[i]);
    if (problem !== null) reader.fail("paths.templates[" + i.toString() + "]", problem);
  }
  if (!reader.failed && firstDuplicate(templates) >= 0) {
    reader.fail("paths.templates[" + firstDuplicate(templates).toString() + "]", "not repeat an earlier template");
  }
  const maxPerCluster = reader.integer(section, "maxPerCluster", "paths.maxPerCluster",
    DEFAULT_PATHS_MAX_PER_CLUSTER, 1, 10000);
  const maxLength = reader.integer(section, "maxLength", "paths.maxLength", DEFAULT_PATH_MAX_LENGTH, 16, 65536);
  const collapseIds = reader.boolean(section, "collapseIds", "paths.collapseIds", true);
  return new PathsConfig(templates, maxPerCluster, maxLength, collapseIds);
}

function readMetrics(reader: Reader, root: JsonValue): MetricsConfig {
  const section = reader.object(root.get("metrics"), "metrics", ["maxSeries", "maxClusters", "durationHistogram"]);
  const maxSeries = reader.integer(section, "maxSeries", "metrics.maxSeries", DEFAULT_MAX_SERIES, MIN_MAX_SERIES, 1000000);
  const maxClusters = reader.integer(section, "maxClusters", "metrics.maxClusters", DEFAULT_MAX_CLUSTERS, 1, 100000);
  const durationHistogram = reader.boolean(section, "durationHistogram", "metrics.durationHistogram", true);
  return new MetricsConfig(maxSeries, maxClusters, durationHistogram);
}

function isEnvironmentNameChar(c: i32, first: bool): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || (!first && c >= 0x30 && c <= 0x39);
}

function readControlPlane(reader: Reader, root: JsonValue): ControlPlaneConfig | null {
  const section = reader.object(root.get("controlPlane"), "controlPlane", ["cluster", "timeoutMs", "token", "tokenEnv"]);
  if (section === null) return null;
  const cluster = reader.string(section, "cluster", "controlPlane.cluster", "", true, 1024);
  const timeoutMs = reader.integer(section, "timeoutMs", "controlPlane.timeoutMs",
    DEFAULT_CONTROL_PLANE_TIMEOUT_MS, 1, 600000);
  const token = reader.string(section, "token", "controlPlane.token", "", false, MAX_TOKEN_LENGTH);
  const tokenEnv = reader.string(section, "tokenEnv", "controlPlane.tokenEnv", "", false, 256);
  if (section.get("tokenEnv") !== null && !reader.failed) {
    let valid = tokenEnv.length > 0;
    for (let i = 0; i < tokenEnv.length && valid; i++) valid = isEnvironmentNameChar(tokenEnv.charCodeAt(i), i == 0);
    if (!valid) reader.fail("controlPlane.tokenEnv", "be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*");
    if (section.get("token") !== null) reader.fail("controlPlane.tokenEnv", "not be set together with controlPlane.token");
  }
  return new ControlPlaneConfig(cluster, timeoutMs, token, tokenEnv);
}

// Bounds of a node id and of a Kubernetes name; also applied to what Envoy's xds.node serves in their place.
export const MAX_NODE_ID_LENGTH: i32 = 1024;
export const MAX_NODE_NAME_LENGTH: i32 = 253;

// Every field is optional: by default the filter takes them from Envoy's node (control/session.ts resolveNode).
function readNode(reader: Reader, root: JsonValue): NodeConfig {
  const section = reader.object(root.get("node"), "node", ["id", "workload", "namespace"]);
  const id = reader.string(section, "id", "node.id", "", false, MAX_NODE_ID_LENGTH);
  const workload = reader.string(section, "workload", "node.workload", "", false, MAX_NODE_NAME_LENGTH);
  const namespace = reader.string(section, "namespace", "node.namespace", "", false, MAX_NODE_NAME_LENGTH);
  return new NodeConfig(id, workload, namespace);
}

const TOP_LEVEL_KEYS: Array<string> = [
  "tenant", "paths", "metrics", "tickMs", "reportIntervalMs", "controlPlane", "node", "defaultPolicy",
];

// An empty configuration means "all defaults" (Envoy passes size 0 when none is set).
export function parseFilterConfig(text: string): ConfigResult {
  const result = new ConfigResult();
  let root: JsonValue;
  if (text.trim().length == 0) {
    root = new JsonValue(JsonKind.Object);
  } else {
    const parsed = parseJson(text, MAX_CONFIG_DEPTH);
    const value = parsed.value;
    if (value === null) {
      result.error = CONFIG_ERROR_PREFIX + "configuration must be valid JSON (" + parsed.error + ")";
      return result;
    }
    root = value;
  }
  if (root.kind != JsonKind.Object) {
    result.error = CONFIG_ERROR_PREFIX + "configuration must be a JSON object";
    return result;
  }
  const reader = new Reader();
  reader.object(root, "", TOP_LEVEL_KEYS);
  const tenant = readTenant(reader, root);
  const paths = readPaths(reader, root);
  const metrics = readMetrics(reader, root);
  const tickMs = reader.integer(root, "tickMs", "tickMs", DEFAULT_TICK_MS, 10, 60000);
  const reportIntervalMs = reader.integer(root, "reportIntervalMs", "reportIntervalMs",
    DEFAULT_REPORT_INTERVAL_MS, 100, 3600000);
  if (!reader.failed && reportIntervalMs < tickMs) reader.fail("reportIntervalMs", "be at least tickMs");
  const controlPlane = readControlPlane(reader, root);
  const node = readNode(reader, root);
  const defaultPolicy = root.get("defaultPolicy");
  if (defaultPolicy !== null && defaultPolicy.kind != JsonKind.Object) reader.fail("defaultPolicy", "be an object");
  if (reader.failed) {
    result.error = reader.error;
    return result;
  }
  result.config = new FilterConfig(tenant, paths, metrics, tickMs, reportIntervalMs, controlPlane, node, defaultPolicy);
  return result;
}

// Completes a parsed config whose controlPlane.tokenEnv is set with that variable's value (null when unset), as
// on_configure read it from the VM environment. Any other config comes back as it is.
export function resolveTokenEnv(config: FilterConfig, value: string | null): ConfigResult {
  const result = new ConfigResult();
  const controlPlane = config.controlPlane;
  if (controlPlane === null || controlPlane.tokenEnv.length == 0) {
    result.config = config;
    return result;
  }
  const name = controlPlane.tokenEnv;
  if (value === null || value.length == 0) {
    result.error = CONFIG_ERROR_PREFIX + "controlPlane.tokenEnv must name a VM environment variable that is set (" +
      name + " is not)";
    return result;
  }
  if (value.length > MAX_TOKEN_LENGTH) {
    result.error = CONFIG_ERROR_PREFIX + "controlPlane.tokenEnv must name a variable of at most " +
      MAX_TOKEN_LENGTH.toString() + " characters (" + name + " has " + value.length.toString() + ")";
    return result;
  }
  result.config = new FilterConfig(config.tenant, config.paths, config.metrics, config.tickMs, config.reportIntervalMs,
    new ControlPlaneConfig(controlPlane.cluster, controlPlane.timeoutMs, value, name), config.node,
    config.defaultPolicy);
  return result;
}
