import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The filter's metric table from docs/ARCHITECTURE.md ("Metrics"): what Prometheus must see after tag extraction.
// Every series also carries the labels it shares with Istio's istio_requests_total, so a PromQL join needs no
// label_replace: the proxy's (reporter, source_workload, source_workload_namespace: one value per proxy) and the
// destination service's (derived from upstream_cluster). Neither adds a series.
export const ISTIO_JOIN_LABELS = [
  'reporter', 'source_workload', 'source_workload_namespace',
  'destination_service', 'destination_service_name', 'destination_service_namespace',
] as const;
const own = (labels: string[]) => [...ISTIO_JOIN_LABELS, ...labels];
export const MESHLENS_METRICS: Record<string, { type: 'counter' | 'gauge' | 'histogram'; labels: string[] }> = {
  meshlens_requests_total: { type: 'counter', labels: own(['upstream_cluster', 'path', 'method', 'response_code', 'tenant']) },
  meshlens_request_duration_milliseconds: { type: 'histogram', labels: own(['upstream_cluster', 'path', 'tenant']) },
  meshlens_breaker_rejected_total: { type: 'counter', labels: own(['upstream_cluster', 'tenant']) },
  meshlens_breaker_transitions_total: { type: 'counter', labels: own(['upstream_cluster', 'tenant', 'to_state']) },
  meshlens_retry_decisions_total: { type: 'counter', labels: own(['upstream_cluster', 'tenant', 'decision']) },
  meshlens_retries_total: { type: 'counter', labels: own(['upstream_cluster', 'tenant']) },
  // One per breaker scope: path is the policy's target path template ("*" for a catch-all policy).
  meshlens_breaker_state: { type: 'gauge', labels: own(['upstream_cluster', 'path', 'tenant']) },
};

export const BREAKER_STATES = ['Closed', 'Open', 'HalfOpen'] as const;
export const RETRY_DECISIONS = ['granted', 'budget_exhausted', 'breaker_open', 'not_idempotent', 'disabled'] as const;

/** The design-table metric a series name belongs to (histogram series carry _bucket/_sum/_count). */
export function baseMetric(series: string): string | undefined {
  if (series in MESHLENS_METRICS) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && MESHLENS_METRICS[m[1]]?.type === 'histogram' ? m[1] : undefined;
}

/** Metric names the control plane and node agent register (prom-client `name: '…'` in their sources). */
export function componentMetricNames(repoRoot: string): Set<string> {
  const names = new Set<string>();
  for (const file of ['control-plane/src/metrics.ts', 'bpf/agent/metrics.ts']) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    for (const [, name] of text.matchAll(/name: '(meshlens_[a-z0-9_]+)'/g)) names.add(name);
  }
  return names;
}
