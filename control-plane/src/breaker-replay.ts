// Dry run: what a proposed breaker would have done over recorded telemetry. The filter's breaker (AssemblyScript,
// filter/assembly/policy/circuit-breaker.ts) runs per request inside a VM and cannot be driven from TS, so the state
// machine is evaluated here once, over 1-second outcome slots, with the same rules (ARCHITECTURE.md "Breaker
// vocabulary"): Closed trips when, over the sliding windowMs with ≥ minRequests, error rate ≥ errorRateThreshold or
// slow-call rate ≥ slowCallRateThreshold; Open rejects everything for openMs (doubling on each reopen, capped at
// maxOpenMs); HalfOpen admits halfOpenProbes requests and closes once halfOpenSuccesses succeed, reopening on a
// failure. Within a slot, probe outcomes are drawn in the slot's failure proportion (an approximation: slots hold
// counts, not request order).
import type { PolicyJson } from './policy-types.ts';
import { slowCallsFromBuckets, type OutcomeSlot } from './telemetry-store.ts';

export type BreakerStateName = 'Closed' | 'Open' | 'HalfOpen';

export interface ReplayResult {
  cluster: string;
  tenant: string;
  requests: number;
  errors: number;
  slowCalls: number;
  transitions: number;
  firstTripUnixMs: number;
  wouldReject: number;
  finalState: BreakerStateName;
}

export interface ReplayInput {
  cluster: string;
  tenant: string;
  slots: OutcomeSlot[];            // sorted by startMs, one per second at most
}

const SLOT_MS = 1000;

/** Which route series a policy's target covers, and the breaker scope (cluster, tenant) each belongs to. */
export function targetMatches(target: PolicyJson['target'], cluster: string, pathTemplate: string): boolean {
  if (target.cluster !== '*' && target.cluster !== cluster) return false;
  return !target.pathTemplate || target.pathTemplate === '*' || target.pathTemplate === pathTemplate;
}

export function replayBreaker(breaker: PolicyJson['breaker'], input: ReplayInput): ReplayResult {
  const result: ReplayResult = {
    cluster: input.cluster, tenant: input.tenant, requests: 0, errors: 0, slowCalls: 0, transitions: 0,
    firstTripUnixMs: 0, wouldReject: 0, finalState: 'Closed',
  };
  let state = 'Closed' as BreakerStateName;
  let openUntil = 0;
  let openMs = breaker.openMs;
  let probesLeft = 0;
  let successesNeeded = 0;
  const window: { startMs: number; requests: number; failures: number; slow: number }[] = [];
  const transition = (to: BreakerStateName, at: number) => {
    state = to;
    result.transitions++;
    if (to === 'Open') {
      if (result.firstTripUnixMs === 0) result.firstTripUnixMs = at;
      openUntil = at + openMs;
      window.length = 0;
    } else if (to === 'HalfOpen') {
      probesLeft = breaker.halfOpenProbes;
      successesNeeded = breaker.halfOpenSuccesses;
    } else {
      openMs = breaker.openMs;
      window.length = 0;
    }
  };

  for (const slot of input.slots) {
    const slow = slowCallsFromBuckets(slot.buckets, breaker.slowCallMs) ?? slot.slowCalls;
    result.requests += slot.requests;
    result.errors += slot.errors;
    result.slowCalls += slow;
    if (!breaker.enabled) continue;
    if (state === 'Open' && slot.startMs >= openUntil) transition('HalfOpen', openUntil);
    if (state === 'Open') {
      result.wouldReject += slot.requests;
      continue;
    }
    if (state === 'HalfOpen') {
      const failureShare = slot.requests === 0 ? 0 : Math.min(1, (slot.errors + slow) / slot.requests);
      const probes = Math.min(probesLeft, slot.requests);
      const failedProbes = Math.round(probes * failureShare);
      result.wouldReject += slot.requests - probes;
      probesLeft -= probes;
      if (failedProbes > 0) {
        openMs = Math.min(openMs * 2, breaker.maxOpenMs);
        transition('Open', slot.startMs);
        continue;
      }
      successesNeeded -= probes;
      if (successesNeeded <= 0) transition('Closed', slot.startMs + SLOT_MS);
      continue;
    }
    window.push({ startMs: slot.startMs, requests: slot.requests, failures: slot.errors, slow });
    while (window.length > 0 && window[0].startMs <= slot.startMs - breaker.windowMs) window.shift();
    let requests = 0, failures = 0, slowCalls = 0;
    for (const entry of window) { requests += entry.requests; failures += entry.failures; slowCalls += entry.slow; }
    if (requests >= breaker.minRequests && requests > 0 &&
        (failures / requests >= breaker.errorRateThreshold || slowCalls / requests >= breaker.slowCallRateThreshold)) {
      transition('Open', slot.startMs + SLOT_MS);
    }
  }
  result.finalState = state;
  result.slowCalls = Math.round(result.slowCalls);
  return result;
}

/**
 * The tenant a per-tenant breaker scope is keyed by, as the filter keys it (resilience.ts tenantLabelOf): requests
 * with no identified tenant and those beyond the tenant cap share the "~other" scope.
 */
export function breakerTenant(tenant: string): string {
  return tenant === 'unknown' ? '~other' : tenant;
}

/** Replays every breaker scope the policy targets; route series are merged per scope first. */
export function dryRun(policy: PolicyJson, series: { cluster: string; tenant: string; pathTemplate: string; slots: OutcomeSlot[] }[]): ReplayResult[] {
  const scopes = new Map<string, ReplayInput>();
  for (const route of series) {
    if (!targetMatches(policy.target, route.cluster, route.pathTemplate)) continue;
    const tenant = policy.target.perTenant ? breakerTenant(route.tenant) : '';
    const key = `${route.cluster}\u0000${tenant}`;
    let scope = scopes.get(key);
    if (!scope) scopes.set(key, (scope = { cluster: route.cluster, tenant, slots: [] }));
    scope.slots.push(...route.slots);
  }
  const results: ReplayResult[] = [];
  for (const scope of scopes.values()) results.push(replayBreaker(policy.breaker, { ...scope, slots: mergeSlots(scope.slots) }));
  return results.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
}

function mergeSlots(slots: OutcomeSlot[]): OutcomeSlot[] {
  const merged = new Map<number, OutcomeSlot>();
  for (const slot of slots) {
    const existing = merged.get(slot.startMs);
    if (!existing) { merged.set(slot.startMs, { ...slot, buckets: [...slot.buckets] }); continue; }
    existing.requests += slot.requests;
    existing.errors += slot.errors;
    existing.slowCalls += slot.slowCalls;
    for (let i = 0; i < slot.buckets.length; i++) existing.buckets[i] += slot.buckets[i];
  }
  return [...merged.values()].sort((a, b) => a.startMs - b.startMs);
}
