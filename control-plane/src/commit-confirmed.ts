// Commit-confirmed policy changes (network operating systems' "commit confirmed", here with the verdict automatic):
// a change applied with a confirm window is recorded as pending, in the same transaction as the change. evaluate()
// compares every affected scope's error ratio and p99 latency in the window after the change with the baseline
// before it (taken from the ingested telemetry, telemetry-store.ts, when the change was applied, and stored with
// it, so a restart inside the window still judges against it). A scope worse than the bounds rolls the change back
// at once: a new version equal to the one before (or a delete, if the change created the policy), so every filter
// gets it pushed, audited with actor "commit-confirmed" and the reason. At the deadline an unharmed change is
// confirmed. Any other write to the policy meanwhile supersedes the pending confirmation (an operator took over);
// a new commit-confirmed change on top of a pending one inherits its baseline and the version to restore.
//
// Scopes: route series whose cluster and path template the policy's target (before or after the change) matches,
// grouped per (cluster, tenant) when the policy is per tenant, per cluster otherwise, as the filter's breakers are.
// Error ratio = failed / requests as the filter classifies them; p99 from the reported duration histograms.
import type Database from 'better-sqlite3';
import type { AdminOperations } from './admin-operations.ts';
import { invalidArgument } from './errors.ts';
import type { Logger } from './logging.ts';
import type { PolicyRecord } from './policy-store.ts';
import type { SqlitePolicyStore } from './sqlite-policy-store.ts';
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
/** Resolved confirmations kept for `policy status --all`; older ones are deleted. */
const MAX_RESOLVED = 1000;
export const COMMIT_CONFIRMED_ACTOR = 'commit-confirmed';

export type ConfirmationState = 'PENDING' | 'CONFIRMED' | 'ROLLED_BACK' | 'SUPERSEDED';

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

interface Row {
  id: number; policy_id: string; to_version: number; restore_version: number; actor: string; applied_at_ms: number;
  deadline_ms: number; baseline_from_ms: number; bounds_json: string; targets_json: string; baseline_json: string;
  state: ConfirmationState; resolved_at_ms: number | null; reason: string | null; scopes_json: string | null;
}

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

export interface CommitConfirmedOptions {
  // SQLite only: a pending confirmation commits in the same transaction as its change (README: with the etcd
  // store, whose replicas each see only part of the telemetry, commit-confirmed changes are refused).
  store: SqlitePolicyStore;
  operations: AdminOperations;
  telemetry: TelemetryStore;
  logger: Logger;
  now?: () => number;
}

export class CommitConfirmed {
  readonly #db: Database.Database;
  readonly #options: CommitConfirmedOptions;
  readonly #now: () => number;

  constructor(options: CommitConfirmedOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    // On the policy store's connection: a pending confirmation commits in the same transaction as its change.
    this.#db = options.store.database;
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS confirmations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        policy_id TEXT NOT NULL,
        to_version INTEGER NOT NULL,
        restore_version INTEGER NOT NULL,
        actor TEXT NOT NULL,
        applied_at_ms INTEGER NOT NULL,
        deadline_ms INTEGER NOT NULL,
        baseline_from_ms INTEGER NOT NULL,
        bounds_json TEXT NOT NULL,
        targets_json TEXT NOT NULL,
        baseline_json TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('PENDING','CONFIRMED','ROLLED_BACK','SUPERSEDED')),
        resolved_at_ms INTEGER,
        reason TEXT,
        scopes_json TEXT
      );
      CREATE INDEX IF NOT EXISTS confirmations_pending ON confirmations (state, policy_id);
    `);
  }

  /** Writes the policy (as AdminOperations.set) and records its pending confirmation in the same transaction. */
  async apply(actor: string, id: string, expectedVersion: unknown, policy: unknown, confirm: unknown): Promise<PolicyRecord & { confirmation: Confirmation }> {
    const bounds = validateConfirm(confirm);
    const { store, operations, telemetry } = this.#options;
    const now = this.#now();
    let confirmationId = 0;
    const record = await operations.set(actor, id, expectedVersion, policy, {
      alongside: (result) => {
        const written = result.record!;
        const previous = this.#pending(id);
        const before = written.version > 1 ? safeContent(store, id, Number(expectedVersion)) : undefined;
        const targets = [targetOf(written)!, ...(before ? [targetOf({ policy: before })!] : [])];
        // Built on a change still under confirmation: that change was never confirmed, so a rollback goes back to
        // what it replaced, judged against the baseline from before it.
        const inherits = previous !== undefined && previous.to_version === Number(expectedVersion);
        const restoreVersion = inherits ? previous.restore_version : Number(expectedVersion);
        const baselineFrom = inherits ? previous.baseline_from_ms : now - bounds.baselineMs;
        if (inherits) targets.push(...(JSON.parse(previous.targets_json) as Target[]));
        if (previous) this.#resolve(previous.id, 'SUPERSEDED', now, `superseded by version ${written.version} (commit-confirmed, by ${actor})`, []);
        // Stored with the confirmation: telemetry lives in memory only, and a restart inside the window must still judge.
        const baseline = inherits ? previous.baseline_json : JSON.stringify(aggregate(telemetry, targets, baselineFrom, now));
        confirmationId = Number(this.#db.prepare(`
          INSERT INTO confirmations (policy_id, to_version, restore_version, actor, applied_at_ms, deadline_ms, baseline_from_ms,
            bounds_json, targets_json, baseline_json, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING')`,
        ).run(id, written.version, restoreVersion, actor, now, now + bounds.withinMs, baselineFrom, JSON.stringify(bounds),
          JSON.stringify(dedupe(targets)), baseline).lastInsertRowid);
      },
    });
    this.#options.logger.info('commit-confirmed change pending', { id, version: record.version, actor, withinMs: bounds.withinMs });
    return { ...record, confirmation: this.#view(this.#row(confirmationId)!) };
  }

  /** Pending confirmations (oldest first), or with `all` every kept one, newest first. */
  list(all = false): Confirmation[] {
    const rows = all
      ? this.#db.prepare(`SELECT * FROM confirmations ORDER BY id DESC`).all() as Row[]
      : this.#db.prepare(`SELECT * FROM confirmations WHERE state = 'PENDING' ORDER BY id`).all() as Row[];
    return rows.map((row) => this.#view(row));
  }

  /** Judges every pending confirmation at `now`: rolls back, confirms, or leaves it pending. Called every second. */
  async evaluate(now = this.#now()): Promise<void> {
    for (const row of this.#db.prepare(`SELECT * FROM confirmations WHERE state = 'PENDING' ORDER BY id`).all() as Row[]) {
      try {
        await this.#evaluateOne(row, now);
      } catch (error) {
        this.#options.logger.error('commit-confirmed evaluation failed', { id: row.id, policy: row.policy_id, error: String(error) });
      }
    }
  }

  async #evaluateOne(row: Row, now: number): Promise<void> {
    const { store, operations, logger } = this.#options;
    let current: PolicyRecord | undefined;
    try { current = store.get(row.policy_id); } catch { current = undefined; }
    if (current?.version !== row.to_version) {
      const what = current ? `changed to version ${current.version} by ${current.updatedBy}` : 'deleted';
      this.#resolve(row.id, 'SUPERSEDED', now, `policy ${what} before the window ended; not judged`, []);
      return;
    }
    const bounds = JSON.parse(row.bounds_json) as ConfirmBounds;
    const scopes = this.#compare(row, now);
    const worse = scopes.filter((s) => s.worse);
    if (worse.length > 0) {
      const reason = `automatic rollback of version ${row.to_version} (applied by ${row.actor}, confirm within ${row.deadline_ms - row.applied_at_ms} ms): ` +
        `${scopeName(worse[0]!)}: ${worse[0]!.why}` + (worse.length > 1 ? ` (and ${worse.length - 1} more scope(s))` : '') +
        (row.restore_version === 0 ? '; the policy it created is deleted' : `; version ${row.restore_version} restored`);
      const extras = { reason, alongside: () => this.#resolve(row.id, 'ROLLED_BACK', now, reason, scopes) };
      if (row.restore_version === 0) await operations.delete(COMMIT_CONFIRMED_ACTOR, row.policy_id, row.to_version, extras);
      else await operations.rollback(COMMIT_CONFIRMED_ACTOR, row.policy_id, row.restore_version, row.to_version, extras);
      logger.info('commit-confirmed change rolled back', { id: row.policy_id, version: row.to_version, reason });
      return;
    }
    if (now < row.deadline_ms) return;
    const judged = scopes.filter((s) => s.after.requests >= bounds.minRequests).length;
    const reason = judged > 0
      ? `no affected scope got worse (${judged} scope(s) judged)`
      : `confirmed without a verdict: no affected scope reached minRequests ${bounds.minRequests} after the change`;
    this.#resolve(row.id, 'CONFIRMED', now, reason, scopes);
    logger.info('commit-confirmed change confirmed', { id: row.policy_id, version: row.to_version, reason });
  }

  /** Every affected scope's window so far against its stored baseline. */
  #compare(row: Row, now: number): ScopeComparison[] {
    const bounds = JSON.parse(row.bounds_json) as ConfirmBounds;
    const baseline = new Map((JSON.parse(row.baseline_json) as Aggregate[]).map((s) => [`${s.cluster}\u0000${s.tenant}`, s]));
    const after = aggregate(this.#options.telemetry, JSON.parse(row.targets_json) as Target[], row.applied_at_ms, Math.min(now, row.deadline_ms) + 1);
    return after.map((scope) => compareScope(baseline.get(`${scope.cluster}\u0000${scope.tenant}`), scope, bounds));
  }

  #pending(policyId: string): Row | undefined {
    return this.#db.prepare(`SELECT * FROM confirmations WHERE state = 'PENDING' AND policy_id = ? ORDER BY id DESC LIMIT 1`).get(policyId) as Row | undefined;
  }

  #row(id: number): Row | undefined {
    return this.#db.prepare(`SELECT * FROM confirmations WHERE id = ?`).get(id) as Row | undefined;
  }

  #resolve(id: number, state: ConfirmationState, now: number, reason: string, scopes: ScopeComparison[]): void {
    this.#db.prepare(`UPDATE confirmations SET state = ?, resolved_at_ms = ?, reason = ?, scopes_json = ? WHERE id = ?`)
      .run(state, now, reason, JSON.stringify(scopes), id);
    this.#db.prepare(`DELETE FROM confirmations WHERE state != 'PENDING' AND id NOT IN
      (SELECT id FROM confirmations WHERE state != 'PENDING' ORDER BY id DESC LIMIT ?)`).run(MAX_RESOLVED);
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

function safeContent(store: SqlitePolicyStore, id: string, version: number): unknown {
  try { return store.contentAt(id, version); } catch { return undefined; }
}

function dedupe(targets: Target[]): Target[] {
  return [...new Map(targets.map((t) => [JSON.stringify(t), t])).values()];
}
