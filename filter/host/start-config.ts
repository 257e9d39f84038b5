// `npm start -- --config meshlens.yaml` (and the flag shorthands): which upstream clusters the local sidecar routes
// to, by host and path prefix, and the plugin configuration the filter runs with. Without any of it, main.ts runs the
// demo upstream as before. Every problem is one error "invalid config: <field> must <rule>"; nothing starts.
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ClusterConfig, RouteConfig } from './sidecar/index.ts';
import { parseEndpoint } from './sidecar/upstream-endpoint.ts';

export interface StartConfig {
  clusters: Record<string, ClusterConfig>;
  routes: RouteConfig[];
  /** The plugin configuration (as a WasmPlugin's pluginConfig); undefined = main.ts' defaults. The filter validates it. */
  filter?: Record<string, unknown>;
}

export class StartConfigError extends Error {
  override name = 'StartConfigError';
  constructor(field: string, rule: string) {
    super(`invalid config: ${field} must ${rule}`);
  }
}

// An operator's file, but bounded all the same: the filter itself keeps at most 256 clusters (DEFAULT_MAX_CLUSTERS in
// filter/assembly/config.ts), and Envoy's route table is linear in its routes.
const MAX_CONFIG_BYTES = 1 << 20;
export const MAX_CLUSTERS = 256;
export const MAX_ENDPOINTS = 64;
export const MAX_ROUTES = 1024;
const MAX_NAME_LENGTH = 512;
const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

const TOP_LEVEL = ['clusters', 'routes', 'filter'];
const CLUSTER_KEYS = ['endpoints', 'connectTimeoutMs'];
const ROUTE_KEYS = ['host', 'prefix', 'cluster', 'timeoutMs'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function object(value: unknown, field: string, known: readonly string[]): Json {
  if (!isObject(value)) throw new StartConfigError(field, 'be a mapping');
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new StartConfigError(field ? `${field}.${key}` : key, `not be present (known: ${known.join(', ')})`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new StartConfigError(field, `be an integer in [${min}, ${max}]`);
  }
  return value;
}

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^\S+$/.test(value) || value.length > MAX_NAME_LENGTH) {
    throw new StartConfigError(field, `be a non-empty string without whitespace of at most ${MAX_NAME_LENGTH} characters`);
  }
  return value;
}

function cluster(value: unknown, field: string): ClusterConfig {
  const section = object(value, field, CLUSTER_KEYS);
  const endpoints = section.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0 || endpoints.length > MAX_ENDPOINTS) {
    throw new StartConfigError(`${field}.endpoints`, `be a list of 1 to ${MAX_ENDPOINTS} host:port addresses`);
  }
  endpoints.forEach((endpoint, i) => {
    try {
      if (typeof endpoint !== 'string') throw new Error('not a string');
      parseEndpoint(endpoint);
    } catch {
      throw new StartConfigError(`${field}.endpoints[${i}]`, 'be host:port with a port in [1, 65535]');
    }
  });
  const connectTimeoutMs = integer(section.connectTimeoutMs, `${field}.connectTimeoutMs`, 1, 600_000);
  return { endpoints: endpoints as string[], ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }) };
}

function route(value: unknown, field: string, clusters: Record<string, ClusterConfig>): RouteConfig {
  const section = object(value, field, ROUTE_KEYS);
  const clusterName = name(section.cluster, `${field}.cluster`);
  if (!Object.hasOwn(clusters, clusterName)) throw new StartConfigError(`${field}.cluster`, 'name one of clusters');
  const prefix = section.prefix ?? '/';
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || prefix.length > MAX_NAME_LENGTH) {
    throw new StartConfigError(`${field}.prefix`, `be a path prefix starting with "/" of at most ${MAX_NAME_LENGTH} characters`);
  }
  const out: RouteConfig = { prefix, cluster: clusterName, timeoutMs: integer(section.timeoutMs, `${field}.timeoutMs`, 0, 3_600_000) ?? DEFAULT_ROUTE_TIMEOUT_MS };
  // Matched like an Envoy virtual host's domains entry: the :authority, with or without its port (route-table.ts).
  if (section.host !== undefined) out.authority = name(section.host, `${field}.host`);
  return out;
}

/** Validates a parsed config document (YAML or JSON) into what main.ts starts. */
export function validateStartConfig(value: unknown): StartConfig {
  const root = object(value ?? {}, '', TOP_LEVEL);
  const clustersSection = root.clusters;
  if (!isObject(clustersSection) || Object.keys(clustersSection).length === 0 || Object.keys(clustersSection).length > MAX_CLUSTERS) {
    throw new StartConfigError('clusters', `be a mapping of 1 to ${MAX_CLUSTERS} cluster names to { endpoints }`);
  }
  const clusters: Record<string, ClusterConfig> = {};
  for (const [clusterName, section] of Object.entries(clustersSection)) {
    name(clusterName, `clusters.${clusterName}`);
    clusters[clusterName] = cluster(section, `clusters.${clusterName}`);
  }
  let routes: RouteConfig[];
  if (root.routes === undefined) {
    // One cluster needs no routing decision: everything goes to it, as the demo's single route does.
    const names = Object.keys(clusters);
    if (names.length > 1) throw new StartConfigError('routes', 'be set when there is more than one cluster');
    routes = [{ prefix: '/', cluster: names[0]!, timeoutMs: DEFAULT_ROUTE_TIMEOUT_MS }];
  } else {
    if (!Array.isArray(root.routes) || root.routes.length === 0 || root.routes.length > MAX_ROUTES) {
      throw new StartConfigError('routes', `be a list of 1 to ${MAX_ROUTES} routes`);
    }
    routes = root.routes.map((r, i) => route(r, `routes[${i}]`, clusters));
  }
  if (root.filter !== undefined && !isObject(root.filter)) throw new StartConfigError('filter', 'be a mapping (the plugin configuration)');
  return { clusters, routes, ...(root.filter === undefined ? {} : { filter: root.filter }) };
}

/** A YAML (or JSON, which is YAML) config file as a document, not yet validated. */
function readConfigDocument(path: string): Json {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new StartConfigError('--config', `name a readable file (${path} does not exist)`);
  }
  if (size > MAX_CONFIG_BYTES) throw new StartConfigError('--config', `name a file of at most ${MAX_CONFIG_BYTES} bytes`);
  let document: unknown;
  try {
    // uniqueKeys: a repeated cluster name would otherwise silently replace the earlier one.
    document = parseYaml(readFileSync(path, 'utf8'), { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new StartConfigError('--config', `name a valid YAML file (${(err as Error).message.split('\n')[0]})`);
  }
  return object(document ?? {}, '', TOP_LEVEL);
}

export function loadStartConfig(path: string): StartConfig {
  return validateStartConfig(readConfigDocument(path));
}

export const START_USAGE = `usage: npm start -- [--config FILE] [--cluster NAME=HOST:PORT[,HOST:PORT...]]... [--route [HOST]/PREFIX=NAME]...
                    [--tenant-header NAME]... [--path-template TEMPLATE]...
  --config FILE                 YAML: clusters (name: { endpoints }), routes ({ host, prefix, cluster }), filter (plugin config)
  --cluster NAME=HOST:PORT,...  add a cluster (repeatable); with a single cluster no route is needed
  --route [HOST]/PREFIX=NAME    add a route after the file's (repeatable), e.g. shop.local/api/=shop
  --tenant-header NAME          filter.tenant.headers (repeatable; replaces the file's)
  --path-template TEMPLATE      filter.paths.templates (repeatable; replaces the file's)
Without --config or --cluster the demo upstream runs behind the sidecar. See README "Your own services".`;

/**
 * Command-line arguments into a config (undefined: none given, run the demo). The shorthands build the same document
 * the file holds, so both go through one validation and errors name the file's fields.
 */
export function startConfigFromArgs(argv: string[]): StartConfig | undefined | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        cluster: { type: 'string', multiple: true },
        route: { type: 'string', multiple: true },
        'tenant-header': { type: 'string', multiple: true },
        'path-template': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new StartConfigError('arguments', `be the options below (${(err as Error).message})\n${START_USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const flagsGiven = v.cluster !== undefined || v.route !== undefined || v['tenant-header'] !== undefined || v['path-template'] !== undefined;
  if (v.config === undefined && !flagsGiven) return undefined;
  const document: Json = v.config === undefined ? {} : { ...readConfigDocument(v.config) };
  for (const flag of v.cluster ?? []) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new StartConfigError('--cluster', `be NAME=HOST:PORT[,HOST:PORT...], got ${JSON.stringify(flag)}`);
    document.clusters = { ...(isObject(document.clusters) ? document.clusters : {}), [flag.slice(0, eq)]: { endpoints: flag.slice(eq + 1).split(',') } };
  }
  for (const flag of v.route ?? []) {
    const m = /^([^/=]*)(\/[^=]*)=(.+)$/.exec(flag);
    if (!m) throw new StartConfigError('--route', `be [HOST]/PREFIX=CLUSTER, got ${JSON.stringify(flag)}`);
    const entry: Json = { prefix: m[2], cluster: m[3] };
    if (m[1]) entry.host = m[1];
    document.routes = [...(Array.isArray(document.routes) ? document.routes : []), entry];
  }
  if (v['tenant-header'] !== undefined || v['path-template'] !== undefined) {
    const filter: Json = isObject(document.filter) ? { ...document.filter } : {};
    if (v['tenant-header']) filter.tenant = { ...(isObject(filter.tenant) ? filter.tenant : {}), headers: v['tenant-header'] };
    if (v['path-template']) filter.paths = { ...(isObject(filter.paths) ? filter.paths : {}), templates: v['path-template'] };
    document.filter = filter;
  }
  return validateStartConfig(document);
}
