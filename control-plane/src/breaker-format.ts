// Text tables for `meshlens breakers`, and the breaker section `meshlens endpoints` / `correlations` append.
import type { BreakerAggregate, BreakerTransition } from './breaker-states.ts';
import { table } from './correlation-format.ts';

const time = (unixMs: number) => (unixMs > 0 ? new Date(unixMs).toISOString() : '-');

export function formatBreakerScopes(breakers: readonly BreakerAggregate[]): string {
  return table(['CLUSTER', 'TENANT', 'POLICY', 'STATE', 'NODES C/O/H', 'SINCE', 'WHY'],
    breakers.map((b) => [b.cluster, b.tenant || '*', b.policyId || '(default)', b.state,
      `${b.nodes.Closed}/${b.nodes.Open}/${b.nodes.HalfOpen}`, time(b.since), b.reason || '-']));
}

export function formatBreakers(breakers: readonly BreakerAggregate[], transitions: readonly BreakerTransition[]): string {
  if (breakers.length === 0) return 'no breaker state reported\n';
  let out = formatBreakerScopes(breakers);
  if (transitions.length > 0) {
    out += '\nrecent transitions\n';
    out += table(['AT', 'NODE', 'CLUSTER', 'TENANT', 'FROM', 'TO'],
      transitions.map((t) => [time(t.atUnixMs), t.node, t.cluster, t.tenant || '*', t.from, t.to]));
  }
  return out;
}

/** The section appended to the endpoint and correlation views: the breakers of their clusters that are not Closed. */
export function formatOpenBreakers(breakers: readonly BreakerAggregate[] | undefined): string {
  if (!breakers || breakers.length === 0) return '';
  return '\nbreakers not Closed on these clusters\n' + formatBreakerScopes(breakers);
}
