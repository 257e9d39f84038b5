// Text tables for `meshlens endpoints` and `meshlens correlations` (the --json flag prints the API answer instead).
import type { CorrelationView, EndpointStatus, RouteView } from './correlator.ts';

const pct = (value: number) => `${(value * 100).toFixed(2)}%`;

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function formatEndpoints(endpoints: readonly EndpointStatus[]): string {
  if (endpoints.length === 0) return 'no endpoint evaluated yet\n';
  const rows = endpoints.map((e) => [
    e.cluster, e.endpoint, e.verdict,
    `${pct(e.signals.retransRatio)} (${pct(e.baseline?.retransRatio ?? 0)})`,
    `${(e.signals.srttUs / 1000).toFixed(2)} (${((e.baseline?.srttUs ?? 0) / 1000).toFixed(2)})`,
    `${pct(e.signals.errorRatio)} (${pct(e.baseline?.errorRatio ?? 0)})`,
    `${pct(e.signals.slowRatio)} (${pct(e.baseline?.slowRatio ?? 0)})`,
    String(e.signals.requests),
  ]);
  let out = table(['CLUSTER', 'ENDPOINT', 'VERDICT', 'RETRANS (BASE)', 'SRTT MS (BASE)', 'ERRORS (BASE)', 'SLOW (BASE)', 'REQUESTS'], rows);
  const changes = endpoints.flatMap((e) => e.history.map((h) => ({ ...h, endpoint: e.endpoint })))
    .sort((a, b) => a.windowEndUnixMs - b.windowEndUnixMs);
  if (changes.length > 0) {
    out += '\nrecent verdict changes\n';
    out += table(['WINDOW END', 'ENDPOINT', 'FROM', 'TO', 'WHY'],
      changes.map((h) => [new Date(h.windowEndUnixMs).toISOString(), h.endpoint, h.from, h.to, h.reason]));
  }
  return out;
}

export function formatCorrelations(correlations: readonly CorrelationView[], routes: readonly RouteView[]): string {
  const latestRoutes = routes.filter((r) => r.retransSegs > 0 || r.segsOut > 0);
  let out = correlations.length === 0 ? 'no kernel flow in the kept windows\n' : table(
    ['WINDOW END', 'PROXY', 'NETNS', 'LOCAL', 'REMOTE', 'CLUSTER', 'RETRANS', 'SENT', 'REQUESTS', 'ERRORS'],
    correlations.map((c) => [new Date(c.windowEndUnixMs).toISOString(), c.proxyId || '-', String(c.netns), c.localAddress,
      c.remoteAddress, c.cluster || '-', String(c.retransSegs), String(c.segsOut), String(c.requests), String(c.errors)]));
  if (latestRoutes.length > 0) {
    out += '\nretransmits attributed to routes and tenants\n';
    out += table(['WINDOW END', 'CLUSTER', 'PATH', 'TENANT', 'REQUESTS', 'RETRANS', 'SENT'],
      latestRoutes.map((r) => [new Date(r.windowEndUnixMs).toISOString(), r.cluster, r.pathTemplate || '-', r.tenant || '-',
        String(r.requests), r.retransSegs.toFixed(1), r.segsOut.toFixed(1)]));
  }
  return out;
}
