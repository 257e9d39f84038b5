// The admin operations, once, independent of transport: the gRPC Admin service, the HTTP JSON API and the CLI all
// call these. Writes validate first (policy-model.ts), commit to the store, and only then publish a new snapshot.
import { dryRun, type ReplayResult } from './breaker-replay.ts';
import { invalidArgument } from './errors.ts';
import type { Logger } from './logging.ts';
import type { PolicyJson } from './policy-types.ts';
import type { HistoryEntry, PolicyRecord, PolicyStore } from './policy-store.ts';
import type { RolloutSummary, RolloutTracker } from './rollout.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import type { TelemetryStore } from './telemetry-store.ts';
import type { NetworkSuspects } from './network-suspects.ts';
import type { CorrelationView, Correlator, EndpointStatus, RouteView } from './correlator.ts';
import { BreakerStates, type BreakerAggregate, type BreakersView } from './breaker-states.ts';

export type PolicyValidator = (value: unknown) => PolicyJson;

export interface AdminOperationsOptions {
  store: PolicyStore;
  cache: SnapshotCache;
  rollout: RolloutTracker;
  telemetry: TelemetryStore;
  correlator: Correlator;
  breakers?: BreakerStates;
  suspects?: NetworkSuspects;
  validate: PolicyValidator;
  logger: Logger;
  now?: () => number;
}

export interface DryRunResult {
  scopes: ReplayResult[];
  fromUnixMs: number;
  toUnixMs: number;
  policy: PolicyJson;
}

const MAX_DRY_RUN_MINUTES = 24 * 60;

export class AdminOperations {
  readonly #options: AdminOperationsOptions;
  readonly #now: () => number;

  constructor(options: AdminOperationsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get(id: string): PolicyRecord {
    return this.#options.store.get(id);
  }

  list(): { policies: PolicyRecord[]; snapshotVersion: number } {
    return { policies: this.#options.store.list(), snapshotVersion: this.#options.cache.current().version };
  }

  set(actor: string, id: string, expectedVersion: unknown, policy: unknown): PolicyRecord {
    const validated = this.#options.validate(policy);
    const result = this.#options.store.set(id, requireVersion(expectedVersion, 'expectedVersion'), validated, actor);
    this.#publish('policy set', { id, version: result.record!.version, actor });
    return result.record!;
  }

  delete(actor: string, id: string, expectedVersion: unknown): { snapshotVersion: number } {
    const result = this.#options.store.delete(id, requireVersion(expectedVersion, 'expectedVersion'), actor);
    this.#publish('policy deleted', { id, actor });
    return { snapshotVersion: result.snapshotVersion };
  }

  history(id: string): HistoryEntry[] {
    return this.#options.store.history(id);
  }

  rollback(actor: string, id: string, toVersion: unknown, expectedVersion: unknown): PolicyRecord {
    const target = requireVersion(toVersion, 'toVersion');
    if (target === 0) throw invalidArgument('invalid request: toVersion must be >= 1');
    // Re-validated: the stored content was valid under the model of its day, which may have tightened since.
    const content = this.#options.validate(this.#options.store.contentAt(id, target));
    const result = this.#options.store.rollback(id, target, requireVersion(expectedVersion, 'expectedVersion'), content, actor);
    this.#publish('policy rolled back', { id, toVersion: target, version: result.record!.version, actor });
    return result.record!;
  }

  dryRun(policy: unknown, windowMinutes: unknown): DryRunResult {
    const validated = this.#options.validate(policy);
    const minutes = windowMinutes === undefined || windowMinutes === null || windowMinutes === 0 ? 5 : windowMinutes;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_DRY_RUN_MINUTES) {
      throw invalidArgument(`invalid dry run: windowMinutes must be an integer in [1, ${MAX_DRY_RUN_MINUTES}]`);
    }
    const toUnixMs = this.#now();
    const fromUnixMs = toUnixMs - minutes * 60_000;
    const series = this.#options.telemetry.routes(fromUnixMs, toUnixMs + 1000);
    return { scopes: dryRun(validated, series), fromUnixMs, toUnixMs, policy: validated };
  }

  rolloutStatus(): RolloutSummary {
    const status = this.#options.rollout.status(this.#options.cache.current().versionInfo);
    return { ...status, suspectsVersion: this.#options.suspects?.current().version ?? '' };
  }

  /** Joined flows of the kept windows, newest window first. */
  correlations(): CorrelationView[] {
    return this.#options.correlator.correlations();
  }

  /** Joined flows and their attribution to routes and tenants, from one consistent join of the kept windows. */
  correlationReport(): { correlations: CorrelationView[]; routes: RouteView[]; breakers: BreakerAggregate[] } {
    const joins = this.#options.correlator.joins();
    const correlations = this.#options.correlator.correlations(joins);
    const routes = this.#options.correlator.routes(joins);
    const clusters = [...correlations.map((c) => c.cluster), ...routes.map((r) => r.cluster)].filter((c) => c);
    return { correlations, routes, breakers: this.#notClosed(clusters) };
  }

  endpoints(): { endpoints: EndpointStatus[]; breakers: BreakerAggregate[] } {
    const endpoints = this.#options.correlator.endpoints();
    return { endpoints, breakers: this.#notClosed(endpoints.map((e) => e.cluster)) };
  }

  /** Breaker states per scope, aggregated over the nodes that report them, and their recent transitions. */
  breakers(): BreakersView {
    return (this.#options.breakers ?? new BreakerStates()).view();
  }

  /** The Open (or HalfOpen) breakers of `clusters`, for the correlation and endpoint views. */
  #notClosed(clusters: Iterable<string>): BreakerAggregate[] {
    const breakers = this.#options.breakers;
    if (!breakers) return [];
    return breakers.view(new Set(clusters)).breakers.filter((b) => b.state !== 'Closed');
  }

  #publish(msg: string, fields: Record<string, unknown>): void {
    const snapshot = this.#options.store.snapshot();
    this.#options.cache.set(snapshot);
    this.#options.logger.info(msg, { ...fields, snapshotVersion: snapshot.version });
  }
}

/** Versions arrive as numbers (JSON) or decimal strings (gRPC uint64 with longs: String). */
function requireVersion(value: unknown, field: string): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw invalidArgument(`invalid request: ${field} must be a non-negative integer`);
  }
  return number;
}
