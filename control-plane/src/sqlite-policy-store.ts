// The embedded default policy store (PolicyStore, policy-store.ts) on SQLite (better-sqlite3): live policies, every change with who/when/old/new (history and
// audit trail in one table, whose AUTOINCREMENT sequence is the snapshot version), and the last rollout state.
// Policy writes run in one IMMEDIATE transaction with synchronous=FULL and return only after COMMIT, so a caller
// acknowledging a write after set()/delete()/rollback() never acknowledges something a crash can lose. Calls are
// synchronous; Node's single thread serialises them, the version check inside the transaction makes them atomic.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { secureDirectory, secureFile } from './data-dir.ts';
import { failedPrecondition, notFound } from './errors.ts';
import { Snapshot } from './snapshot.ts';
import type { PolicyJson } from './policy-types.ts';
import { checkExpectedVersion, validatePolicyId, type ChangeKind, type HistoryEntry, type PolicyRecord, type PolicyStore, type RolloutRow, type WriteResult } from './policy-store.ts';

interface PolicyRow { id: string; version: number; policy_json: string; updated_by: string; updated_at_ms: number; snapshot_version: number }
interface ChangeRow {
  seq: number; policy_id: string; version: number; kind: ChangeKind; policy_json: string | null;
  previous_json: string | null; actor: string; at_ms: number; rolled_back_to: number | null; reason: string | null;
}

export class SqlitePolicyStore implements PolicyStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #rolloutDb: Database.Database;
  readonly #now: () => number;

  constructor(dataDir: string, options: { now?: () => number } = {}) {
    secureDirectory(dataDir);
    const file = join(dataDir, 'meshlens.db');
    // SQLite creates its -wal and -shm files with the database file's mode, so a 0600 database keeps them 0600 too
    // (sqlite/src/os_unix.c findCreateFileMode).
    for (const suffix of ['', '-wal', '-shm']) secureFile(file + suffix, 'database file');
    this.#now = options.now ?? Date.now;
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        policy_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('CREATE','UPDATE','DELETE','ROLLBACK')),
        policy_json TEXT,
        previous_json TEXT,
        actor TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        rolled_back_to INTEGER
      );
      CREATE INDEX IF NOT EXISTS changes_by_policy ON changes (policy_id, seq);
      CREATE TABLE IF NOT EXISTS policies (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        policy_json TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        snapshot_version INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS rollout (
        node_id TEXT NOT NULL,
        worker TEXT NOT NULL,
        acked_version TEXT NOT NULL,
        acked_at_ms INTEGER NOT NULL,
        nacked_version TEXT NOT NULL,
        nack_reason TEXT NOT NULL,
        nacked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (node_id, worker)
      );
    `);
    // Added with commit-confirmed changes: stores created before it lack the column.
    const columns = (this.#db.prepare(`PRAGMA table_info(changes)`).all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('reason')) this.#db.exec(`ALTER TABLE changes ADD COLUMN reason TEXT`);
    // Rollout state is advisory and written in bursts of thousands of ACKs: its own connection with NORMAL sync
    // keeps those writes from paying an fsync each, without weakening the policy writes above.
    this.#rolloutDb = new Database(file);
    this.#rolloutDb.pragma('busy_timeout = 5000');
    this.#rolloutDb.pragma('synchronous = NORMAL');
  }

  /** The policy connection, for tables of modules whose rows must commit atomically with policy writes. */
  get database(): Database.Database {
    return this.#db;
  }

  /** Runs `fn` in one IMMEDIATE transaction: the policy writes and other rows written inside commit together or not at all. */
  atomically<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  snapshotVersion(): number {
    const row = this.#db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  snapshot(): Snapshot {
    const rows = this.#db.prepare(`SELECT * FROM policies`).all() as PolicyRow[];
    return new Snapshot(this.snapshotVersion(), rows.map((row) => ({ id: row.id, version: row.version, policy: JSON.parse(row.policy_json) })));
  }

  list(): PolicyRecord[] {
    return (this.#db.prepare(`SELECT * FROM policies ORDER BY id`).all() as PolicyRow[]).map(toRecord);
  }

  get(id: string): PolicyRecord {
    validatePolicyId(id);
    const row = this.#db.prepare(`SELECT * FROM policies WHERE id = ?`).get(id) as PolicyRow | undefined;
    if (!row) throw notFound(`policy ${id} not found`);
    return toRecord(row);
  }

  /** Creates (expectedVersion 0) or replaces (expectedVersion = current version) a validated policy. */
  set(id: string, expectedVersion: number, policy: PolicyJson, actor: string): WriteResult {
    return this.#write(id, expectedVersion, actor, undefined, (current, lastVersion) => ({
      kind: current ? 'UPDATE' : 'CREATE',
      version: lastVersion + 1,
      policy,
      rolledBackTo: null,
    }));
  }

  delete(id: string, expectedVersion: number, actor: string, reason?: string): WriteResult {
    // Missing is answered before the version check: a delete of nothing is NOT_FOUND whatever version it expected.
    if (!this.#db.prepare(`SELECT 1 FROM policies WHERE id = ?`).get(validatePolicyId(id))) throw notFound(`policy ${id} not found`);
    return this.#write(id, expectedVersion, actor, reason, (current) => {
      if (!current) throw notFound(`policy ${id} not found`);
      return { kind: 'DELETE', version: current.version, policy: null, rolledBackTo: null };
    });
  }

  /** Returns the content a policy had at `version` (any change kind but DELETE), for rollback. */
  contentAt(id: string, version: number): PolicyJson {
    validatePolicyId(id);
    const row = this.#db.prepare(
      `SELECT policy_json FROM changes WHERE policy_id = ? AND version = ? AND kind != 'DELETE' ORDER BY seq DESC LIMIT 1`,
    ).get(id, version) as { policy_json: string } | undefined;
    if (!row) throw notFound(`policy ${id} has no version ${version}`);
    return JSON.parse(row.policy_json);
  }

  /** Makes `content` (an earlier version's, re-validated by the caller) current as a new version. */
  rollback(id: string, toVersion: number, expectedVersion: number, content: PolicyJson, actor: string, reason?: string): WriteResult {
    return this.#write(id, expectedVersion, actor, reason, (_current, lastVersion) => ({
      kind: 'ROLLBACK', version: lastVersion + 1, policy: content, rolledBackTo: toVersion,
    }));
  }

  history(id: string): HistoryEntry[] {
    validatePolicyId(id);
    const rows = this.#db.prepare(`SELECT * FROM changes WHERE policy_id = ? ORDER BY seq DESC`).all(id) as ChangeRow[];
    if (rows.length === 0) throw notFound(`policy ${id} not found`);
    return rows.map((row) => ({
      version: row.version,
      kind: row.kind,
      policy: row.policy_json === null ? null : JSON.parse(row.policy_json),
      previous: row.previous_json === null ? null : JSON.parse(row.previous_json),
      actor: row.actor,
      atUnixMs: row.at_ms,
      snapshotVersion: row.seq,
      rolledBackTo: row.rolled_back_to ?? 0,
      reason: row.reason ?? '',
    }));
  }

  saveRollout(rows: Iterable<RolloutRow>): void {
    const upsert = this.#rolloutDb.prepare(`
      INSERT INTO rollout VALUES (@nodeId, @worker, @ackedVersion, @ackedAtUnixMs, @nackedVersion, @nackReason, @nackedAtUnixMs)
      ON CONFLICT (node_id, worker) DO UPDATE SET acked_version = excluded.acked_version, acked_at_ms = excluded.acked_at_ms,
        nacked_version = excluded.nacked_version, nack_reason = excluded.nack_reason, nacked_at_ms = excluded.nacked_at_ms`);
    this.#rolloutDb.transaction((all: Iterable<RolloutRow>) => { for (const row of all) upsert.run(row); })(rows);
  }

  deleteRollout(keys: Iterable<{ nodeId: string; worker: string }>): void {
    const remove = this.#rolloutDb.prepare(`DELETE FROM rollout WHERE node_id = ? AND worker = ?`);
    this.#rolloutDb.transaction((all: Iterable<{ nodeId: string; worker: string }>) => { for (const k of all) remove.run(k.nodeId, k.worker); })(keys);
  }

  loadRollout(): RolloutRow[] {
    return (this.#rolloutDb.prepare(`SELECT * FROM rollout`).all() as Record<string, string | number>[]).map((row) => ({
      nodeId: row.node_id as string, worker: row.worker as string,
      ackedVersion: row.acked_version as string, ackedAtUnixMs: row.acked_at_ms as number,
      nackedVersion: row.nacked_version as string, nackReason: row.nack_reason as string, nackedAtUnixMs: row.nacked_at_ms as number,
    }));
  }

  integrityCheck(): string {
    return this.#db.pragma('integrity_check', { simple: true }) as string;
  }

  close(): void {
    this.#rolloutDb.close();
    this.#db.close();
  }

  #write(
    id: string, expectedVersion: number, actor: string, reason: string | undefined,
    decide: (current: PolicyRow | undefined, lastVersion: number) => { kind: ChangeKind; version: number; policy: PolicyJson | null; rolledBackTo: number | null },
  ): WriteResult {
    validatePolicyId(id);
    checkExpectedVersion(expectedVersion);
    const run = this.#db.transaction((): WriteResult => {
      const current = this.#db.prepare(`SELECT * FROM policies WHERE id = ?`).get(id) as PolicyRow | undefined;
      const currentVersion = current?.version ?? 0;
      if (currentVersion !== expectedVersion) {
        throw failedPrecondition(
          `stale write: policy ${id} is at version ${currentVersion}, the request expected version ${expectedVersion}`);
      }
      const last = this.#db.prepare(`SELECT MAX(version) AS v FROM changes WHERE policy_id = ?`).get(id) as { v: number | null };
      const change = decide(current, last.v ?? 0);
      const at = this.#now();
      const policyJson = change.policy === null ? null : JSON.stringify(change.policy);
      const seq = Number(this.#db.prepare(
        `INSERT INTO changes (policy_id, version, kind, policy_json, previous_json, actor, at_ms, rolled_back_to, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, change.version, change.kind, policyJson, current?.policy_json ?? null, actor, at, change.rolledBackTo, reason ?? null).lastInsertRowid);
      if (policyJson === null) {
        this.#db.prepare(`DELETE FROM policies WHERE id = ?`).run(id);
        return { record: null, snapshotVersion: seq };
      }
      const row: PolicyRow = { id, version: change.version, policy_json: policyJson, updated_by: actor, updated_at_ms: at, snapshot_version: seq };
      this.#db.prepare(
        `INSERT OR REPLACE INTO policies (id, version, policy_json, updated_by, updated_at_ms, snapshot_version) VALUES (@id, @version, @policy_json, @updated_by, @updated_at_ms, @snapshot_version)`,
      ).run(row);
      return { record: toRecord(row), snapshotVersion: seq };
    });
    return run.immediate();
  }
}

function toRecord(row: PolicyRow): PolicyRecord {
  return {
    id: row.id, version: row.version, policy: JSON.parse(row.policy_json), updatedBy: row.updated_by,
    updatedAtUnixMs: row.updated_at_ms, snapshotVersion: row.snapshot_version,
  };
}
