// Breaker states reported by the filters (telemetry.proto BreakerEntry), kept per (node, cluster, tenant, policy):
// the latest state and a bounded ring of its transitions, aggregated per scope for the Admin API (GET /v1/breakers,
// Admin.ListBreakers, `meshlens breakers`). Breaker state is process-wide in a proxy (shared data), so every VM of a
// node reports the same scope; a report whose since_unix_ms is not newer than what is kept adds no transition, and
// one that is older (a VM whose view lags) does not overwrite it.
//
// A report carries the state at window end, not each step: when the state changed, the transition is recorded from
// the kept state; when a node is first seen, or the state is the same but entered again (Open → HalfOpen → Open
// within one report interval), the predecessor is inferred from the state machine (Open comes from Closed when the
// window tripped it, from HalfOpen when a probe failed; HalfOpen from Open; Closed from HalfOpen).
//
// Bounds: at most maxEntries (node, scope) entries (more are refused and counted in `refused`), transitionsPerEntry
// per entry, maxTransitionsListed in a view. Entries of a node whose discovery streams all ended, or that has not
// reported for staleAfterMs, are dropped. Pure: time passed in.
import type { BreakerEntry__Output } from './generated/meshlens/v1/BreakerEntry.ts';
import type { BreakerStateName } from './breaker-replay.ts';

export interface BreakerStatesOptions {
  maxEntries?: number;             // default 20,000 (node, scope) pairs
  transitionsPerEntry?: number;    // default 16
  maxTransitionsListed?: number;   // default 500
  staleAfterMs?: number;           // default 60,000
}

export type OpenCauseName = '' | 'error-rate' | 'slow-call-rate' | 'probe-failed';

export interface NodeBreaker {
  node: string;
  cluster: string;
  tenant: string;
  policyId: string;
  pathTemplate: string;
  state: BreakerStateName;
  sinceUnixMs: number;
  openUntilUnixMs: number;
  openCause: OpenCauseName;
  tripRequests: number;
  tripFailures: number;
  tripSlowCalls: number;
  reportedAtUnixMs: number;
  transitions: BreakerTransition[];   // oldest first
}

export interface BreakerTransition {
  atUnixMs: number;
  node: string;
  cluster: string;
  tenant: string;
  from: BreakerStateName;
  to: BreakerStateName;
}

export interface BreakerAggregate {
  cluster: string;
  tenant: string;
  state: BreakerStateName;
  policyId: string;
  nodes: Record<BreakerStateName, number>;
  since: number;
  reason: string;
}

export interface BreakersView {
  breakers: BreakerAggregate[];
  transitions: BreakerTransition[];
}

const STATE_NAME: Record<string, BreakerStateName> = {
  BREAKER_STATE_CLOSED: 'Closed', BREAKER_STATE_OPEN: 'Open', BREAKER_STATE_HALF_OPEN: 'HalfOpen',
};
const CAUSE_NAME: Record<string, OpenCauseName> = {
  BREAKER_OPEN_CAUSE_ERROR_RATE: 'error-rate', BREAKER_OPEN_CAUSE_SLOW_CALL_RATE: 'slow-call-rate',
  BREAKER_OPEN_CAUSE_PROBE_FAILED: 'probe-failed',
};
const SEVERITY: Record<BreakerStateName, number> = { Closed: 0, HalfOpen: 1, Open: 2 };

function predecessor(state: BreakerStateName, cause: OpenCauseName): BreakerStateName {
  if (state === 'Open') return cause === 'probe-failed' ? 'HalfOpen' : 'Closed';
  return state === 'HalfOpen' ? 'Open' : 'HalfOpen';
}

/** Why a scope is in its state, from the cause and window the filter reported. */
export function breakerReason(entry: Pick<NodeBreaker, 'state' | 'openCause' | 'tripRequests' | 'tripFailures' | 'tripSlowCalls'>): string {
  if (entry.state === 'Closed') return '';
  const prefix = entry.state === 'HalfOpen' ? 'probing after: ' : '';
  const ratio = (n: number) => (entry.tripRequests > 0 ? n / entry.tripRequests : 0).toFixed(2);
  switch (entry.openCause) {
    case 'error-rate':
      return `${prefix}error ratio ${ratio(entry.tripFailures)} (${entry.tripFailures} of ${entry.tripRequests} requests in the breaker window)`;
    case 'slow-call-rate':
      return `${prefix}slow-call ratio ${ratio(entry.tripSlowCalls)} (${entry.tripSlowCalls} of ${entry.tripRequests} requests in the breaker window)`;
    case 'probe-failed':
      return `${prefix}a HalfOpen probe failed`;
    default:
      return '';
  }
}

const entryKey = (node: string, cluster: string, tenant: string, policyId: string, pathTemplate: string) =>
  `${node}\u0000${cluster}\u0000${tenant}\u0000${policyId}\u0000${pathTemplate}`;

export class BreakerStates {
  readonly #entries = new Map<string, NodeBreaker>();
  readonly #byNode = new Map<string, Set<string>>();
  readonly #maxEntries: number;
  readonly #ring: number;
  readonly #listed: number;
  readonly #staleAfterMs: number;
  /** Entries refused because maxEntries was reached. */
  refused = 0;

  constructor(options: BreakerStatesOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 20_000;
    this.#ring = options.transitionsPerEntry ?? 16;
    this.#listed = options.maxTransitionsListed ?? 500;
    this.#staleAfterMs = options.staleAfterMs ?? 60_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The breaker entries of one validated report from `node`, received at `atUnixMs`. */
  record(node: string, atUnixMs: number, entries: readonly BreakerEntry__Output[]): void {
    for (const reported of entries) {
      const state = STATE_NAME[reported.state as unknown as string];
      if (!state) continue;
      const key = entryKey(node, reported.cluster, reported.tenant, reported.policyId, reported.pathTemplate);
      const since = Number(reported.sinceUnixMs);
      const cause = CAUSE_NAME[reported.openCause as unknown as string] ?? '';
      let kept = this.#entries.get(key);
      if (!kept) {
        if (this.#entries.size >= this.#maxEntries) {
          this.refused++;
          continue;
        }
        kept = {
          node, cluster: reported.cluster, tenant: reported.tenant, policyId: reported.policyId, pathTemplate: reported.pathTemplate,
          state, sinceUnixMs: since, openUntilUnixMs: 0, openCause: cause, tripRequests: 0, tripFailures: 0, tripSlowCalls: 0,
          reportedAtUnixMs: atUnixMs, transitions: [],
        };
        this.#entries.set(key, kept);
        let keys = this.#byNode.get(node);
        if (!keys) this.#byNode.set(node, (keys = new Set()));
        keys.add(key);
        if (reported.transitions > 0 && since > 0) this.#push(kept, predecessor(state, cause), state, since);
      } else {
        if (since < kept.sinceUnixMs) {
          kept.reportedAtUnixMs = atUnixMs;
          continue;
        }
        if (since > kept.sinceUnixMs) {
          this.#push(kept, state !== kept.state ? kept.state : predecessor(state, cause), state, since);
        }
      }
      kept.state = state;
      kept.sinceUnixMs = since;
      kept.openUntilUnixMs = Number(reported.openUntilUnixMs);
      kept.openCause = cause;
      kept.tripRequests = reported.tripRequests;
      kept.tripFailures = reported.tripFailures;
      kept.tripSlowCalls = reported.tripSlowCalls;
      kept.reportedAtUnixMs = atUnixMs;
    }
  }

  #push(entry: NodeBreaker, from: BreakerStateName, to: BreakerStateName, atUnixMs: number): void {
    entry.transitions.push({ atUnixMs, node: entry.node, cluster: entry.cluster, tenant: entry.tenant, from, to });
    if (entry.transitions.length > this.#ring) entry.transitions.shift();
  }

  /** Every discovery stream of `node` ended: what it reported no longer describes a running proxy. */
  nodeGone(node: string): void {
    const keys = this.#byNode.get(node);
    if (!keys) return;
    for (const key of keys) this.#entries.delete(key);
    this.#byNode.delete(node);
  }

  /** Drops entries not reported for staleAfterMs. */
  prune(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (nowMs - entry.reportedAtUnixMs <= this.#staleAfterMs) continue;
      this.#entries.delete(key);
      const keys = this.#byNode.get(entry.node);
      keys?.delete(key);
      if (keys?.size === 0) this.#byNode.delete(entry.node);
    }
  }

  /** Per scope (cluster, tenant, policy), worst state first; transitions newest first. `clusters` filters. */
  view(clusters?: ReadonlySet<string>): BreakersView {
    const scopes = new Map<string, { aggregate: BreakerAggregate; worst: NodeBreaker }>();
    const transitions: BreakerTransition[] = [];
    for (const entry of this.#entries.values()) {
      if (clusters && !clusters.has(entry.cluster)) continue;
      transitions.push(...entry.transitions);
      const key = `${entry.cluster}\u0000${entry.tenant}\u0000${entry.policyId}`;
      let scope = scopes.get(key);
      if (!scope) {
        scope = {
          aggregate: { cluster: entry.cluster, tenant: entry.tenant, state: entry.state, policyId: entry.policyId,
            nodes: { Closed: 0, Open: 0, HalfOpen: 0 }, since: entry.sinceUnixMs, reason: '' },
          worst: entry,
        };
        scopes.set(key, scope);
      }
      const aggregate = scope.aggregate;
      aggregate.nodes[entry.state]++;
      aggregate.since = Math.max(aggregate.since, entry.sinceUnixMs);
      const worst = scope.worst;
      if (SEVERITY[entry.state] > SEVERITY[worst.state] ||
        (entry.state === worst.state && entry.sinceUnixMs > worst.sinceUnixMs)) scope.worst = entry;
    }
    const breakers = [...scopes.values()].map(({ aggregate, worst }) => ({ ...aggregate, state: worst.state, reason: breakerReason(worst) }));
    breakers.sort((a, b) => SEVERITY[b.state] - SEVERITY[a.state] || compare(a.cluster, b.cluster) || compare(a.tenant, b.tenant) ||
      compare(a.policyId, b.policyId));
    transitions.sort((a, b) => b.atUnixMs - a.atUnixMs || compare(a.node, b.node));
    return { breakers, transitions: transitions.slice(0, this.#listed) };
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
