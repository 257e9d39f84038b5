// `npm start`: a pod with Envoy and its mesh, in one process — the demo upstream, the sidecar running the release
// filter in front of it, and the meshlens control plane the filter discovers its policies from (and reports to).
// Environment (defaults in brackets):
//   MESHLENS_LISTENER_PORT [10000]  MESHLENS_ADMIN_PORT [15000]  sidecar listener and Envoy-style admin
//   MESHLENS_GRPC_PORT [18000]      MESHLENS_HTTP_PORT [18080]   control plane gRPC (xDS-like) and HTTP admin API
//   MESHLENS_DATA_DIR [./.meshlens]                              control plane data: policies, tokens.json
//   MESHLENS_WORKERS [4]                                         filter worker VMs
//   MESHLENS_FAILURE_POLICY [FAIL_RELOAD]                        Envoy's failure_policy: FAIL_RELOAD replaces a
//                                                                trapped worker VM (as istio/ recommends),
//                                                                FAIL_CLOSED answers 503, FAIL_OPEN skips the filter
//   MESHLENS_ENVOY_VERSION [1.36]                                the Envoy the host answers as (1.32 … 1.36, or
//                                                                istio-1.24 … istio-1.28; filter/host/envoy-profiles.ts)
//   MESHLENS_FILTER_CONFIG                                       replaces the plugin configuration JSON (the
//                                                                control-plane wiring is added unless it has one)
//   MESHLENS_LOG_LEVEL [info]                                    Envoy's `wasm` logger level: the filter's log
//                                                                lines at or above it are printed to stderr
//   MESHLENS_PROMETHEUS [prometheus]                             the Prometheus binary started beside it (istio/'s
//                                                                scrape jobs and rules, start-prometheus.ts); off = none
//   MESHLENS_PROMETHEUS_PORT [9090]                              its web port (0 = a free one)
// Arguments (start-config.ts): --config meshlens.yaml and/or --cluster/--route/... name your own upstream clusters,
// their endpoints, routes by host and prefix, and the plugin configuration; without them the demo upstream runs.
// A bad config or argument is one line "invalid config: <field> must <rule>" and exit code 2.
// The proxy token reaches the filter as an Istio mesh hands it over: in the VM environment (MESHLENS_PROXY_TOKEN,
// named by controlPlane.tokenEnv), never inside the plugin configuration.
// Every port may be 0 (ephemeral); the "ready" line on stdout carries the bound ports as JSON for scripts.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, startControlPlane, type ControlPlane } from '../../control-plane/src/server.ts';
import { startDemoUpstream } from './sidecar/demo-upstream.ts';
import { startSidecar, type Sidecar } from './sidecar/index.ts';
import { FAILURE_POLICIES, type FailurePolicy, type LogEntry } from './plugin.ts';
import { LOG_LEVELS, type LogLevel } from './abi-constants.ts';
import { ENVOY_PROFILES, envoyProfile, type EnvoyProfile } from './envoy-profiles.ts';
import { PluginLoadError } from './errors.ts';
import { START_USAGE, StartConfigError, startConfigFromArgs, type StartConfig } from './start-config.ts';
import { prometheusUnavailable, startPrometheus, type LocalPrometheus } from './start-prometheus.ts';

const FILTER = fileURLToPath(new URL('../build/meshlens.wasm', import.meta.url));
const DEMO_CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
/** The Envoy cluster the filter's gRPC call-outs name, like Istio's bootstrap would define it. */
const CONTROL_PLANE_CLUSTER = 'meshlens-control-plane';
const NODE_ID = 'sidecar~127.0.0.1~demo-1.default~default.svc.cluster.local';
/** The VM environment variable carrying the proxy token, as istio/ names it. */
const PROXY_TOKEN_ENV = 'MESHLENS_PROXY_TOKEN';

const DEFAULT_FILTER_CONFIG = {
  tenant: { headers: ['x-tenant-id'], maxTenants: 100 },
  paths: { templates: ['/api/orders/{id}', '/api/payments/{id}', '/api/inventory/{sku}'] },
  tickMs: 200,
  reportIntervalMs: 1000,
};
/** The bootstrap node as Istio writes it; the filter reads its id, workload and namespace from xds.node. */
const NODE = { id: NODE_ID, metadata: { WORKLOAD_NAME: 'demo', NAMESPACE: 'default', NAME: 'demo-1' } };
/** Exit code of a refused config or argument (as CLIs use 2 for usage errors); 1 is for everything else. */
const EXIT_INVALID_CONFIG = 2;

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`invalid environment: ${name} must be a port in [0, 65535]`);
  return value;
}

function workers(): number | undefined {
  const raw = process.env.MESHLENS_WORKERS;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 64) throw new Error('invalid environment: MESHLENS_WORKERS must be an integer in [1, 64]');
  return value;
}

function failurePolicy(): FailurePolicy {
  const raw = process.env.MESHLENS_FAILURE_POLICY;
  if (raw === undefined || raw === '') return 'FAIL_RELOAD';
  if (!(FAILURE_POLICIES as readonly string[]).includes(raw)) {
    throw new Error(`invalid environment: MESHLENS_FAILURE_POLICY must be one of ${FAILURE_POLICIES.join(', ')}`);
  }
  return raw as FailurePolicy;
}

function envoyVersion(): EnvoyProfile | undefined {
  const raw = process.env.MESHLENS_ENVOY_VERSION;
  if (raw === undefined || raw === '') return undefined;
  try {
    return envoyProfile(raw);
  } catch {
    throw new Error(`invalid environment: MESHLENS_ENVOY_VERSION must be one of ${ENVOY_PROFILES.map((p) => p.envoy).join(', ')}` +
      ` or istio-${ENVOY_PROFILES.map((p) => p.istio).join(', istio-')}`);
  }
}

function logLevel(): LogLevel {
  const raw = process.env.MESHLENS_LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new Error(`invalid environment: MESHLENS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return raw as LogLevel;
}

/**
 * The filter's log lines as Envoy prints its `wasm` logger to stderr ([time][level][wasm] wasm log <ids>: msg).
 * The plugin already dropped what is below the configured level. A refused configuration is explained here: the
 * filter's own critical line names the field and rule before "Failed to configure base Wasm plugin".
 */
function printLog(entry: LogEntry): void {
  process.stderr.write(`[${new Date().toISOString()}][${entry.level}][wasm] ${entry.line}\n`);
}

function filterConfiguration(start: StartConfig | undefined): string {
  // Your own services get the default tenant settings but not the demo's path templates; a filter section replaces both.
  const { paths: _demoPaths, ...withoutDemoPaths } = DEFAULT_FILTER_CONFIG;
  let config: Record<string, unknown> = start === undefined ? DEFAULT_FILTER_CONFIG : start.filter ?? withoutDemoPaths;
  if (process.env.MESHLENS_FILTER_CONFIG !== undefined) {
    if (start?.filter !== undefined) throw new StartConfigError('filter', 'not be set together with MESHLENS_FILTER_CONFIG');
    const parsed: unknown = JSON.parse(process.env.MESHLENS_FILTER_CONFIG);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('invalid environment: MESHLENS_FILTER_CONFIG must be a JSON object');
    }
    config = parsed as Record<string, unknown>;
  }
  if (config.controlPlane !== undefined) return JSON.stringify(config);
  return JSON.stringify({ ...config, controlPlane: { cluster: CONTROL_PLANE_CLUSTER, timeoutMs: 5000, tokenEnv: PROXY_TOKEN_ENV } });
}

function prometheusPort(): number | 'off' {
  return process.env.MESHLENS_PROMETHEUS === 'off' ? 'off' : port('MESHLENS_PROMETHEUS_PORT', 9090);
}

/** The filter's own "invalid filter config: <field> must <rule>" line, seen through onLog, for the exit message. */
let filterConfigError: string | undefined;
const FILTER_CONFIG_ERROR = /invalid filter config: (.*)$/;

async function main(): Promise<void> {
  const start = startConfigFromArgs(process.argv.slice(2));
  if (start === 'help') {
    process.stdout.write(`${START_USAGE}\n`);
    return;
  }
  if (!existsSync(FILTER)) {
    process.stderr.write(`meshlens: ${FILTER} is missing; build it with: npm run build:filter\n`);
    process.exit(1);
  }
  const dataDir = resolve(process.env.MESHLENS_DATA_DIR || DEFAULT_DATA_DIR);
  const profile = envoyVersion();
  const configuration = filterConfiguration(start);
  const promPort = prometheusPort();
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    // Reverse start order: the sidecar (and the filter's streams) go before the control plane they talk to.
    for (const part of started.splice(0).reverse()) await part.close();
  };
  let controlPlane: ControlPlane;
  let sidecar: Sidecar;
  let upstreamAddress: string | undefined;
  let prometheus: LocalPrometheus | undefined;
  let prometheusNote: string;
  try {
    controlPlane = await startControlPlane({
      dataDir,
      grpcHost: '127.0.0.1',
      grpcPort: port('MESHLENS_GRPC_PORT', DEFAULT_GRPC_PORT),
      httpHost: '127.0.0.1',
      httpPort: port('MESHLENS_HTTP_PORT', DEFAULT_HTTP_PORT),
      onTokensCreated: (_tokens, path) => process.stdout.write(`meshlens: generated admin and proxy tokens in ${path}\n`),
    });
    started.push(controlPlane);
    let clusters = start?.clusters;
    let routes = start?.routes;
    if (start === undefined) {
      const upstream = await startDemoUpstream();
      started.push(upstream);
      upstreamAddress = upstream.address;
      clusters = { [DEMO_CLUSTER]: { endpoints: [upstream.address] } };
      routes = [{ prefix: '/', cluster: DEMO_CLUSTER, timeoutMs: 15000 }];
    }
    sidecar = await startSidecar({
      wasm: readFileSync(FILTER),
      configuration,
      workers: workers(),
      failurePolicy: failurePolicy(),
      listener: { port: port('MESHLENS_LISTENER_PORT', 10000) },
      admin: { port: port('MESHLENS_ADMIN_PORT', 15000) },
      clusters: clusters!,
      routes: routes!,
      pluginOptions: {
        envoy: profile, node: NODE, logLevel: logLevel(),
        onLog: (entry) => {
          filterConfigError ??= FILTER_CONFIG_ERROR.exec(entry.line)?.[1];
          printLog(entry);
        },
        clusters: { [CONTROL_PLANE_CLUSTER]: { address: `127.0.0.1:${controlPlane.grpcPort}` } },
        environment: { [PROXY_TOKEN_ENV]: controlPlane.tokens.proxy },
      },
    });
    started.push(sidecar);
    const bin = process.env.MESHLENS_PROMETHEUS || 'prometheus';
    const unavailable = promPort === 'off' ? 'off (MESHLENS_PROMETHEUS=off)' : prometheusUnavailable(bin);
    if (unavailable !== null) {
      prometheusNote = `not started: ${unavailable}`;
    } else {
      try {
        prometheus = await startPrometheus({
          bin, port: promPort as number, dir: join(dataDir, 'prometheus'),
          targets: {
            envoy: `127.0.0.1:${sidecar.adminPort}`, controlPlane: `127.0.0.1:${controlPlane.httpPort}`,
            pod: { name: NODE.metadata.NAME, namespace: NODE.metadata.NAMESPACE, app: NODE.metadata.WORKLOAD_NAME },
          },
        });
        started.push(prometheus);
        prometheusNote = `${prometheus.url}  (jobs ${prometheus.jobs.join(', ')} and the rules of istio/base; data ${join(dataDir, 'prometheus')})`;
      } catch (err) {
        // Metrics history is a convenience here: the mesh runs without it, and says why.
        prometheusNote = `failed to start: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  } catch (err) {
    await closeAll();
    // The filter validates its own configuration (filter/assembly/config.ts); a refusal of the config file's filter
    // section is reported as a config error naming the field under filter.
    const at = filterConfigError?.indexOf(' must ') ?? -1;
    if (err instanceof PluginLoadError && start?.filter !== undefined && at > 0) {
      throw new StartConfigError(`filter.${filterConfigError!.slice(0, at)}`, filterConfigError!.slice(at + ' must '.length));
    }
    throw err;
  }

  // Installed before the ready line: whoever reads it may signal at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`meshlens: ${signal}, shutting down\n`);
    closeAll().then(
      () => {
        process.stdout.write('meshlens: stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`meshlens: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const listener = `http://127.0.0.1:${sidecar.listenerPort}`;
  const api = `http://127.0.0.1:${controlPlane.httpPort}`;
  const tokenFile = `${dataDir}/tokens.json`;
  const cli = `npm run meshlens -- --url ${api} --token-file ${tokenFile}`;
  const exampleCluster = start === undefined ? DEMO_CLUSTER : start.routes[0]!.cluster;
  const examplePolicy = JSON.stringify({ target: { cluster: exampleCluster, pathTemplate: '*' }, breaker: { errorRateThreshold: 0.5 } });
  const upstreams = start === undefined
    ? [`  demo upstream:  http://${upstreamAddress}  (/api/orders/{id}, /api/payments/{id} 25% 503, /api/inventory/{sku} slow, /api/flaky)`]
    : start.routes.map((r, i) => `  ${i === 0 ? 'routes:        ' : '               '} ${r.authority ?? '*'}${r.prefix} -> ${r.cluster} (${start.clusters[r.cluster]!.endpoints.join(', ')})`);
  const tryPath = start === undefined ? '/api/orders/123' : start.routes[0]!.prefix;
  const tryHost = start?.routes[0]!.authority === undefined || start.routes[0]!.authority === '*' ? '' : `-H 'host: ${start.routes[0]!.authority}' `;
  process.stdout.write(
    [
      `meshlens sidecar listening on ${listener} (filter ${FILTER}, ${sidecar.plugin.workerCount} workers)`,
      `  admin:          http://127.0.0.1:${sidecar.adminPort}/stats/prometheus  (/stats /clusters /ready)`,
      ...upstreams,
      `  control plane:  gRPC 127.0.0.1:${controlPlane.grpcPort} (Envoy cluster "${CONTROL_PLANE_CLUSTER}"), HTTP API ${api}, data ${dataDir}`,
      `  console:        ${api}/ui/  (admin token: "admin" in ${tokenFile})`,
      `  prometheus:     ${prometheusNote!}`,
      `  try:            curl -s ${tryHost}-H 'x-tenant-id: acme' ${listener}${tryPath}`,
      `                  curl -s http://127.0.0.1:${sidecar.adminPort}/stats/prometheus | grep meshlens_`,
      `  change a breaker threshold, then watch every filter VM ACK it:`,
      `                  echo '${examplePolicy}' | ${cli} policy set orders --file - --expected-version 0`,
      `                  ${cli} rollout status`,
      JSON.stringify({
        event: 'ready', listenerPort: sidecar.listenerPort, adminPort: sidecar.adminPort, grpcPort: controlPlane.grpcPort,
        httpPort: controlPlane.httpPort, dataDir, nodeId: NODE_ID, vms: sidecar.plugin.workerCount + 1,
        prometheusUrl: prometheus?.url ?? null,
      }),
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`meshlens: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof StartConfigError ? EXIT_INVALID_CONFIG : 1);
});
