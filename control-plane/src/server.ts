// Composes the control plane: storage, snapshot cache, the gRPC services (PolicyDiscovery, Telemetry,
// KernelTelemetry, Admin, grpc.health.v1, reflection) and the HTTP API; binds them and shuts them down gracefully.
// No service logic lives here.
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { AdminOperations, type PolicyValidator } from './admin-operations.ts';
import { Authenticator, loadOrCreateTokens, type TokenFile } from './auth.ts';
import { createHttpApi } from './http-api.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics, type ControlPlaneMetrics } from './metrics.ts';
import { validatePolicy } from './policy-model.ts';
import { PolicyStore } from './policy-store.ts';
import { packageDefinition } from './protos.ts';
import { RolloutTracker } from './rollout.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { TelemetryStore } from './telemetry-store.ts';
import { BreakerStates, type BreakerStatesOptions } from './breaker-states.ts';
import { NetworkSuspects } from './network-suspects.ts';
import { CorrelationWindows, type CorrelationWindowsOptions } from './correlation-windows.ts';
import { Correlator, type CorrelatorOptions } from './correlator.ts';
import { CorrelationExporter } from './metrics.ts';
import { AdminService } from './services/admin.ts';
import { KernelTelemetryService } from './services/kernel-telemetry.ts';
import { PolicyDiscoveryService } from './services/policy-discovery.ts';
import { TelemetryService } from './services/telemetry.ts';

export const DEFAULT_GRPC_PORT = 18000;
export const DEFAULT_HTTP_PORT = 18080;
export const DEFAULT_DATA_DIR = './.meshlens';

export interface TlsFiles { certFile: string; keyFile: string; caFile?: string }   // caFile → client certs required

export interface ControlPlaneOptions {
  dataDir?: string;                      // default ./.meshlens
  grpcHost?: string;                     // default 0.0.0.0
  grpcPort?: number;                     // default 18000; 0 = ephemeral
  httpHost?: string;                     // default 0.0.0.0
  httpPort?: number;                     // default 18080; 0 = ephemeral
  tokenFile?: string;                    // default <dataDir>/tokens.json, generated when absent
  tls?: TlsFiles;                        // gRPC over TLS (mTLS when caFile is set)
  maxReceiveBytes?: number;              // gRPC message limit, default 4 MiB
  validate?: PolicyValidator;            // default validatePolicy from policy-model.ts
  registry?: Registry;
  processMetrics?: boolean;              // default true
  logger?: Logger;
  now?: () => number;
  onTokensCreated?: (tokens: TokenFile, path: string) => void;
  breakers?: BreakerStatesOptions;       // bounds and expiry of the reported breaker states
  correlation?: CorrelationWindowsOptions & Omit<CorrelatorOptions, 'onWindow'> & { maxEndpointSeries?: number; maxRouteSeries?: number };
}

export interface ControlPlane {
  grpcPort: number;
  httpPort: number;
  tokens: TokenFile;
  metrics: ControlPlaneMetrics;
  operations: AdminOperations;
  discovery: PolicyDiscoveryService;
  telemetry: TelemetryStore;
  correlator: Correlator;
  close(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger('control-plane');
  const now = options.now ?? Date.now;
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const validate = options.validate ?? validatePolicy;
  const tokenPath = options.tokenFile ?? join(dataDir, 'tokens.json');
  const store = new PolicyStore(dataDir, { now });
  const { tokens, created } = loadOrCreateTokens(tokenPath);
  if (created) options.onTokensCreated?.(tokens, tokenPath);
  const auth = new Authenticator(tokens);
  const metrics = createMetrics(options.registry ?? new Registry(), { processMetrics: options.processMetrics });
  const cache = new SnapshotCache(store.snapshot());
  const rollout = new RolloutTracker(store.loadRollout());
  const telemetryStore = new TelemetryStore();
  const breakers = new BreakerStates(options.breakers);
  rollout.onNodeGone((nodeId) => breakers.nodeGone(nodeId));

  const suspects = new NetworkSuspects({ now });
  const discovery = new PolicyDiscoveryService({ cache, rollout, auth, metrics, logger: logger.child('discovery'), now, suspects });
  const windows = new CorrelationWindows(options.correlation);
  const exporter = new CorrelationExporter(metrics, { maxEndpoints: options.correlation?.maxEndpointSeries, maxRoutes: options.correlation?.maxRouteSeries });
  const dropped = { ...windows.dropped, flowsWithoutIdentity: 0 };
  const correlator = new Correlator(windows, {
    ...options.correlation,
    onWindow: (join, endpoints) => {
      suspects.update(endpoints);
      metrics.correlationWindows.inc();
      metrics.correlationJoinCpu.observe(correlator.lastJoinCpuMs / 1000);
      for (const [kind, value] of [['flows', windows.dropped.flows], ['connections', windows.dropped.connections], ['late_reports', windows.dropped.lateReports]] as const) {
        const key = kind === 'late_reports' ? 'lateReports' : kind;
        if (value > dropped[key]) metrics.correlationDropped.inc({ kind }, value - dropped[key]);
        dropped[key] = value;
      }
      if (join.flowsWithoutIdentity > 0) metrics.correlationDropped.inc({ kind: 'flows_without_identity' }, join.flowsWithoutIdentity);
      exporter.exportWindow(endpoints.map((e) => ({
        cluster: e.cluster, endpoint: e.endpoint, verdict: e.verdict, requests: e.signals.requests, errors: e.signals.errors,
        retransSegs: e.signals.retransSegs, segsOut: e.signals.segsOut, srttUs: e.signals.srttUs,
      })), join.routes);
    },
  });
  const kernel = new KernelTelemetryService({ auth, metrics, logger: logger.child('kernel'), windows });
  const telemetry = new TelemetryService({ store: telemetryStore, auth, metrics, logger: logger.child('telemetry'), windows, breakers, now });
  const operations = new AdminOperations({ store, cache, rollout, telemetry: telemetryStore, correlator, breakers, suspects, validate, logger: logger.child('admin'), now });
  const updateSnapshotGauges = () => {
    metrics.snapshotVersion.set(cache.current().version);
    metrics.policies.set(cache.current().entries.length);
  };
  updateSnapshotGauges();
  cache.watch(updateSnapshotGauges);

  const services = ['meshlens.v1.PolicyDiscovery', 'meshlens.v1.Telemetry', 'meshlens.v1.KernelTelemetry', 'meshlens.v1.Admin'];
  const health = new HealthImplementation(Object.fromEntries(['', ...services].map((name) => [name, 'SERVING' as const])));
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes ?? 4 << 20,
    'grpc.keepalive_permit_without_calls': 1,
  });
  discovery.addToServer(server);
  telemetry.addToServer(server);
  kernel.addToServer(server);
  new AdminService({ operations, auth, metrics, logger: logger.child('admin') }).addToServer(server);
  health.addToServer(server);
  new ReflectionService(packageDefinition()).addToServer(server);

  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
        options.tls.caFile ? readFileSync(options.tls.caFile) : null,
        [{ cert_chain: readFileSync(options.tls.certFile), private_key: readFileSync(options.tls.keyFile) }],
        options.tls.caFile !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const grpcPort = await new Promise<number>((done, fail) => {
    server.bindAsync(`${options.grpcHost ?? '0.0.0.0'}:${options.grpcPort ?? DEFAULT_GRPC_PORT}`, credentials,
      (error, port) => (error ? fail(error) : done(port)));
  });

  let ready = true;
  const http: HttpServer = createHttpApi({ operations, auth, metrics, logger: logger.child('http'), ready: () => ready });
  const httpPort = await new Promise<number>((done, fail) => {
    http.once('error', fail);
    http.listen(options.httpPort ?? DEFAULT_HTTP_PORT, options.httpHost ?? '0.0.0.0', () => {
      const address = http.address();
      done(typeof address === 'object' && address ? address.port : 0);
    });
  });

  const flushRollout = () => {
    const rows = rollout.takeDirty();
    if (rows.length > 0) store.saveRollout(rows);
  };
  // Rollout rows are flushed every 5 s rather than per ACK: at 10,000 streams one change yields 10,000 ACKs, and
  // writing them while ACKs are still arriving would stall the event loop during convergence.
  let ticks = 0;
  const maintenance = setInterval(() => {
    try {
      if (++ticks % 5 === 0) flushRollout();
      telemetryStore.prune(now());
      breakers.prune(now());
    } catch (error) {
      logger.error('maintenance failed', { error: String(error) });
    }
  }, 1000);
  maintenance.unref();
  // Windows are evaluated a quarter window after they close at the latest, so a verdict lags its window by little.
  const correlation = setInterval(() => {
    try {
      correlator.evaluate(now());
    } catch (error) {
      logger.error('correlation failed', { error: String(error) });
    }
  }, Math.max(50, windows.windowMs / 4));
  correlation.unref();
  logger.info('control plane started', { grpcPort, httpPort, dataDir, snapshotVersion: cache.current().version, tls: !!options.tls });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      for (const name of ['', ...services]) health.setStatus(name, 'NOT_SERVING');
      clearInterval(maintenance);
      clearInterval(correlation);
      discovery.close();
      await new Promise<void>((done) => {
        const force = setTimeout(() => { server.forceShutdown(); done(); }, 5000);
        server.tryShutdown(() => { clearTimeout(force); done(); });
      });
      await new Promise<void>((done) => {
        http.close(() => done());
        http.closeAllConnections();
      });
      flushRollout();
      store.close();
      logger.info('control plane stopped');
    })();
    return closing;
  };

  return { grpcPort, httpPort, tokens, metrics, operations, discovery, telemetry: telemetryStore, correlator, close };
}
