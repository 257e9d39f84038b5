// Commit-confirmed policy changes (network operating systems' "commit confirmed", here with the verdict automatic):
// a change applied with a confirm window is recorded as pending, in the same transaction as the change. evaluate()
// compares every affected scope's error ratio and p99 latency in the window after the change with the baseline
// before it (taken from the ingested telemetry, telemetry-store.ts, when the change was applied, and stored with
// it, so a restart inside the window still judges against it). A scope worse than the bounds rolls the change back
// at once: a new version equal to the one before (or a delete, if the change created the policy), so every filter
// gets it pushed, audited with actor "commit-confirmed" and the reason. At the deadline an unharmed change is
// confirmed. Any other write to the policy meanwhile supersedes the pending confirmation (an operator took over);
// a new commit-confirmed change on top of a pending one inherits its baseline and the version to restore.
// Confirmations are kept by a ConfirmationStore (confirmation-store.ts: SQLite, or etcd shared by replicas); with
// etcd every replica judges, and a resolution commits only while the confirmation is still pending, so a change is
// rolled back (or confirmed) once whichever replicas judge it and whichever replica applied it.
//
// Scopes: route series whose cluster and path template the policy's target (before or after the change) matches,
// grouped per (cluster, tenant) when the policy is per tenant, per cluster otherwise, as the filter's breakers are.
// Error ratio = failed / requests as the filter classifies them; p99 from the reported duration histograms.
import type { AdminOperations } from './admin-operations.ts';
import { SqliteConfirmations, type ConfirmationState, type ConfirmationStore, type Row } from './confirmation-store.ts';
import { invalidArgument } from './errors.ts';
import type { Logger } from './logging.ts';
import type { PolicyRecord, PolicyStore } from './policy-store.ts';
import { DURATION_BUCKET_BOUNDS_MS, DURATION_BUCKET_COUNT, type TelemetryStore } from './telemetry-store.ts';

export interface ConfirmBounds {
  withinMs: number;
  baselineMs: number;
  /** Largest tolerated rise of a scope's error ratio, in absolute terms (0.05 = five percentage points). */
  maxErrorRatioIncrease: number;
  /** Largest tolerated relative rise of a scope's p99 latency (0.5 = +50 %)... */
  maxP99IncreaseRatio: number;
  /** ...counted only when the p99 also rose by more than this many milliseconds (bucket resolution, scheduling noise). */
  minP99IncreaseMs: number;
  /** A scope is judged once it has this many requests after the change (and its p99 only with as many before). */
  minRequests: number;
}

export const DEFAULT_CONFIRM_BOUNDS: Omit<ConfirmBounds, 'withinMs'> = {
  baselineMs: 5 * 60_000, maxErrorRatioIncrease: 0.05, maxP99IncreaseRatio: 0.5, minP99IncreaseMs: 100, minRequests: 20,
};
const MAX_WINDOW_MS = 24 * 3_600_000;
/** Scopes kept per confirmation (busiest first): a policy for "*" on a mesh of many tenants must not grow a row without bound. */
const MAX_SCOPES = 200;
export const COMMIT_CONFIRMED_ACTOR = 'commit-confirmed';

export type { ConfirmationState } from './confirmation-store.ts';

export interface ScopeStats { requests: number; errors: number; errorRatio: number; p99Ms: number | null }
export interface ScopeComparison { cluster: string; tenant: string; before: ScopeStats; after: ScopeStats; worse: boolean; why: string }

export interface Confirmation {
  id: number;
  policyId: string;
  toVersion: number;
  /** Version restored on rollback; 0 when the change created the policy (rollback deletes it). */
  restoreVersion: number;
  actor: string;
  appliedAtUnixMs: number;
  deadlineUnixMs: number;
  baselineFromUnixMs: number;
  bounds: ConfirmBounds;
  state: ConfirmationState;
  resolvedAtUnixMs: number;
  reason: string;
  scopes: ScopeComparison[];
}

interface Target { cluster: string; pathTemplate: string; perTenant: boolean }
interface Aggregate { cluster: string; tenant: string; requests: number; errors: number; buckets: number[] }

function number(value: unknown, field: string, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw invalidArgument(`invalid confirmation: ${field} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  }
  return value;
}

/** The confirm part of a write request; absent bounds take DEFAULT_CONFIRM_BOUNDS. */
export function validateConfirm(value: unknown): ConfirmBounds {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument('invalid confirmation: confirm must be an object');
  const input = value as Record<string, unknown>;
  const allowed = ['withinMs', ...Object.keys(DEFAULT_CONFIRM_BOUNDS)];
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) throw invalidArgument(`invalid confirmation: ${key} must not be present (allowed: ${allowed.join(', ')})`);
  }
  const pick = (key: keyof typeof DEFAULT_CONFIRM_BOUNDS) => input[key] ?? DEFAULT_CONFIRM_BOUNDS[key];
  return {
    withinMs: number(input.withinMs, 'withinMs', 1000, MAX_WINDOW_MS, true),
    baselineMs: number(pick('baselineMs'), 'baselineMs', 1000, MAX_WINDOW_MS, true),
    maxErrorRatioIncrease: number(pick('maxErrorRatioIncrease'), 'maxErrorRatioIncrease', 0, 1, false),
    maxP99IncreaseRatio: number(pick('maxP99IncreaseRatio'), 'maxP99IncreaseRatio', 0, 1000, false),
    minP99IncreaseMs: number(pick('minP99IncreaseMs'), 'minP99IncreaseMs', 0, 3_600_000, false),
    minRequests: number(pick('minRequests'), 'minRequests', 1, 1_000_000_000, true),
  };
}

/**
 * The q-quantile of a duration histogram (DURATION_BUCKET_BOUNDS_MS), interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; the +Inf bucket answers with the last finite bound. null without samples.
 */
export function quantileFromBuckets(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i]!;
    if (count > 0 && seen + count >= rank) {
      if (i >= DURATION_BUCKET_BOUNDS_MS.length) return DURATION_BUCKET_BOUNDS_MS[DURATION_BUCKET_BOUNDS_MS.length - 1]!;
      const lower = i === 0 ? 0 : DURATION_BUCKET_BOUNDS_MS[i - 1]!;
      const upper = DURATION_BUCKET_BOUNDS_MS[i]!;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return DURATION_BUCKET_BOUNDS_MS[DURATION_BUCKET_BOUNDS_MS.length - 1]!;
}

function targetOf(record: { policy: unknown } | undefined): Target | undefined {
  const target = (record?.policy as { target?: Target } | undefined)?.target;
  return target ? { cluster: target.cluster, pathTemplate: target.pathTemplate, perTenant: target.perTenant } : undefined;
}

const matches = (target: Target, cluster: string, pathTemplate: string) =>
  (target.cluster === '*' || target.cluster === cluster) && (target.pathTemplate === '*' || target.pathTemplate === pathTemplate);

function aggregate(telemetry: TelemetryStore, targets: Target[], fromMs: number, toMs: number): Aggregate[] {
  const perTenant = targets.some((t) => t.perTenant);
  const scopes = new Map<string, Aggregate>();
  for (const series of telemetry.routes(fromMs, toMs)) {
    if (!targets.some((t) => matches(t, series.cluster, series.pathTemplate))) continue;
    const tenant = perTenant ? series.tenant : '';
    const key = `${series.cluster}\u0000${tenant}`;
    let scope = scopes.get(key);
    if (!scope) scopes.set(key, scope = { cluster: series.cluster, tenant, requests: 0, errors: 0, buckets: new Array(DURATION_BUCKET_COUNT).fill(0) });
    for (const slot of series.slots) {
      scope.requests += slot.requests;
      scope.errors += slot.errors;
      for (let i = 0; i < DURATION_BUCKET_COUNT; i++) scope.buckets[i] += slot.buckets[i] ?? 0;
    }
  }
  return [...scopes.values()].sort((a, b) => b.requests - a.requests).slice(0, MAX_SCOPES);
}

function stats(scope: Aggregate | undefined): ScopeStats {
  if (!scope || scope.requests === 0) return { requests: 0, errors: 0, errorRatio: 0, p99Ms: null };
  return { requests: scope.requests, errors: scope.errors, errorRatio: scope.errors / scope.requests, p99Ms: quantileFromBuckets(scope.buckets, 0.99) };
}

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const scopeName = (s: { cluster: string; tenant: string }) => (s.tenant ? `tenant ${s.tenant} on ${s.cluster}` : s.cluster);

/** Judges one scope; `worse` only with enough requests after the change to tell. */
export function compareScope(before: Aggregate | undefined, after: Aggregate, bounds: ConfirmBounds): ScopeComparison {
  const b = stats(before);
  const a = stats(after);
  const base = { cluster: after.cluster, tenant: after.tenant, before: b, after: a };
  if (a.requests < bounds.minRequests) {
    return { ...base, worse: false, why: `not judged: ${a.requests} requests after the change, fewer than minRequests ${bounds.minRequests}` };
  }
  const errorRise = a.errorRatio - b.errorRatio;
  if (errorRise > bounds.maxErrorRatioIncrease) {
    return { ...base, worse: true, why: `error ratio ${pct(b.errorRatio)} → ${pct(a.errorRatio)} (${b.requests} → ${a.requests} requests), more than the bound of +${pct(bounds.maxErrorRatioIncrease)}` };
  }
  if (b.requests >= bounds.minRequests && b.p99Ms !== null && a.p99Ms !== null) {
    const rise = a.p99Ms - b.p99Ms;
    if (a.p99Ms > b.p99Ms * (1 + bounds.maxP99IncreaseRatio) && rise > bounds.minP99IncreaseMs) {
      return { ...base, worse: true, why: `p99 latency ${b.p99Ms.toFixed(1)} ms → ${a.p99Ms.toFixed(1)} ms, more than the bound of +${pct(bounds.maxP99IncreaseRatio)} and +${bounds.minP99IncreaseMs} ms` };
    }
  }
  return { ...base, worse: false, why: `within bounds: error ratio ${pct(b.errorRatio)} → ${pct(a.errorRatio)}` + (a.p99Ms === null || b.p99Ms === null ? '' : `, p99 ${b.p99Ms.toFixed(1)} → ${a.p99Ms.toFixed(1)} ms`) };
}

export interface CommitConfirmedOptions<S extends ConfirmationStore> {
  store: PolicyStore;
  /** Where confirmations are kept: in the same transaction as the policy writes of `store` (confirmation-store.ts). */
  records: S;
  operations: AdminOperations;
  telemetry: TelemetryStore;
  logger: Logger;
  now?: () => number;
}

/** list()'s answer: synchronous when the store answers synchronously (SQLite), a promise otherwise (etcd). */
type Listed<R> = R extends Promise<unknown> ? Promise<Confirmation[]> : Confirmation[];

export class CommitConfirmed<S extends ConfirmationStore = ConfirmationStore> {
  readonly #records: S;
  readonly #options: CommitConfirmedOptions<S>;
  readonly #now: () => number;

  constructor(options: CommitConfirmedOptions<S>) {
    this.#options = options;
    this.#records = options.records;
    this.#now = options.now ?? Date.now;
  }

  /** This instance when its confirmations are on SQLite (whose list() answers synchronously). */
  sqlite(): CommitConfirmed<SqliteConfirmations> | undefined {
    return this.#records instanceof SqliteConfirmations ? this as unknown as CommitConfirmed<SqliteConfirmations> : undefined;
  }

  /** Writes the policy (as AdminOperations.set) and records its pending confirmation in the same transaction. */
  async apply(actor: string, id: string, expectedVersion: unknown, policy: unknown, confirm: unknown): Promise<PolicyRecord & { confirmation: Confirmation }> {
    const bounds = validateConfirm(confirm);
    const { store, operations, telemetry } = this.#options;
    const now = this.#now();
    // Read before the write: a version's content never changes, and the etcd store reads asynchronously.
    const before = Number(expectedVersion) > 0 ? await safeContent(store, id, Number(expectedVersion)) : undefined;
    let stored: Row | undefined;
    const record = await operations.set(actor, id, expectedVersion, policy, {
      alongside: this.#records.recording(id, (previous, result) => {
        const written = result.record!;
        const targets = [targetOf(written)!, ...(before ? [targetOf({ policy: before })!] : [])];
        // Built on a change still under confirmation: that change was never confirmed, so a rollback goes back to
        // what it replaced, judged against the baseline from before it.
        const inherits = previous !== undefined && previous.to_version === Number(expectedVersion);
        const restoreVersion = inherits ? previous.restore_version : Number(expectedVersion);
        const baselineFrom = inherits ? previous.baseline_from_ms : now - bounds.baselineMs;
        if (inherits) targets.push(...(JSON.parse(previous.targets_json) as Target[]));
        // Stored with the confirmation: telemetry lives in memory only, and a restart inside the window must still judge.
        const baseline = inherits ? previous.baseline_json : JSON.stringify(aggregate(telemetry, targets, baselineFrom, now));
        return {
          row: {
            policy_id: id, to_version: written.version, restore_version: restoreVersion, actor, applied_at_ms: now,
            deadline_ms: now + bounds.withinMs, baseline_from_ms: baselineFrom, bounds_json: JSON.stringify(bounds),
            targets_json: JSON.stringify(dedupe(targets)), baseline_json: baseline,
          },
          previous: { state: 'SUPERSEDED', atMs: now, reason: `superseded by version ${written.version} (commit-confirmed, by ${actor})`, scopesJson: '[]' },
        };
      }, (row) => { stored = row; }),
    });
    this.#options.logger.info('commit-confirmed change pending', { id, version: record.version, actor, withinMs: bounds.withinMs });
    return { ...record, confirmation: this.#view(stored!) };
  }

  /** Pending confirmations (oldest first), or with `all` every kept one, newest first. */
  list(all = false): Listed<ReturnType<S['all']>> {
    const rows = all ? this.#records.all() : this.#records.pending();
    const view = (found: Row[]) => found.map((row) => this.#view(row));
    return (rows instanceof Promise ? rows.then(view) : view(rows)) as Listed<ReturnType<S['all']>>;
  }

  /**
   * Judges every pending confirmation at `now`: rolls back, confirms, or leaves it pending. Called every second, on
   * every replica with the etcd store: a replica that loses the race to resolve one leaves it to the winner.
   */
  async evaluate(now = this.#now()): Promise<void> {
    for (const row of await this.#records.pending()) {
      try {
        if (!await this.#evaluateOne(row, now)) this.#resolvedElsewhere(row);
      } catch (error) {
        if (!(await this.#stillPending(row))) { this.#resolvedElsewhere(row); continue; }
        this.#options.logger.error('commit-confirmed evaluation failed', { id: row.id, policy: row.policy_id, error: String(error) });
      }
    }
  }

  /** False when the row was resolved by someone else (another replica) before this evaluation could resolve it. */
  async #evaluateOne(row: Row, now: number): Promise<boolean> {
    const { operations, logger } = this.#options;
    const current = await this.#records.current(row);
    if (current?.version !== row.to_version) {
      const what = current ? `changed to version ${current.version} by ${current.updatedBy}` : 'deleted';
      return this.#records.resolve(row, { state: 'SUPERSEDED', atMs: now, reason: `policy ${what} before the window ended; not judged`, scopesJson: '[]' });
    }
    const bounds = JSON.parse(row.bounds_json) as ConfirmBounds;
    const scopes = this.#compare(row, now);
    const worse = scopes.filter((s) => s.worse);
    if (worse.length > 0) {
      const reason = `automatic rollback of version ${row.to_version} (applied by ${row.actor}, confirm within ${row.deadline_ms - row.applied_at_ms} ms): ` +
        `${scopeName(worse[0]!)}: ${worse[0]!.why}` + (worse.length > 1 ? ` (and ${worse.length - 1} more scope(s))` : '') +
        (row.restore_version === 0 ? '; the policy it created is deleted' : `; version ${row.restore_version} restored`);
      // The rollback and the confirmation's new state commit together, and only while the confirmation is pending.
      const extras = { reason, alongside: this.#records.resolving(row, { state: 'ROLLED_BACK', atMs: now, reason, scopesJson: JSON.stringify(scopes) }) };
      if (row.restore_version === 0) await operations.delete(COMMIT_CONFIRMED_ACTOR, row.policy_id, row.to_version, extras);
      else await operations.rollback(COMMIT_CONFIRMED_ACTOR, row.policy_id, row.restore_version, row.to_version, extras);
      logger.info('commit-confirmed change rolled back', { id: row.policy_id, version: row.to_version, reason });
      return true;
    }
    if (now < row.deadline_ms) return true;
    const judged = scopes.filter((s) => s.after.requests >= bounds.minRequests).length;
    const reason = judged > 0
      ? `no affected scope got worse (${judged} scope(s) judged)`
      : `confirmed without a verdict: no affected scope reached minRequests ${bounds.minRequests} after the change`;
    if (!await this.#records.resolve(row, { state: 'CONFIRMED', atMs: now, reason, scopesJson: JSON.stringify(scopes) })) return false;
    logger.info('commit-confirmed change confirmed', { id: row.policy_id, version: row.to_version, reason });
    return true;
  }

  async #stillPending(row: Row): Promise<boolean> {
    try {
      return (await this.#records.pending()).some((r) => r.id === row.id);
    } catch {
      return true;   // the store does not answer: the failure is worth reporting as it is
    }
  }

  #resolvedElsewhere(row: Row): void {
    this.#options.logger.info('commit-confirmed change resolved by another replica', { id: row.id, policy: row.policy_id, version: row.to_version });
  }

  /** Every affected scope's window so far against its stored baseline. */
  #compare(row: Row, now: number): ScopeComparison[] {
    const bounds = JSON.parse(row.bounds_json) as ConfirmBounds;
    const baseline = new Map((JSON.parse(row.baseline_json) as Aggregate[]).map((s) => [`${s.cluster}\u0000${s.tenant}`, s]));
    const after = aggregate(this.#options.telemetry, JSON.parse(row.targets_json) as Target[], row.applied_at_ms, Math.min(now, row.deadline_ms) + 1);
    return after.map((scope) => compareScope(baseline.get(`${scope.cluster}\u0000${scope.tenant}`), scope, bounds));
  }

  #view(row: Row): Confirmation {
    return {
      id: row.id, policyId: row.policy_id, toVersion: row.to_version, restoreVersion: row.restore_version, actor: row.actor,
      appliedAtUnixMs: row.applied_at_ms, deadlineUnixMs: row.deadline_ms, baselineFromUnixMs: row.baseline_from_ms,
      bounds: JSON.parse(row.bounds_json), state: row.state, resolvedAtUnixMs: row.resolved_at_ms ?? 0, reason: row.reason ?? '',
      // A pending one shows how its window looks so far; a resolved one how it looked when it was resolved.
      scopes: row.state === 'PENDING' ? this.#compare(row, this.#now()) : row.scopes_json ? JSON.parse(row.scopes_json) : [],
    };
  }
}

async function safeContent(store: PolicyStore, id: string, version: number): Promise<unknown> {
  try { return await store.contentAt(id, version); } catch { return undefined; }
}

function dedupe(targets: Target[]): Target[] {
  return [...new Map(targets.map((t) => [JSON.stringify(t), t])).values()];
}
