// Composes the control plane: storage, snapshot cache, the gRPC services (PolicyDiscovery, Telemetry,
// KernelTelemetry, Admin, grpc.health.v1, reflection) and the HTTP API; binds them and shuts them down gracefully.
// No service logic lives here.
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Server as HttpServer } from 'node:http';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { AdminOperations, validateAndLimit, type PolicyValidator } from './admin-operations.ts';
import { CommitConfirmed } from './commit-confirmed.ts';
import { EtcdConfirmations, SqliteConfirmations } from './confirmation-store.ts';
import { Authenticator, loadOrCreateTokens, type TokenFile } from './auth.ts';
import { createHttpApi } from './http-api.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics, type ControlPlaneMetrics } from './metrics.ts';
import { LIMITS } from './limits.ts';
import { listenGrpc } from './grpc-listener.ts';
import type { PolicyStore } from './policy-store.ts';
import { SqlitePolicyStore } from './sqlite-policy-store.ts';
import { EtcdPolicyStore, type EtcdPolicyStoreOptions } from './etcd-policy-store.ts';
import type { Snapshot } from './snapshot.ts';
import { messageType, packageDefinition } from './protos.ts';
import { RolloutTracker } from './rollout.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { TelemetryStore } from './telemetry-store.ts';
import { TelemetryPeers } from './telemetry-peers.ts';
import { BreakerStates, type BreakerStatesOptions } from './breaker-states.ts';
import { NetworkSuspects } from './network-suspects.ts';
import { CorrelationWindows, type CorrelationWindowsOptions } from './correlation-windows.ts';
import { Correlator, type CorrelatorOptions } from './correlator.ts';
import { CorrelationExporter, correlationDropExport } from './metrics.ts';
import { AdminService } from './services/admin.ts';
import { KernelTelemetryService } from './services/kernel-telemetry.ts';
import { PolicyDiscoveryService, type PolicyDiscoveryOptions } from './services/policy-discovery.ts';
import { TelemetryService } from './services/telemetry.ts';
import { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT } from './defaults.ts';

export { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT } from './defaults.ts';
export const DEFAULT_HOST = '127.0.0.1';

export interface TlsFiles { certFile: string; keyFile: string; caFile?: string }   // caFile → client certs required

/** Reads the certificate files once for both listeners (gRPC and HTTPS take the same options). */
function readTls(tls: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer | undefined } {
  return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ca: tls.caFile ? readFileSync(tls.caFile) : undefined };
}

/** Where policies live: the embedded SQLite file in the data directory (default), or etcd shared by replicas. */
export type StoreOptions = { kind: 'sqlite' } | { kind: 'etcd'; endpoints: readonly string[]; prefix?: string; timeoutMs?: number; tls?: EtcdPolicyStoreOptions['tls'] };

export interface ControlPlaneOptions {
  dataDir?: string;                      // default ./.meshlens (tokens; the SQLite store)
  store?: StoreOptions;                  // default sqlite
  grpcHost?: string;                     // default 127.0.0.1 (loopback unless told otherwise)
  grpcPort?: number;                     // default 18000; 0 = ephemeral
  httpHost?: string;                     // default 127.0.0.1
  httpPort?: number;                     // default 18080; 0 = ephemeral
  tokenFile?: string;                    // default <dataDir>/tokens.json, generated when absent
  tls?: TlsFiles;                        // gRPC and the HTTP admin API over TLS (mTLS when caFile is set)
  maxReceiveBytes?: number;              // gRPC message limit, default LIMITS.maxReceiveMessageBytes
  validate?: PolicyValidator;            // default validateAndLimit (policy model + admission limits)
  rollout?: { graceMs?: number; maxRows?: number };
  discovery?: { firstRequestTimeoutMs?: number; maxUnflushedBytes?: number; slowStreamTimeoutMs?: number } & Pick<PolicyDiscoveryOptions, 'onAck' | 'onNack'>;
  registry?: Registry;
  processMetrics?: boolean;              // default true
  logger?: Logger;
  now?: () => number;
  onTokensCreated?: (tokens: TokenFile, path: string) => void;
  breakers?: BreakerStatesOptions;       // bounds and expiry of the reported breaker states
  correlation?: CorrelationWindowsOptions & Omit<CorrelatorOptions, 'onWindow'> & { maxEndpointSeries?: number; maxRouteSeries?: number };
  advertiseAddress?: string;             // etcd store: host:port other replicas forward telemetry to (default the bound host:grpc port)
  peerAuthority?: string;                // :authority of those calls (Istio: the peers' headless Service)
  peers?: { maxQueueBytes?: number; maxInFlight?: number; deadlineMs?: number; maxReplayBytes?: number; catchUpMs?: number };
}

/**
 * etcd store: how long a starting replica waits before it judges windows, so that the reports its peers replay to
 * it (telemetry-peers.ts) are in them first. This replica publishes itself at once and the peers read the registry
 * after each of their publishes (every second), so they see it within about a second and replay at most their queue's
 * 16 MiB; test/control-plane/peers.test.ts, a replica started five windows late, has every replayed report in before
 * this ends, also under two busy loops. A report replayed later lands in a window already judged, which keeps it
 * without changing a verdict (correlator.ts).
 */
export const PEER_CATCH_UP_MS = 3000;

export interface ControlPlane {
  grpcPort: number;
  httpPort: number;
  tokens: TokenFile;
  metrics: ControlPlaneMetrics;
  operations: AdminOperations;
  confirmations: CommitConfirmed;
  store: PolicyStore;
  discovery: PolicyDiscoveryService;
  telemetry: TelemetryStore;
  correlator: Correlator;
  close(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger('control-plane');
  const now = options.now ?? Date.now;
  const startedAtUnixMs = now();
  const { catchUpMs = PEER_CATCH_UP_MS, ...peerOptions } = options.peers ?? {};
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const validate = options.validate ?? validateAndLimit;
  const tokenPath = options.tokenFile ?? join(dataDir, 'tokens.json');
  // Tokens first: a refused token file (loose mode) must stop start-up before anything else is opened.
  const { tokens, created } = loadOrCreateTokens(tokenPath);
  const storeOptions = options.store ?? { kind: 'sqlite' };
  const sqlite = storeOptions.kind === 'sqlite' ? new SqlitePolicyStore(dataDir, { now }) : undefined;
  const store: PolicyStore = sqlite ?? new EtcdPolicyStore({
    ...(storeOptions as Extract<StoreOptions, { kind: 'etcd' }>), now, logger: logger.child('etcd'),
  });
  if (created) options.onTokensCreated?.(tokens, tokenPath);
  const auth = new Authenticator(tokens);
  const registry = options.registry ?? new Registry();
  const metrics = createMetrics(registry, { processMetrics: options.processMetrics });
  // etcd's snapshot arrives once the store answers (below); until then nothing is served from this empty one.
  const cache = new SnapshotCache(sqlite?.snapshot());
  const rollout = new RolloutTracker(store.loadRollout(), { now, ...options.rollout });
  const telemetryStore = new TelemetryStore();
  const breakers = new BreakerStates(options.breakers);
  rollout.onNodeGone((nodeId) => breakers.nodeGone(nodeId));

  const suspects = new NetworkSuspects();
  const discovery = new PolicyDiscoveryService({ cache, rollout, auth, metrics, logger: logger.child('discovery'), now, suspects, ...options.discovery });
  const windows = new CorrelationWindows(options.correlation);
  const exporter = new CorrelationExporter(metrics, { maxEndpoints: options.correlation?.maxEndpointSeries, maxRoutes: options.correlation?.maxRouteSeries });
  const exportDropped = correlationDropExport(metrics.correlationDropped, windows.dropped);
  const correlator = new Correlator(windows, {
    ...(storeOptions.kind === 'etcd' ? { evaluateFromMs: startedAtUnixMs + catchUpMs } : {}),
    ...options.correlation,
    onWindow: (join, endpoints) => {
      suspects.update(endpoints);
      metrics.correlationWindows.inc();
      metrics.correlationJoinCpu.observe(correlator.lastJoinCpuMs / 1000);
      exportDropped();
      if (join.flowsWithoutIdentity > 0) metrics.correlationDropped.inc({ kind: 'flows_without_identity' }, join.flowsWithoutIdentity);
      exporter.exportWindow(endpoints.map((e) => ({
        cluster: e.cluster, endpoint: e.endpoint, verdict: e.verdict, requests: e.signals.requests, errors: e.signals.errors,
        retransSegs: e.signals.retransSegs, segsOut: e.signals.segsOut, srttUs: e.signals.srttUs,
      })), join.routes);
    },
  });
  // With etcd, reports accepted here are forwarded to the other replicas (telemetry-peers.ts; set up once bound).
  let peers: TelemetryPeers | undefined;
  const kernel = new KernelTelemetryService({ auth, metrics, logger: logger.child('kernel'), windows,
    onAccepted: (bytes, metadata) => peers?.accepted('kernel', bytes, metadata) });
  const telemetry = new TelemetryService({ store: telemetryStore, auth, metrics, logger: logger.child('telemetry'), windows, breakers, now, exporter,
    onAccepted: (bytes, metadata) => peers?.accepted('filter', bytes, metadata) });
  const etcdStore = store instanceof EtcdPolicyStore ? store : undefined;
  const operations = new AdminOperations({
    store, cache, rollout, telemetry: telemetryStore, correlator, breakers, suspects, validate, logger: logger.child('admin'), now,
    replicas: etcdStore && (() => etcdStore.replicas()),
  });
  // Every replica holds every replica's accepted reports (telemetry-peers.ts): any of them can judge a change.
  const confirmations = new CommitConfirmed({
    store, records: sqlite ? new SqliteConfirmations(sqlite) : new EtcdConfirmations(etcdStore!),
    operations, telemetry: telemetryStore, logger: logger.child('commit-confirmed'), now,
  });
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
    // No channelz (nothing here serves or reads it): with it, @grpc/grpc-js 1.14 (src/server.ts
    // _channelzSessionHandler, _channelzHandler) registers every connection as a channelz socket (a peer-address
    // syscall, trace strings, an ordered-map insert and removal) and gives every call trackers that stamp
    // Date.now() on each message: per-connection and per-message work during a reconnect storm or a fan-out.
    'grpc.enable_channelz': 0,
    'grpc.max_concurrent_streams': LIMITS.maxStreamsPerConnection,
  });
  telemetry.addToServer(server);
  kernel.addToServer(server);
  new AdminService({ operations, confirmations, auth, metrics, logger: logger.child('admin') }).addToServer(server);
  health.addToServer(server);
  new ReflectionService(packageDefinition()).addToServer(server);

  const tls = options.tls ? readTls(options.tls) : undefined;
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();

  // HTTP first, not ready: a kubelet probe sees /readyz 503 (with why) while the store does not answer yet.
  let ready = false;
  let notReadyReason = 'starting';
  let closed = false;
  const http: HttpServer = createHttpApi({
    operations, confirmations, auth, metrics, logger: logger.child('http'), ready: () => ready, notReadyReason: () => notReadyReason, tls,
  });
  const httpPort = await new Promise<number>((done, fail) => {
    http.once('error', fail);
    http.listen(options.httpPort ?? DEFAULT_HTTP_PORT, options.httpHost ?? DEFAULT_HOST, () => {
      const address = http.address();
      done(typeof address === 'object' && address ? address.port : 0);
    });
  });
  if (store instanceof EtcdPolicyStore) {
    // Waits (without exiting: a crash loop would only add restarts) until etcd answers. Discovery is bound only
    // after that: a filter connecting earlier would otherwise be served the empty snapshot and drop its policies.
    const initial = await waitForStore(store, logger, (reason) => { notReadyReason = reason; }, () => closed);
    if (initial.version > 0) cache.set(initial);
    store.subscribe((snapshot: Snapshot) => {
      if (snapshot.version > cache.current().version) cache.set(snapshot);
    });
  }
  const grpcListener = await listenGrpc(server, credentials, options.grpcHost ?? DEFAULT_HOST, options.grpcPort ?? DEFAULT_GRPC_PORT, {
    raw: new Map([
      discovery.route({ maxReceiveMessageBytes: options.maxReceiveBytes ?? LIMITS.maxReceiveMessageBytes, maxSendMessageBytes: LIMITS.maxSendMessageBytes }),
    ]),
    pending: (count) => metrics.grpcConnectionsWaiting.set(count),
    shed: () => metrics.grpcConnectionsShed.inc(),
  });
  const grpcPort = grpcListener.port;
  ready = true;
  notReadyReason = '';
  // Each replica publishes its rollout totals every second under a lease (etcd-policy-store.ts), so GET /v1/replicas
  // on any replica shows all of them; a failed publish is logged at most once a minute.
  let publishing = false, lastPublishError = 0;
  const replicaId = `${hostname()}:${grpcPort}`;
  const advertiseAddress = options.advertiseAddress ?? defaultAdvertiseAddress(options.grpcHost ?? DEFAULT_HOST, grpcPort);
  peers = etcdStore && new TelemetryPeers({
    self: advertiseAddress, authority: options.peerAuthority, registry, logger: logger.child('peers'), now,
    // A joining replica is sent what the correlation still looks back on (its kept windows).
    replayMs: windows.maxWindows * windows.windowMs, ...peerOptions,
    // Peers dial with the transport this replica serves: its CA and certificate when mTLS is on.
    credentials: tls ? grpc.credentials.createSsl(tls.ca ?? tls.cert, tls.ca ? tls.key : null, tls.ca ? tls.cert : null) : grpc.credentials.createInsecure(),
  });
  // The registry read after each publish is the peer list: a replica whose lease lapsed (5 s) stops being a peer.
  let stateTaken = false;
  const publish = () => {
    if (publishing || !etcdStore) return;
    publishing = true;
    etcdStore.publishReplica({ ...operations.replicaSummary(replicaId), advertiseAddress, startedAtUnixMs })
      .then(() => etcdStore.replicas())
      .then((rows) => {
        if (closed) return;
        peers!.setPeers(rows.map((row) => ({ address: row.advertiseAddress ?? '', startedAtUnixMs: row.startedAtUnixMs })));
        if (!stateTaken) {
          stateTaken = true;
          takeCorrelatorState();
        }
      })
      .catch((error) => {
        if (now() - lastPublishError >= 60_000) { lastPublishError = now(); logger.warn('replica summary not published', { error: String(error) }); }
      }).finally(() => { publishing = false; });
  };
  // Once, at the first registry read: the longest-running peer's baselines and verdicts (Correlator.importState), so
  // this replica's baselines reach as far back as theirs and not only over the windows replayed to it. Asked with an
  // admin token of the shared token file; the answer fits one gRPC message (AdminOperations.correlatorState). Without
  // a peer, or with an answer after this replica judged a window, it keeps its own (logged).
  const takeCorrelatorState = () => {
    const adminToken = Object.values(tokens.admin)[0];
    if (!adminToken || peers!.peers().length === 0) return;
    const stateType = messageType('CorrelatorState');
    peers!.askLongestRunning('/meshlens.v1.Admin/GetCorrelatorState', new Uint8Array(0), `Bearer ${adminToken}`, catchUpMs)
      .then((bytes) => {
        if (!bytes || closed) return;
        const { stateJson } = stateType.decode(bytes) as unknown as { stateJson: string };
        const taken = correlator.importState(stateJson);
        if (taken === undefined) logger.warn('correlation state from a peer not taken (a window was judged here first, or its format is unknown)');
        else logger.info('correlation state taken from a peer', { endpoints: taken });
      })
      .catch((error) => logger.warn('correlation state not taken from a peer', { error: String(error) }));
  };
  // Published at once, not a second later: the others' catch-up of this replica starts when they read it.
  publish();
  const publisher = etcdStore && setInterval(publish, 1000);
  publisher?.unref();

  const flushRollout = () => {
    const rows = rollout.takeDirty();
    if (rows.length > 0) store.saveRollout(rows);
    const expired = rollout.takeExpired();
    if (expired.length > 0) store.deleteRollout(expired);
  };
  // Rollout rows are flushed every 5 s rather than per ACK: at 10,000 streams one change yields 10,000 ACKs, and
  // writing them while ACKs are still arriving would stall the event loop during convergence.
  let ticks = 0;
  let evaluating = false;
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
    // Commit-confirmed changes are judged every second (evaluate() logs its own failures per confirmation); one
    // evaluation at a time, as a rollback it makes is awaited.
    if (!evaluating) {
      evaluating = true;
      confirmations.evaluate(now())
        .catch((error) => logger.error('commit-confirmed evaluation failed', { error: String(error) }))
        .finally(() => { evaluating = false; });
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
  logger.info('control plane started', { grpcPort, httpPort, dataDir, store: store.kind, snapshotVersion: cache.current().version, tls: !!options.tls });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      closed = true;
      for (const name of ['', ...services]) health.setStatus(name, 'NOT_SERVING');
      clearInterval(maintenance);
      clearInterval(correlation);
      if (publisher) clearInterval(publisher);
      peers?.close();
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
      await store.close();
      logger.info('control plane stopped');
    })();
    return closing;
  };

  return { grpcPort, httpPort, tokens, metrics, operations, confirmations, store, discovery, telemetry: telemetryStore, correlator, close };
}

/** host:port other replicas dial: the bound host, or this machine's name when bound to every interface. */
function defaultAdvertiseAddress(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
  return name.includes(':') ? `[${name}]:${port}` : `${name}:${port}`;
}

/** Reads the store's snapshot until it answers, saying why not (in /readyz and a log line every 5 s) meanwhile. */
async function waitForStore(store: EtcdPolicyStore, logger: Logger, setReason: (reason: string) => void, closed: () => boolean): Promise<Snapshot> {
  let lastLog = 0;
  for (;;) {
    try {
      const snapshot = await store.snapshot();
      logger.info('store ready', { store: 'etcd', endpoints: store.client.endpoints.join(','), snapshotVersion: snapshot.version });
      return snapshot;
    } catch (error) {
      const reason = `store not ready: ${(error as Error).message}`;
      setReason(reason);
      if (closed()) throw error;
      if (Date.now() - lastLog >= 5000) { logger.error(reason); lastLog = Date.now(); }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
