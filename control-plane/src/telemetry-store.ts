// Recent filter telemetry kept in memory for dry runs and correlation: route outcomes aggregated per
// (cluster, tenant, path template) into 1-second slots for `retentionMs`, and the latest outcomes per upstream
// connection and per breaker scope. Pure data structure: no gRPC, time passed in.
import type { TelemetryReport__Output } from './generated/meshlens/v1/TelemetryReport.ts';
import type { OutcomeCounters__Output } from './generated/meshlens/v1/OutcomeCounters.ts';

/** Upper bounds (ms) of OutcomeCounters.duration_buckets, as documented in telemetry.proto; the last bucket is +Inf. */
export const DURATION_BUCKET_BOUNDS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
export const DURATION_BUCKET_COUNT = DURATION_BUCKET_BOUNDS_MS.length + 1;
const SLOT_MS = 1000;

export interface OutcomeSlot {
  startMs: number;
  requests: number;
  errors: number;
  slowCalls: number;            // as the filter counted them under its own slowCallMs
  networkSuspectFailures?: number; // failed or slow on a network-suspect endpoint, excused by a network-aware breaker
  buckets: number[];            // DURATION_BUCKET_COUNT entries
}

export interface RouteSeries {
  cluster: string;
  tenant: string;
  pathTemplate: string;
  slots: Map<number, OutcomeSlot>;
}

export interface ConnectionOutcome {
  localAddress: string;
  remoteAddress: string;
  cluster: string;
  requests: number;
  errors: number;
  atUnixMs: number;
}

export class TelemetryStore {
  readonly #routes = new Map<string, RouteSeries>();
  readonly #connections = new Map<string, ConnectionOutcome>();
  readonly #retentionMs: number;

  constructor(options: { retentionMs?: number } = {}) {
    this.#retentionMs = options.retentionMs ?? 30 * 60_000;
  }

  record(report: TelemetryReport__Output): void {
    const endMs = Number(report.windowEndUnixMs);
    const slotStart = Math.floor(endMs / SLOT_MS) * SLOT_MS;
    for (const route of report.routes) {
      const key = `${route.cluster}\u0000${route.tenant}\u0000${route.pathTemplate}`;
      let series = this.#routes.get(key);
      if (!series) {
        series = { cluster: route.cluster, tenant: route.tenant, pathTemplate: route.pathTemplate, slots: new Map() };
        this.#routes.set(key, series);
      }
      let slot = series.slots.get(slotStart);
      if (!slot) {
        slot = { startMs: slotStart, requests: 0, errors: 0, slowCalls: 0, networkSuspectFailures: 0, buckets: new Array(DURATION_BUCKET_COUNT).fill(0) };
        series.slots.set(slotStart, slot);
      }
      addCounters(slot, route.counters);
    }
    for (const connection of report.connections) {
      const key = `${connection.localAddress}|${connection.remoteAddress}`;
      const previous = this.#connections.get(key);
      const counters = connection.counters;
      // Several VMs share a connection only in tests; the same window from several VMs adds up.
      const sameWindow = previous?.atUnixMs === endMs;
      this.#connections.set(key, {
        localAddress: connection.localAddress, remoteAddress: connection.remoteAddress, cluster: connection.cluster,
        requests: (sameWindow ? previous!.requests : 0) + (counters?.requests ?? 0),
        errors: (sameWindow ? previous!.errors : 0) + (counters?.errors ?? 0),
        atUnixMs: endMs,
      });
    }
  }

  /** Route series with their slots in [fromMs, toMs), slots sorted by time. */
  routes(fromMs: number, toMs: number): { cluster: string; tenant: string; pathTemplate: string; slots: OutcomeSlot[] }[] {
    const out = [];
    for (const series of this.#routes.values()) {
      const slots = [...series.slots.values()].filter((slot) => slot.startMs >= fromMs && slot.startMs < toMs)
        .sort((a, b) => a.startMs - b.startMs);
      if (slots.length > 0) out.push({ cluster: series.cluster, tenant: series.tenant, pathTemplate: series.pathTemplate, slots });
    }
    return out;
  }

  connection(localAddress: string, remoteAddress: string): ConnectionOutcome | undefined {
    return this.#connections.get(`${localAddress}|${remoteAddress}`);
  }

  connections(): IterableIterator<ConnectionOutcome> {
    return this.#connections.values();
  }

  /** Drops slots and connections older than the retention; call periodically with the current time. */
  prune(nowMs: number): void {
    const oldest = nowMs - this.#retentionMs;
    for (const [key, series] of this.#routes) {
      for (const start of series.slots.keys()) if (start < oldest) series.slots.delete(start);
      if (series.slots.size === 0) this.#routes.delete(key);
    }
    for (const [key, connection] of this.#connections) if (connection.atUnixMs < oldest) this.#connections.delete(key);
  }
}

function addCounters(slot: OutcomeSlot, counters: OutcomeCounters__Output | null | undefined): void {
  if (!counters) return;
  slot.requests += counters.requests;
  slot.errors += counters.errors;
  slot.slowCalls += counters.slowCalls;
  slot.networkSuspectFailures = (slot.networkSuspectFailures ?? 0) + (counters.networkSuspectFailures ?? 0);
  const buckets = counters.durationBuckets;
  for (let i = 0; i < buckets.length && i < DURATION_BUCKET_COUNT; i++) slot.buckets[i] += buckets[i];
}

/**
 * Calls in `buckets` at least `slowCallMs` long: whole buckets above the threshold plus a linear share of the bucket
 * that straddles it. Returns undefined when the slot carries no histogram (the caller then uses the filter's count).
 */
export function slowCallsFromBuckets(buckets: readonly number[], slowCallMs: number): number | undefined {
  let total = 0;
  for (const count of buckets) total += count;
  if (total === 0) return undefined;
  let slow = 0;
  for (let i = 0; i < buckets.length; i++) {
    const lower = i === 0 ? 0 : DURATION_BUCKET_BOUNDS_MS[i - 1];
    const upper = i < DURATION_BUCKET_BOUNDS_MS.length ? DURATION_BUCKET_BOUNDS_MS[i] : Infinity;
    if (lower >= slowCallMs) slow += buckets[i];
    else if (upper > slowCallMs && upper !== Infinity) slow += buckets[i] * (upper - slowCallMs) / (upper - lower);
  }
  return slow;
}
