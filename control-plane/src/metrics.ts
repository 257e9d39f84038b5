// Control-plane Prometheus metrics, created on an injected Registry (never prom-client's global one) so several
// control planes in one test process do not collide. Names carry the meshlens_cp_ prefix; counters end in _total.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DroppedCounts } from './correlation-windows.ts';

export interface ControlPlaneMetrics {
  registry: Registry;
  connectedProxies: Gauge<string>;
  snapshotVersion: Gauge<string>;
  policies: Gauge<string>;
  pushToAck: Histogram<string>;
  pushes: Counter<string>;
  nacks: Counter<string>;
  grpcConnectionsWaiting: Gauge<string>;
  grpcConnectionsShed: Counter<string>;
  discoveryStreamsRefused: Counter<'reason'>;
  discoveryStreamsAwaitingFirstRequest: Gauge<string>;
  discoveryUnflushedBytes: Gauge<string>;
  discoveryDeferredSends: Counter<string>;
  rolloutRows: Gauge<string>;
  rolloutRowsExpired: Counter<string>;
  reportsReceived: Counter<'source'>;
  reportsRejected: Counter<'source' | 'code'>;
  reportEntries: Counter<'source'>;
  adminRequestDuration: Histogram<'transport' | 'operation' | 'code'>;
  endpointVerdict: Gauge<EndpointLabel | 'verdict'>;
  endpointRetransmitRatio: Gauge<EndpointLabel>;
  endpointErrorRatio: Gauge<EndpointLabel>;
  endpointSrtt: Gauge<EndpointLabel>;
  routeRetransmittedSegments: Counter<RouteLabel>;
  routeSentSegments: Counter<RouteLabel>;
  networkSuspectFailures: Counter<RouteLabel>;
  correlationWindows: Counter<string>;
  correlationDropped: Counter<'kind'>;
  correlationJoinCpu: Histogram<string>;
}

type ServiceLabel = 'upstream_cluster' | 'destination_service' | 'destination_service_name' | 'destination_service_namespace';
type EndpointLabel = ServiceLabel | 'endpoint';
type RouteLabel = ServiceLabel | 'path' | 'tenant';

/** Why a discovery stream was closed by the control plane: a fixed set, so the label cannot grow. */
export const STREAM_REFUSALS = ['unauthenticated', 'permission_denied', 'invalid_request', 'first_request_timeout', 'rollout_rows', 'slow_reader'] as const;

export function createMetrics(registry: Registry = new Registry(), options: { processMetrics?: boolean } = {}): ControlPlaneMetrics {
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'meshlens_cp_' });
  const registers = [registry];
  return {
    registry,
    connectedProxies: new Gauge({ name: 'meshlens_cp_connected_proxies', help: 'Open PolicyDiscovery streams (one per proxy; one per VM from filters older than one-stream).', registers }),
    snapshotVersion: new Gauge({ name: 'meshlens_cp_snapshot_version', help: 'Current policy snapshot version.', registers }),
    policies: new Gauge({ name: 'meshlens_cp_policies', help: 'Live policies in the current snapshot.', registers }),
    pushToAck: new Histogram({
      name: 'meshlens_cp_push_to_ack_seconds',
      help: 'Time from sending a snapshot on a discovery stream to its ACK (istiod convergence buckets).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers,
    }),
    pushes: new Counter({ name: 'meshlens_cp_pushes_total', help: 'DiscoveryResponses sent.', registers }),
    // No reason label: a NACK's reason is the filter's text, and a hostile proxy choosing a new one per NACK would
    // make a series each. The reason is kept (truncated) in the rollout row and the log line.
    nacks: new Counter({ name: 'meshlens_cp_nacks_total', help: 'DiscoveryResponses rejected by filters (reasons: rollout status).', registers }),
    grpcConnectionsWaiting: new Gauge({
      name: 'meshlens_cp_grpc_connections_waiting', help: 'Connections accepted on the gRPC port and waiting for their HTTP/2 session (a reconnect storm queues here).', registers,
    }),
    grpcConnectionsShed: new Counter({
      name: 'meshlens_cp_grpc_connections_shed_total', help: 'Connections to the gRPC port reset on arrival because LIMITS.maxPendingConnections were waiting.', registers,
    }),
    discoveryStreamsRefused: new Counter({
      name: 'meshlens_cp_discovery_streams_refused_total', help: 'Discovery streams closed by the control plane, by reason.',
      labelNames: ['reason'] as const, registers,
    }),
    discoveryStreamsAwaitingFirstRequest: new Gauge({
      name: 'meshlens_cp_discovery_streams_awaiting_first_request', help: 'Open discovery streams that have not sent their first request yet.', registers,
    }),
    discoveryUnflushedBytes: new Gauge({
      name: 'meshlens_cp_discovery_unflushed_bytes', help: 'Snapshot bytes written to discovery streams and not yet flushed to their sockets.', registers,
    }),
    discoveryDeferredSends: new Counter({
      name: 'meshlens_cp_discovery_deferred_sends_total', help: 'Sends postponed because slow streams held the unflushed-bytes budget.', registers,
    }),
    rolloutRows: new Gauge({ name: 'meshlens_cp_rollout_rows', help: 'Filter VMs in the rollout status (connected or within their grace).', registers }),
    rolloutRowsExpired: new Counter({ name: 'meshlens_cp_rollout_rows_expired_total', help: 'Rollout rows dropped after their grace or at the row bound.', registers }),
    reportsReceived: new Counter({ name: 'meshlens_cp_reports_received_total', help: 'Telemetry reports accepted.', labelNames: ['source'], registers }),
    reportsRejected: new Counter({ name: 'meshlens_cp_reports_rejected_total', help: 'Telemetry reports rejected, by status code.', labelNames: ['source', 'code'], registers }),
    reportEntries: new Counter({ name: 'meshlens_cp_report_entries_total', help: 'Entries (connections, routes, breakers, flows) ingested.', labelNames: ['source'], registers }),
    adminRequestDuration: new Histogram({
      name: 'meshlens_cp_admin_request_duration_seconds',
      help: 'Admin API request latency by transport, operation and result code.',
      labelNames: ['transport', 'operation', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    endpointVerdict: new Gauge({
      name: 'meshlens_cp_endpoint_verdict',
      help: 'Upstream endpoints by correlation verdict (1 per named endpoint on its current verdict; the count for endpoint="~other").',
      labelNames: [...ENDPOINT_LABELS, 'verdict'], registers,
    }),
    endpointRetransmitRatio: new Gauge({
      name: 'meshlens_cp_endpoint_retransmit_ratio', help: 'Retransmitted / sent segments of the endpoint in the last evaluated window.',
      labelNames: ENDPOINT_LABELS, registers,
    }),
    endpointErrorRatio: new Gauge({
      name: 'meshlens_cp_endpoint_error_ratio', help: 'Failed / completed requests of the endpoint in the last evaluated window.',
      labelNames: ENDPOINT_LABELS, registers,
    }),
    endpointSrtt: new Gauge({
      name: 'meshlens_cp_endpoint_srtt_seconds', help: 'Smoothed RTT of the endpoint\'s flows (sent-segment weighted) in the last evaluated window.',
      labelNames: ENDPOINT_LABELS, registers,
    }),
    routeRetransmittedSegments: new Counter({
      name: 'meshlens_cp_route_retransmitted_segments_total',
      help: 'Retransmitted segments attributed to (cluster, path template, tenant) in proportion to their requests on each connection.',
      labelNames: ROUTE_LABELS, registers,
    }),
    routeSentSegments: new Counter({
      name: 'meshlens_cp_route_sent_segments_total', help: 'Sent segments attributed to (cluster, path template, tenant) likewise.',
      labelNames: ROUTE_LABELS, registers,
    }),
    // From the route entries of filter telemetry (OutcomeCounters.network_suspect_failures), not the connection
    // entries: a request that timed out or never got a connection has no upstream.local_address and so no connection
    // entry, but it is one of the failures a network-aware breaker excuses. The breaker's scope is (cluster, tenant).
    networkSuspectFailures: new Counter({
      name: 'meshlens_cp_network_suspect_failures_total',
      help: 'Requests that failed or were slow on an endpoint the control plane judged network-suspect and that a network-aware breaker therefore did not count, by (cluster, path template, tenant), as the filters report them.',
      labelNames: ROUTE_LABELS, registers,
    }),
    correlationWindows: new Counter({ name: 'meshlens_cp_correlation_windows_total', help: 'Report windows joined and evaluated.', registers }),
    correlationDropped: new Counter({
      name: 'meshlens_cp_correlation_dropped_total',
      help: 'Correlation input dropped at its bound (kind: flows, connections, late_reports, identities; routes: a new route name past the window\'s cap, its requests kept under "~other"; untracked_sources: reporters past maxSources, which only stop holding windows open) or not joinable (flows_without_identity).',
      labelNames: ['kind'], registers,
    }),
    correlationJoinCpu: new Histogram({
      name: 'meshlens_cp_correlation_join_cpu_seconds', help: 'CPU time of one window\'s join.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers,
    }),
  };
}

// CorrelationWindows' drop counts (DroppedCounts field) by their kind label.
const DROPPED_KINDS = [['flows', 'flows'], ['connections', 'connections'], ['late_reports', 'lateReports'], ['routes', 'routes'],
  ['identities', 'identities'], ['untracked_sources', 'sources']] as const;

/**
 * Exports CorrelationWindows' drop counts, which only grow, to meshlens_cp_correlation_dropped_total{kind}: each call
 * adds what they grew by since the previous one (the server calls it once per judged window).
 */
export function correlationDropExport(counter: Counter<'kind'>, dropped: Readonly<DroppedCounts>): () => void {
  const exported = { ...dropped };
  return () => {
    for (const [kind, key] of DROPPED_KINDS) {
      if (dropped[key] > exported[key]) counter.inc({ kind }, dropped[key] - exported[key]);
      exported[key] = dropped[key];
    }
  };
}

const SERVICE_LABELS = ['upstream_cluster', 'destination_service', 'destination_service_name', 'destination_service_namespace'] as const;
const ENDPOINT_LABELS = [...SERVICE_LABELS, 'endpoint'];
const ROUTE_LABELS = [...SERVICE_LABELS, 'path', 'tenant'];
export const OTHER = '~other';

/**
 * Istio's service labels (istio/istio.io content/en/docs/reference/config/telemetry/metrics/index.md) from an Envoy
 * cluster name as Istio builds it, "direction|port|subset|hostname" (istio/istio pilot/pkg/model/service.go,
 * BuildSubsetKey): destination_service is the hostname, its first two DNS labels are the service name and namespace
 * for a Kubernetes service (<name>.<namespace>.svc.<domain>). Other cluster names keep "unknown", as Istio does.
 */
export function serviceLabels(cluster: string): Record<(typeof SERVICE_LABELS)[number], string> {
  const parts = cluster.split('|');
  const hostname = parts.length === 4 ? parts[3]! : '';
  const labels = hostname.split('.');
  const kubernetes = labels.length >= 3 && labels[2] === 'svc';
  return {
    upstream_cluster: cluster,
    destination_service: hostname || 'unknown',
    destination_service_name: kubernetes ? labels[0]! : hostname || 'unknown',
    destination_service_namespace: kubernetes ? labels[1]! : 'unknown',
  };
}

export interface ExportedEndpoint {
  cluster: string;
  endpoint: string;
  verdict: string;
  requests: number;
  errors: number;
  retransSegs: number;
  segsOut: number;
  srttUs: number;
}

export interface ExportedRoute { cluster: string; pathTemplate: string; tenant: string; retransSegs: number; segsOut: number }

/**
 * Bounded export of the correlation: the first `maxEndpoints` endpoints seen (per control plane) get their own
 * series, later ones are summed under endpoint="~other"; routes likewise beyond `maxRoutes` (path and tenant
 * "~other"), for the retransmit counters and the network-suspect failures alike. Admission is sticky so series do not churn; an endpoint the correlator no longer lists (it keeps a
 * bounded set) releases its place.
 */
export class CorrelationExporter {
  readonly #metrics: ControlPlaneMetrics;
  readonly #maxEndpoints: number;
  readonly #maxRoutes: number;
  readonly #endpoints = new Set<string>();
  readonly #routes = new Set<string>();

  constructor(metrics: ControlPlaneMetrics, options: { maxEndpoints?: number; maxRoutes?: number } = {}) {
    this.#metrics = metrics;
    this.#maxEndpoints = options.maxEndpoints ?? 200;
    this.#maxRoutes = options.maxRoutes ?? 1000;
  }

  exportWindow(endpoints: readonly ExportedEndpoint[], routes: readonly ExportedRoute[]): void {
    const m = this.#metrics;
    const live = new Set(endpoints.map((e) => `${e.cluster}\u0000${e.endpoint}`));
    for (const key of this.#endpoints) if (!live.has(key)) this.#endpoints.delete(key);
    const others = new Map<string, ExportedEndpoint & { verdicts: Map<string, number> }>();
    m.endpointVerdict.reset();
    m.endpointRetransmitRatio.reset();
    m.endpointErrorRatio.reset();
    m.endpointSrtt.reset();
    for (const e of endpoints) {
      const key = `${e.cluster}\u0000${e.endpoint}`;
      if (!this.#endpoints.has(key) && this.#endpoints.size < this.#maxEndpoints) this.#endpoints.add(key);
      if (this.#endpoints.has(key)) {
        this.#setEndpoint({ ...serviceLabels(e.cluster), endpoint: e.endpoint }, e, new Map([[e.verdict, 1]]));
        continue;
      }
      let other = others.get(e.cluster);
      if (!other) others.set(e.cluster, (other = { ...e, endpoint: OTHER, requests: 0, errors: 0, retransSegs: 0, segsOut: 0, srttUs: 0, verdicts: new Map() }));
      other.srttUs = (other.srttUs * other.segsOut + e.srttUs * e.segsOut) / Math.max(1, other.segsOut + e.segsOut);
      other.requests += e.requests;
      other.errors += e.errors;
      other.retransSegs += e.retransSegs;
      other.segsOut += e.segsOut;
      other.verdicts.set(e.verdict, (other.verdicts.get(e.verdict) ?? 0) + 1);
    }
    for (const other of others.values()) this.#setEndpoint({ ...serviceLabels(other.cluster), endpoint: OTHER }, other, other.verdicts);
    for (const r of routes) {
      if (r.retransSegs === 0 && r.segsOut === 0) continue;
      const labels = this.#routeLabels(r.cluster, r.pathTemplate, r.tenant);
      if (r.retransSegs > 0) m.routeRetransmittedSegments.inc(labels, r.retransSegs);
      m.routeSentSegments.inc(labels, r.segsOut);
    }
  }

  /** `count` network-suspect failures a filter reported for (cluster, path template, tenant) in one window. */
  countNetworkSuspectFailures(cluster: string, pathTemplate: string, tenant: string, count: number): void {
    if (count > 0) this.#metrics.networkSuspectFailures.inc(this.#routeLabels(cluster, pathTemplate, tenant), count);
  }

  /** One admission for every per-route series, so the route cap bounds them together. */
  #routeLabels(cluster: string, pathTemplate: string, tenant: string): Record<RouteLabel, string> {
    const key = `${cluster}\u0000${pathTemplate}\u0000${tenant}`;
    if (!this.#routes.has(key) && this.#routes.size < this.#maxRoutes) this.#routes.add(key);
    const admitted = this.#routes.has(key);
    return { ...serviceLabels(cluster), path: admitted ? pathTemplate : OTHER, tenant: admitted ? tenant : OTHER };
  }

  #setEndpoint(labels: Record<string, string>, e: ExportedEndpoint, verdicts: Map<string, number>): void {
    const m = this.#metrics;
    for (const [verdict, count] of verdicts) m.endpointVerdict.set({ ...labels, verdict }, count);
    if (e.segsOut > 0) m.endpointRetransmitRatio.set(labels, e.retransSegs / e.segsOut);
    if (e.requests > 0) m.endpointErrorRatio.set(labels, e.errors / e.requests);
    if (e.srttUs > 0) m.endpointSrtt.set(labels, e.srttUs / 1e6);
  }
}
