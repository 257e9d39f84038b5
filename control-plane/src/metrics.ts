// Control-plane Prometheus metrics, created on an injected Registry (never prom-client's global one) so several
// control planes in one test process do not collide. Names carry the meshlens_cp_ prefix; counters end in _total.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ControlPlaneMetrics {
  registry: Registry;
  connectedProxies: Gauge<string>;
  snapshotVersion: Gauge<string>;
  policies: Gauge<string>;
  pushToAck: Histogram<string>;
  pushes: Counter<string>;
  nacks: Counter<'reason'>;
  reportsReceived: Counter<'source'>;
  reportsRejected: Counter<'source' | 'code'>;
  reportEntries: Counter<'source'>;
  adminRequestDuration: Histogram<'transport' | 'operation' | 'code'>;
}

/** Bounds the `reason` label: NACK messages are "invalid <thing>: <field> must <rule>", keep "<thing>: <field>". */
export function nackReasonLabel(message: string): string {
  const match = /^invalid ([^:]+): ([A-Za-z0-9_.\[\]-]+)/.exec(message);
  return match ? `${match[1]}: ${match[2]}`.slice(0, 80) : 'other';
}

export function createMetrics(registry: Registry = new Registry(), options: { processMetrics?: boolean } = {}): ControlPlaneMetrics {
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'meshlens_cp_' });
  const registers = [registry];
  return {
    registry,
    connectedProxies: new Gauge({ name: 'meshlens_cp_connected_proxies', help: 'Open PolicyDiscovery streams (one per filter VM).', registers }),
    snapshotVersion: new Gauge({ name: 'meshlens_cp_snapshot_version', help: 'Current policy snapshot version.', registers }),
    policies: new Gauge({ name: 'meshlens_cp_policies', help: 'Live policies in the current snapshot.', registers }),
    pushToAck: new Histogram({
      name: 'meshlens_cp_push_to_ack_seconds',
      help: 'Time from sending a snapshot on a discovery stream to its ACK (istiod convergence buckets).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30],
      registers,
    }),
    pushes: new Counter({ name: 'meshlens_cp_pushes_total', help: 'DiscoveryResponses sent.', registers }),
    nacks: new Counter({ name: 'meshlens_cp_nacks_total', help: 'DiscoveryResponses rejected by filters, by reason.', labelNames: ['reason'], registers }),
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
  };
}
