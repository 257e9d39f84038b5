// startSidecar: the Envoy-shaped process around the filter — listener, router, upstream pools and admin — running
// the release .wasm through the Node proxy-wasm host.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, FailurePolicy, PluginOptions, ProxyWasmPlugin, ReloadConfig } from '../index.ts';
import { createAdmin } from './admin.ts';
import { createListener, type StreamHost } from './listener.ts';
import type { RouteConfig } from './route-table.ts';
import type { RouterOptions } from './router.ts';
import { ClusterPool, parseEndpoint, type ClusterConfig } from './upstream-pool.ts';

export type { RouteConfig } from './route-table.ts';
export type { RouterOptions } from './router.ts';
export type { ClusterConfig } from './upstream-pool.ts';

export interface SidecarOptions {
  wasm: Uint8Array;
  configuration: string;
  workers?: number;
  /** PluginConfig.failure_policy (FAIL_CLOSED when unset), fail_open (deprecated) and reload_config, as in Envoy. */
  failurePolicy?: FailurePolicy;
  failOpen?: boolean;
  reloadConfig?: ReloadConfig;
  listener?: { host?: string; port?: number }; // default 127.0.0.1:10000, 0 = ephemeral
  admin?: { host?: string; port?: number }; // default 127.0.0.1:15000, 0 = ephemeral
  clusters: Record<string, ClusterConfig>;
  routes: RouteConfig[]; // first match wins
  statsFlushIntervalMs?: number; // default 5000 like Envoy
  clock?: Clock;
  router?: RouterOptions; // injectable backoff randomness and sleep, host re-selection attempts
  /** Further ProxyWasmPlugin options (node identity, statsTags, logLevel, extra call-out clusters…). */
  pluginOptions?: Omit<PluginOptions, PluginConfigFields>;
}

/** What the sidecar needs from a plugin; ProxyWasmPlugin provides it, tests may pass a recording stand-in. */
export interface SidecarPlugin extends StreamHost {
  readonly stats: { renderPrometheus(): string; renderText(): string; flushHistograms(): void };
  close(): Promise<void>;
}

export interface SidecarWith<P extends SidecarPlugin> {
  listenerPort: number;
  adminPort: number;
  plugin: P;
  /** Envoy's stats flush: merges thread-local histograms so /stats/prometheus shows them. */
  flushStats(): void;
  close(): Promise<void>;
}
export type Sidecar = SidecarWith<ProxyWasmPlugin>;

/** Plugin settings the sidecar takes at top level, like fields of Envoy's wasm PluginConfig. */
type PluginConfigFields = 'wasm' | 'configuration' | 'workers' | 'failurePolicy' | 'failOpen' | 'reloadConfig' | 'clock';
export type SidecarTransportOptions = Omit<SidecarOptions, PluginConfigFields | 'pluginOptions'>;

function validate(opts: SidecarTransportOptions): void {
  for (const [name, cluster] of Object.entries(opts.clusters)) {
    if (!Array.isArray(cluster.endpoints)) throw new Error(`invalid sidecar: clusters.${name}.endpoints must be an array`);
    if (cluster.kind !== undefined && cluster.kind !== 'http' && cluster.kind !== 'grpc') {
      throw new Error(`invalid sidecar: clusters.${name}.kind must be "http" or "grpc"`);
    }
    cluster.endpoints.forEach((e) => parseEndpoint(e));
  }
  opts.routes.forEach((route, i) => {
    if (!(route.cluster in opts.clusters)) throw new Error(`invalid sidecar: routes[${i}].cluster must name a configured cluster`);
    if (route.timeoutMs !== undefined && !(route.timeoutMs >= 0)) throw new Error(`invalid sidecar: routes[${i}].timeoutMs must be >= 0`);
    if (route.prefix !== undefined && !route.prefix.startsWith('/')) throw new Error(`invalid sidecar: routes[${i}].prefix must start with "/"`);
  });
  const flush = opts.statsFlushIntervalMs ?? 5000;
  if (!(flush > 0)) throw new Error('invalid sidecar: statsFlushIntervalMs must be > 0');
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  validate(opts);
  const { ProxyWasmPlugin } = await import('../index.ts');
  const plugin = await ProxyWasmPlugin.create({
    ...opts.pluginOptions,
    wasm: opts.wasm,
    configuration: opts.configuration,
    workers: opts.workers,
    failurePolicy: opts.failurePolicy,
    failOpen: opts.failOpen,
    reloadConfig: opts.reloadConfig,
    clock: opts.clock,
    // proxy_grpc_* / proxy_http_call name Envoy clusters; the plugin dials a cluster's first endpoint.
    clusters: {
      ...Object.fromEntries(
        Object.entries(opts.clusters).filter(([, c]) => c.endpoints.length > 0).map(([name, c]) => [name, { address: c.endpoints[0]! }]),
      ),
      ...opts.pluginOptions?.clusters,
    },
  });
  try {
    return await startSidecarWith(plugin, opts);
  } catch (err) {
    await plugin.close();
    throw err;
  }
}

export async function startSidecarWith<P extends SidecarPlugin>(plugin: P, opts: SidecarTransportOptions): Promise<SidecarWith<P>> {
  validate(opts);
  const clusters = new Map(Object.entries(opts.clusters).map(([name, c]) => [name, new ClusterPool(name, c)]));
  const listener = createListener({ host: plugin, clusters, routes: opts.routes, router: opts.router });
  const listenerHost = opts.listener?.host ?? '127.0.0.1';
  const admin = createAdmin({
    stats: plugin.stats, clusters,
    // Istio names the inbound HCM's stat_prefix after the listener address ("inbound_0.0.0.0_15006").
    http: {
      statPrefix: () => `inbound_${listenerHost}_${(listener.address() as AddressInfo | null)?.port ?? opts.listener?.port ?? 10000}`,
      downstreamRqActive: () => listener.downstreamRqActive(),
    },
  });
  const flushStats = (): void => plugin.stats.flushHistograms();
  const flushTimer = setInterval(flushStats, opts.statsFlushIntervalMs ?? 5000);
  flushTimer.unref();
  const stopTimers = () => clearInterval(flushTimer);
  try {
    const listenerPort = await listen(listener, listenerHost, opts.listener?.port ?? 10000);
    const adminPort = await listen(admin, opts.admin?.host ?? '127.0.0.1', opts.admin?.port ?? 15000);
    let closed: Promise<void> | undefined;
    return {
      listenerPort,
      adminPort,
      plugin,
      flushStats,
      close: () =>
        (closed ??= (async () => {
          stopTimers();
          await Promise.all([closeServer(listener), closeServer(admin)]);
          for (const pool of clusters.values()) pool.close();
          await plugin.close();
        })()),
    };
  } catch (err) {
    stopTimers();
    await Promise.all([closeServer(listener), closeServer(admin)]);
    for (const pool of clusters.values()) pool.close();
    throw err;
  }
}
