// Where commit-confirmed changes (commit-confirmed.ts) keep their confirmations: ONE interface, the judging logic
// written once against it, and two implementations, each committing a confirmation in the same transaction as the
// policy write it belongs to (a change is never acknowledged without its confirmation, nor the reverse):
// - SqliteConfirmations: a table on the SQLite policy store's connection, written inside its IMMEDIATE transaction;
// - EtcdConfirmations: keys next to the etcd policy store's, added to the policy write's Txn. Several replicas share
//   them and each judges every pending confirmation (every replica ingests every report, telemetry-peers.ts, so all
//   judge the same telemetry); a resolution commits only if the confirmation is still pending at the revision the
//   replica read (Txn compare), so whichever replica resolves first is the only one that does.
// etcd keys under the policy store's prefix:
//   confirmations/pending/<policy id>   the pending confirmation of a policy (at most one: a new one supersedes it)
//   confirmations/resolved/<id>         a resolved one, id zero-padded so keys sort by age; at most MAX_RESOLVED kept
// An etcd confirmation's id is the snapshot version of the write that created it: unique and increasing across
// replicas without a counter of its own.
import type Database from 'better-sqlite3';
import type { KeyValue, RangeRequest, RequestOp } from './etcd-client.ts';
import { prefixEnd, sortableNumber as pad, valueText as text } from './etcd-client.ts';
import { failedPrecondition } from './errors.ts';
import type { EtcdPolicyStore } from './etcd-policy-store.ts';
import type { Alongside, PolicyRecord, WriteResult } from './policy-store.ts';
import type { SqlitePolicyStore } from './sqlite-policy-store.ts';

type Awaitable<T> = T | Promise<T>;

/** Resolved confirmations kept for `policy status --all`; older ones are deleted. */
export const MAX_RESOLVED = 1000;

export type ConfirmationState = 'PENDING' | 'CONFIRMED' | 'ROLLED_BACK' | 'SUPERSEDED';

/** A stored confirmation (the SQLite row; the JSON value of an etcd key). */
export interface Row {
  id: number; policy_id: string; to_version: number; restore_version: number; actor: string; applied_at_ms: number;
  deadline_ms: number; baseline_from_ms: number; bounds_json: string; targets_json: string; baseline_json: string;
  state: ConfirmationState; resolved_at_ms: number | null; reason: string | null; scopes_json: string | null;
}

/** A new pending confirmation: its id is given by the store. */
export type NewRow = Omit<Row, 'id' | 'state' | 'resolved_at_ms' | 'reason' | 'scopes_json'>;

export interface Resolution { state: Exclude<ConfirmationState, 'PENDING'>; atMs: number; reason: string; scopesJson: string }

export interface ConfirmationStore {
  readonly kind: 'sqlite' | 'etcd';
  /** Pending confirmations, oldest first. */
  pending(): Awaitable<Row[]>;
  /** Every kept confirmation, newest first. */
  all(): Awaitable<Row[]>;
  /** The policy `row` guards, as it is now (undefined: deleted). A later resolve(row) holds only while it stays so. */
  current(row: Row): Awaitable<PolicyRecord | undefined>;
  /**
   * The part of a policy write that records its pending confirmation: `build` gets the policy's pending one (if
   * any) and the write's result, and answers the new row and how the previous one is resolved; `stored` gets the
   * row as it is committed. On etcd, called again for every attempt the policy store makes.
   */
  recording(policyId: string, build: (previous: Row | undefined, result: WriteResult) => { row: NewRow; previous?: Resolution }, stored: (row: Row) => void): Alongside;
  /** Resolves `row`; false when it is no longer pending (another replica resolved it) or its policy changed since current(). */
  resolve(row: Row, resolution: Resolution): Awaitable<boolean>;
  /** The part of a policy write (the rollback) that resolves `row`; the write fails when `row` is no longer pending. */
  resolving(row: Row, resolution: Resolution): Alongside;
}

function resolved(row: Row, r: Resolution): Row {
  return { ...row, state: r.state, resolved_at_ms: r.atMs, reason: r.reason, scopes_json: r.scopesJson };
}

export class SqliteConfirmations implements ConfirmationStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #store: SqlitePolicyStore;

  constructor(store: SqlitePolicyStore) {
    this.#store = store;
    // On the policy store's connection: a pending confirmation commits in the same transaction as its change.
    this.#db = store.database;
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

  pending(): Row[] {
    return this.#db.prepare(`SELECT * FROM confirmations WHERE state = 'PENDING' ORDER BY id`).all() as Row[];
  }

  all(): Row[] {
    return this.#db.prepare(`SELECT * FROM confirmations ORDER BY id DESC`).all() as Row[];
  }

  current(row: Row): PolicyRecord | undefined {
    try { return this.#store.get(row.policy_id); } catch { return undefined; }
  }

  // Runs inside the policy write's transaction (AdminOperations through SqlitePolicyStore.atomically).
  recording(policyId: string, build: (previous: Row | undefined, result: WriteResult) => { row: NewRow; previous?: Resolution }, stored: (row: Row) => void): Alongside {
    return (result) => {
      const previous = this.#db.prepare(`SELECT * FROM confirmations WHERE state = 'PENDING' AND policy_id = ? ORDER BY id DESC LIMIT 1`).get(policyId) as Row | undefined;
      const next = build(previous, result);
      if (previous && next.previous) this.resolve(previous, next.previous);
      const r = next.row;
      const id = Number(this.#db.prepare(`
        INSERT INTO confirmations (policy_id, to_version, restore_version, actor, applied_at_ms, deadline_ms, baseline_from_ms,
          bounds_json, targets_json, baseline_json, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING')`,
      ).run(r.policy_id, r.to_version, r.restore_version, r.actor, r.applied_at_ms, r.deadline_ms, r.baseline_from_ms,
        r.bounds_json, r.targets_json, r.baseline_json).lastInsertRowid);
      stored(this.#db.prepare(`SELECT * FROM confirmations WHERE id = ?`).get(id) as Row);
    };
  }

  // One process, one connection: nothing else can resolve a row between the caller's read and this write.
  resolve(row: Row, r: Resolution): boolean {
    this.#db.prepare(`UPDATE confirmations SET state = ?, resolved_at_ms = ?, reason = ?, scopes_json = ? WHERE id = ?`)
      .run(r.state, r.atMs, r.reason, r.scopesJson, row.id);
    this.#db.prepare(`DELETE FROM confirmations WHERE state != 'PENDING' AND id NOT IN
      (SELECT id FROM confirmations WHERE state != 'PENDING' ORDER BY id DESC LIMIT ?)`).run(MAX_RESOLVED);
    return true;
  }

  resolving(row: Row, r: Resolution): Alongside {
    return () => { this.resolve(row, r); };
  }
}

/** Old resolved keys deleted per Txn at most: etcd refuses a Txn of more than --max-txn-ops (128) operations. */
const MAX_TRIM_PER_TXN = 16;
/** Confirmations per range read: 16 of the largest (~150 KB) stay well inside grpc-js's 4 MiB answer limit. */
const RANGE_PAGE = 16;

export class EtcdConfirmations implements ConfirmationStore {
  readonly kind = 'etcd' as const;
  readonly #store: EtcdPolicyStore;
  /** The revisions a row was read at: its pending key's, and (after current()) its policy's. */
  readonly #read = new WeakMap<Row, { pending: string; policy?: string }>();

  constructor(store: EtcdPolicyStore) {
    this.#store = store;
  }

  #pendingKey(policyId: string): Buffer { return this.#store.key('confirmations', 'pending', policyId); }
  #resolvedKey(id: number): Buffer { return this.#store.key('confirmations', 'resolved', pad(id)); }
  #prefix(kind: 'pending' | 'resolved'): { key: Buffer; rangeEnd: Buffer } {
    const key = this.#store.key('confirmations', kind, '');
    return { key, rangeEnd: prefixEnd(key.toString()) };
  }

  pending(): Promise<Row[]> {
    return this.#store.guard(async () => {
      const { kvs } = await this.#rangeAll('pending');
      return kvs.map((kv) => this.#remember(kv)).sort((a, b) => a.id - b.id);
    });
  }

  all(): Promise<Row[]> {
    return this.#store.guard(async () => {
      // Both at one revision, so a confirmation resolved meanwhile is listed once.
      const pending = await this.#rangeAll('pending');
      const { kvs } = await this.#rangeAll('resolved', pending.revision);
      return [...pending.kvs, ...kvs].map((kv) => JSON.parse(text(kv)!) as Row).sort((a, b) => b.id - a.id);
    });
  }

  /**
   * Every key of one kind at one revision, read in pages: a confirmation with MAX_SCOPES scopes is ~150 KB, and
   * grpc-js refuses an answer over 4 MiB (its default receive limit), which 1,000 of them would be.
   */
  async #rangeAll(kind: 'pending' | 'resolved', revision?: string): Promise<{ kvs: KeyValue[]; revision: string }> {
    const { key, rangeEnd } = this.#prefix(kind);
    const kvs: KeyValue[] = [];
    let from = key;
    let at = revision;
    for (;;) {
      const page = await this.#store.client.range({ key: from, rangeEnd, limit: RANGE_PAGE, revision: at });
      at ??= page.header!.revision;
      kvs.push(...page.kvs);
      if (!page.more || page.kvs.length === 0) return { kvs, revision: at };
      from = Buffer.concat([Buffer.from(page.kvs[page.kvs.length - 1]!.key), Buffer.from([0])]);
    }
  }

  current(row: Row): Promise<PolicyRecord | undefined> {
    return this.#store.guard(async () => {
      const [kv] = (await this.#store.client.range({ key: this.#store.key('policies', row.policy_id) })).kvs;
      const read = this.#read.get(row);
      if (read) read.policy = kv?.modRevision ?? '0';
      return kv ? JSON.parse(text(kv)!) as PolicyRecord : undefined;
    });
  }

  recording(policyId: string, build: (previous: Row | undefined, result: WriteResult) => { row: NewRow; previous?: Resolution }, stored: (row: Row) => void): Alongside {
    return async (result) => {
      const pendingKey = this.#pendingKey(policyId);
      const read = await this.#store.client.txn({ success: [{ requestRange: { key: pendingKey } }, { requestRange: this.#oldestResolved() }] });
      const [kv] = read.responses[0].responseRange!.kvs;
      const previous = kv ? JSON.parse(text(kv)!) as Row : undefined;
      const next = build(previous, result);
      const row: Row = { ...next.row, id: result.snapshotVersion, state: 'PENDING', resolved_at_ms: null, reason: null, scopes_json: null };
      const success: RequestOp[] = [{ requestPut: { key: pendingKey, value: Buffer.from(JSON.stringify(row)) } }];
      if (previous && next.previous) success.push(...this.#resolvedOps(previous, next.previous, read.responses[1].responseRange!));
      stored(row);
      // Another replica resolving or replacing the previous one meanwhile fails the Txn; the store reads and tries again.
      return { compare: [{ key: pendingKey, target: 'MOD', result: 'EQUAL', modRevision: kv?.modRevision ?? '0' }], success };
    };
  }

  resolve(row: Row, r: Resolution): Promise<boolean> {
    return this.#store.guard(async () => {
      const read = this.#read.get(row);
      if (!read) throw new Error(`confirmation ${row.id} was not read from the store`);
      const resolvedKeys = await this.#store.client.range(this.#oldestResolved());
      const compare = [{ key: this.#pendingKey(row.policy_id), target: 'MOD' as const, result: 'EQUAL' as const, modRevision: read.pending }];
      // Confirmed (or superseded) for the policy as current() saw it: a write meanwhile makes that verdict stale.
      if (read.policy !== undefined) compare.push({ key: this.#store.key('policies', row.policy_id), target: 'MOD', result: 'EQUAL', modRevision: read.policy });
      return (await this.#store.client.txn({ compare, success: this.#resolvedOps(row, r, resolvedKeys, true) })).succeeded;
    });
  }

  resolving(row: Row, r: Resolution): Alongside {
    return async () => {
      const read = this.#read.get(row);
      if (!read) throw new Error(`confirmation ${row.id} was not read from the store`);
      const pendingKey = this.#pendingKey(row.policy_id);
      const now = await this.#store.client.txn({ success: [{ requestRange: { key: pendingKey } }, { requestRange: this.#oldestResolved() }] });
      // Resolved by another replica: retrying the write could not succeed, so it stops here.
      if (now.responses[0].responseRange!.kvs[0]?.modRevision !== read.pending) throw failedPrecondition(`confirmation ${row.id} is no longer pending`);
      return {
        compare: [{ key: pendingKey, target: 'MOD', result: 'EQUAL', modRevision: read.pending }],
        success: this.#resolvedOps(row, r, now.responses[1].responseRange!, true),
      };
    };
  }

  /**
   * The oldest resolved keys a write may trim, and (etcd's `count`, which ignores `limit`) how many there are: a
   * write reads MAX_TRIM_PER_TXN keys, not all MAX_RESOLVED. Keys sort by key, i.e. oldest first (ids zero-padded).
   */
  #oldestResolved(): RangeRequest {
    return { ...this.#prefix('resolved'), keysOnly: true, limit: MAX_TRIM_PER_TXN };
  }

  /** Puts `row` resolved (deleting its pending key unless a new one replaces it) and trims the oldest beyond MAX_RESOLVED. */
  #resolvedOps(row: Row, r: Resolution, oldest: { kvs: KeyValue[]; count: string }, deletePending = false): RequestOp[] {
    const excess = Math.min(MAX_TRIM_PER_TXN, Math.max(0, Number(oldest.count) + 1 - MAX_RESOLVED));
    return [
      ...(deletePending ? [{ requestDeleteRange: { key: this.#pendingKey(row.policy_id) } }] : []),
      { requestPut: { key: this.#resolvedKey(row.id), value: Buffer.from(JSON.stringify(resolved(row, r))) } },
      ...oldest.kvs.slice(0, excess).map((kv) => ({ requestDeleteRange: { key: Buffer.from(kv.key) } })),
    ];
  }

  #remember(kv: KeyValue): Row {
    const row = JSON.parse(text(kv)!) as Row;
    this.#read.set(row, { pending: kv.modRevision });
    return row;
  }
}
