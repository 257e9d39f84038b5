// The admin operations, once, independent of transport: the gRPC Admin service, the HTTP JSON API and the CLI all
// call these. Writes validate first (policy-model.ts), commit to the store, and only then publish a new snapshot.
import { dryRun, type ReplayResult } from './breaker-replay.ts';
import { invalidArgument } from './errors.ts';
import { checkPolicyLimits, checkSnapshotLimits, LIMITS, pageOf } from './limits.ts';
import { validatePolicy } from './policy-model.ts';
import type { Logger } from './logging.ts';
import type { PolicyJson } from './policy-types.ts';
import type { Alongside, HistoryEntry, PolicyRecord, PolicyStore, WriteResult } from './policy-store.ts';
import type { RolloutSummary, RolloutTracker } from './rollout.ts';
import type { ReplicaSummary } from './etcd-policy-store.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import type { PolicyEntry } from './snapshot.ts';
import type { TelemetryStore } from './telemetry-store.ts';
import type { NetworkSuspects } from './network-suspects.ts';
import type { CorrelationView, Correlator, EndpointStatus, RouteView } from './correlator.ts';
import { BreakerStates, type BreakerAggregate, type BreakersView } from './breaker-states.ts';

export type PolicyValidator = (value: unknown) => PolicyJson;

/** The default validator: the policy model (the filter parser's twin), then the control plane's admission limits. */
export const validateAndLimit: PolicyValidator = (value) => {
  const policy = validatePolicy(value);
  checkPolicyLimits(policy);
  return policy as unknown as PolicyJson;
};
/** Optional parts of a write: why (kept in the audit trail), and rows of another module committed in the same transaction. */
export interface WriteExtras {
  reason?: string;
  alongside?: Alongside;
}

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
  /** Every replica's rollout summary (the etcd store); without it, this control plane's own. */
  replicas?: () => Promise<ReplicaSummary[]>;
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

  async get(id: string): Promise<PolicyRecord> {
    return this.#options.store.get(id);
  }

  async list(): Promise<{ policies: PolicyRecord[]; snapshotVersion: number }> {
    return { policies: await this.#options.store.list(), snapshotVersion: this.#options.cache.current().version };
  }

  async set(actor: string, id: string, expectedVersion: unknown, policy: unknown, extras: WriteExtras = {}): Promise<PolicyRecord> {
    const validated = this.#options.validate(policy);
    const expected = requireVersion(expectedVersion, 'expectedVersion');
    this.#checkSnapshotAfter(id, validated);
    const result = await this.#commit((alongside) => this.#options.store.set(id, expected, validated, actor, alongside), extras);
    await this.#publish('policy set', { id, version: result.record!.version, actor });
    return result.record!;
  }

  async delete(actor: string, id: string, expectedVersion: unknown, extras: WriteExtras = {}): Promise<{ snapshotVersion: number }> {
    const version = requireVersion(expectedVersion, 'expectedVersion');
    const result = await this.#commit((alongside) => this.#options.store.delete(id, version, actor, extras.reason, alongside), extras);
    await this.#publish('policy deleted', { id, actor });
    return { snapshotVersion: result.snapshotVersion };
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return this.#options.store.history(id);
  }

  async rollback(actor: string, id: string, toVersion: unknown, expectedVersion: unknown, extras: WriteExtras = {}): Promise<PolicyRecord> {
    const target = requireVersion(toVersion, 'toVersion');
    if (target === 0) throw invalidArgument('invalid request: toVersion must be >= 1');
    // Re-validated: the stored content was valid under the model of its day, which may have tightened since.
    const expected = requireVersion(expectedVersion, 'expectedVersion');
    const content = this.#options.validate(await this.#options.store.contentAt(id, target));
    this.#checkSnapshotAfter(id, content);
    const result = await this.#commit((alongside) => this.#options.store.rollback(id, target, expected, content, actor, extras.reason, alongside), extras);
    await this.#publish('policy rolled back', { id, toVersion: target, version: result.record!.version, actor });
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

  /** One page of the rollout rows (sorted by node then worker) with the totals over all of them. */
  rolloutStatus(pageSize?: unknown, pageToken?: unknown): RolloutSummary {
    const page = pageOf(pageSize, pageToken);
    const status = this.#options.rollout.status(this.#options.cache.current().versionInfo, page.offset, page.size);
    return { ...status, suspectsVersion: this.#options.suspects?.current().version ?? '' };
  }

  /** This replica's rollout totals against its current snapshot. */
  replicaSummary(replica: string): ReplicaSummary {
    const { connected, converged, total, snapshotVersion } = this.#options.rollout.status(this.#options.cache.current().versionInfo, 0, 0);
    return { replica, snapshotVersion, connected, converged, total, updatedAtUnixMs: this.#now() };
  }

  /** Rollout totals of every live replica, so one call shows the whole mesh whichever replica holds which stream. */
  async replicas(): Promise<{ replicas: ReplicaSummary[] }> {
    const all = this.#options.replicas ? await this.#options.replicas() : [this.replicaSummary('local')];
    return { replicas: all.sort((a, b) => (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0)) };
  }

  /** This replica's correlation state, for a replica that joins (Correlator.exportState), within one gRPC answer. */
  correlatorState(): { stateJson: string } {
    return { stateJson: this.#options.correlator.exportState(LIMITS.maxSendMessageBytes - 1024) };
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

  /**
   * Refuses a write whose snapshot would be more than a filter can receive, before anything is stored. The policy's
   * version is taken at its widest encoding, so the real snapshot is never larger than the one measured here.
   */
  #checkSnapshotAfter(id: string, policy: PolicyJson): void {
    const entries: PolicyEntry[] = this.#options.cache.current().entries.filter((entry) => entry.id !== id);
    entries.push({ id, version: Number.MAX_SAFE_INTEGER, policy });
    checkSnapshotLimits(entries.length, this.#options.cache.encodedLength(String(Number.MAX_SAFE_INTEGER), entries));
  }

  /** The write, and `alongside` in the same transaction when given; published only after both committed. */
  async #commit(write: (alongside?: Alongside) => WriteResult | Promise<WriteResult>, extras: WriteExtras): Promise<WriteResult> {
    const { alongside } = extras;
    if (!alongside) return write();
    const { store } = this.#options;
    // etcd: the alongside's keys go into the write's own Txn.
    if (!store.atomically) return write(alongside);
    return store.atomically(() => {
      const result = write();
      // A store with atomically() writes synchronously inside it (SQLite): a promise here would escape the transaction.
      if (result instanceof Promise) throw new Error('store wrote asynchronously inside atomically()');
      if (alongside(result) instanceof Promise) throw new Error('an alongside inside atomically() must not be asynchronous');
      return result;
    });
  }

  /**
   * Makes the store's snapshot current here. With several replicas the store's watch may have delivered this
   * change (or a later one) first: an older snapshot is then left alone.
   */
  async #publish(msg: string, fields: Record<string, unknown>): Promise<void> {
    const snapshot = await this.#options.store.snapshot();
    if (snapshot.version > this.#options.cache.current().version) this.#options.cache.set(snapshot);
    this.#options.logger.info(msg, { ...fields, snapshotVersion: snapshot.version });
  }
}

/**
 * Versions arrive as numbers (JSON) or canonical decimal strings (gRPC uint64 with longs: String, HTTP query):
 * "007" is refused rather than read as 7, so a typo cannot silently address another version.
 */
function requireVersion(value: unknown, field: string): number {
  const number = typeof value === 'string' && /^(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw invalidArgument(`invalid request: ${field} must be a non-negative integer`);
  }
  return number;
}
