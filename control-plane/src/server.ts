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
import { AdminOperations, validateAndLimit, type PolicyValidator } from './admin-operations.ts';
import { CommitConfirmed } from './commit-confirmed.ts';
import { Authenticator, loadOrCreateTokens, type TokenFile } from './auth.ts';
import { createHttpApi } from './http-api.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics, type ControlPlaneMetrics } from './metrics.ts';
import { LIMITS } from './limits.ts';
import { listenGrpc } from './grpc-listener.ts';
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
import { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT } from './defaults.ts';

export { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT } from './defaults.ts';
export const DEFAULT_HOST = '127.0.0.1';

export interface TlsFiles { certFile: string; keyFile: string; caFile?: string }   // caFile → client certs required

/** Reads the certificate files once for both listeners (gRPC and HTTPS take the same options). */
function readTls(tls: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer | undefined } {
  return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ca: tls.caFile ? readFileSync(tls.caFile) : undefined };
}

export interface ControlPlaneOptions {
  dataDir?: string;                      // default ./.meshlens
  grpcHost?: string;                     // default 127.0.0.1 (loopback unless told otherwise)
  grpcPort?: number;                     // default 18000; 0 = ephemeral
  httpHost?: string;                     // default 127.0.0.1
  httpPort?: number;                     // default 18080; 0 = ephemeral
  tokenFile?: string;                    // default <dataDir>/tokens.json, generated when absent
  tls?: TlsFiles;                        // gRPC and the HTTP admin API over TLS (mTLS when caFile is set)
  maxReceiveBytes?: number;              // gRPC message limit, default LIMITS.maxReceiveMessageBytes
  validate?: PolicyValidator;            // default validateAndLimit (policy model + admission limits)
  rollout?: { graceMs?: number; maxRows?: number };
  discovery?: { firstRequestTimeoutMs?: number; maxUnflushedBytes?: number; slowStreamTimeoutMs?: number };
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
  confirmations: CommitConfirmed;
  discovery: PolicyDiscoveryService;
  telemetry: TelemetryStore;
  correlator: Correlator;
  close(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger('control-plane');
  const now = options.now ?? Date.now;
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const validate = options.validate ?? validateAndLimit;
  const tokenPath = options.tokenFile ?? join(dataDir, 'tokens.json');
  // Tokens first: a refused token file (loose mode) must stop start-up before anything else is opened.
  const { tokens, created } = loadOrCreateTokens(tokenPath);
  const store = new PolicyStore(dataDir, { now });
  if (created) options.onTokensCreated?.(tokens, tokenPath);
  const auth = new Authenticator(tokens);
  const metrics = createMetrics(options.registry ?? new Registry(), { processMetrics: options.processMetrics });
  const cache = new SnapshotCache(store.snapshot());
  const rollout = new RolloutTracker(store.loadRollout(), { now, ...options.rollout });
  const telemetryStore = new TelemetryStore();
  const breakers = new BreakerStates(options.breakers);
  rollout.onNodeGone((nodeId) => breakers.nodeGone(nodeId));

  const suspects = new NetworkSuspects({ now });
  const discovery = new PolicyDiscoveryService({ cache, rollout, auth, metrics, logger: logger.child('discovery'), now, suspects, ...options.discovery });
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
  const confirmations = new CommitConfirmed({ store, operations, telemetry: telemetryStore, logger: logger.child('commit-confirmed'), now });
  const updateSnapshotGauges = () => {
    metrics.snapshotVersion.set(cache.current().version);
    metrics.policies.set(cache.current().entries.length);
  };
  updateSnapshotGauges();
  cache.watch(updateSnapshotGauges);

  const services = ['meshlens.v1.PolicyDiscovery', 'meshlens.v1.Telemetry', 'meshlens.v1.KernelTelemetry', 'meshlens.v1.Admin'];
  const health = new HealthImplementation(Object.fromEntries(['', ...services].map((name) => [name, 'SERVING' as const])));
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes ?? LIMITS.maxReceiveMessageBytes,
    'grpc.max_send_message_length': LIMITS.maxSendMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
  });
  discovery.addToServer(server);
  telemetry.addToServer(server);
  kernel.addToServer(server);
  new AdminService({ operations, confirmations, auth, metrics, logger: logger.child('admin') }).addToServer(server);
  health.addToServer(server);
  new ReflectionService(packageDefinition()).addToServer(server);

  const tls = options.tls ? readTls(options.tls) : undefined;
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const grpcListener = await listenGrpc(server, credentials, options.grpcHost ?? DEFAULT_HOST, options.grpcPort ?? DEFAULT_GRPC_PORT);
  const grpcPort = grpcListener.port;

  let ready = true;
  const http: HttpServer = createHttpApi({ operations, confirmations, auth, metrics, logger: logger.child('http'), ready: () => ready, tls });
  const httpPort = await new Promise<number>((done, fail) => {
    http.once('error', fail);
    http.listen(options.httpPort ?? DEFAULT_HTTP_PORT, options.httpHost ?? DEFAULT_HOST, () => {
      const address = http.address();
      done(typeof address === 'object' && address ? address.port : 0);
    });
  });

  const flushRollout = () => {
    const rows = rollout.takeDirty();
    if (rows.length > 0) store.saveRollout(rows);
    const expired = rollout.takeExpired();
    if (expired.length > 0) store.deleteRollout(expired);
  };
  // Rollout rows are flushed every 5 s rather than per ACK: at 10,000 streams one change yields 10,000 ACKs, and
  // writing them while ACKs are still arriving would stall the event loop during convergence.
  let ticks = 0;
  const maintenance = setInterval(() => {
    try {
      if (++ticks % 5 === 0) flushRollout();
      telemetryStore.prune(now());
      const expiredBefore = rollout.expiredTotal;
      rollout.prune(now());
      metrics.rolloutRowsExpired.inc(rollout.expiredTotal - expiredBefore);
      metrics.rolloutRows.set(rollout.size);
      breakers.prune(now());
    } catch (error) {
      logger.error('maintenance failed', { error: String(error) });
    }
    // Commit-confirmed changes are judged every second (evaluate() logs its own failures per confirmation).
    confirmations.evaluate(now());
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
      grpcListener.close();
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

  return { grpcPort, httpPort, tokens, metrics, operations, confirmations, discovery, telemetry: telemetryStore, correlator, close };
}
