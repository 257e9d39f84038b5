// The policy store: ONE interface for the embedded SQLite store (sqlite-policy-store.ts, the default) and the
// replicated etcd store (etcd-policy-store.ts, for several control-plane replicas), plus what both share: the
// records, the id rule and the expected-version check. Methods may answer synchronously (SQLite) or with a promise
// (etcd); callers always await. Contract of both:
// - a write resolves only after the store committed it durably (SQLite COMMIT with synchronous=FULL; etcd Txn
//   applied by a quorum), so whoever acknowledges a write after it never acknowledges something a crash loses;
// - optimistic concurrency: a write names the version it expects (0 = must not exist), a stale one fails with
//   FAILED_PRECONDITION and stores nothing;
// - every change is kept in the history with who, when, old and new (the audit trail);
// - snapshot versions increase by one per committed change, whichever replica made it.
import { invalidArgument } from './errors.ts';
import type { Snapshot } from './snapshot.ts';
import type { PolicyJson } from './policy-types.ts';
import type { Compare, RequestOp } from './etcd-client.ts';

type Awaitable<T> = T | Promise<T>;

export type ChangeKind = 'CREATE' | 'UPDATE' | 'DELETE' | 'ROLLBACK';

export interface PolicyRecord {
  id: string;
  version: number;
  policy: PolicyJson;
  updatedBy: string;
  updatedAtUnixMs: number;
  snapshotVersion: number;
}

export interface HistoryEntry {
  version: number;
  kind: ChangeKind;
  policy: PolicyJson | null;
  previous: PolicyJson | null;
  actor: string;
  atUnixMs: number;
  snapshotVersion: number;
  rolledBackTo: number;
  /** Why, when the writer said (automatic rollbacks of commit-confirmed changes do); "" otherwise. */
  reason: string;
}

export interface RolloutRow {
  nodeId: string;
  worker: string;
  ackedVersion: string;
  ackedAtUnixMs: number;
  nackedVersion: string;
  nackReason: string;
  nackedAtUnixMs: number;
}

export interface WriteResult {
  record: PolicyRecord | null;
  snapshotVersion: number;
}

/** What another module commits with a policy write on etcd: compares that must hold and operations, added to the write's Txn. */
export interface TxnAddition { compare: Compare[]; success: RequestOp[] }

/**
 * Another module's rows committed with a policy write (commit-confirmed changes), given the write's result before it
 * commits. SQLite runs it inside the write's transaction (atomically()) and it returns nothing; etcd adds the
 * TxnAddition it returns to the write's Txn and calls it again whenever it retries the Txn.
 */
export type Alongside = (result: WriteResult) => void | Promise<TxnAddition>;

const POLICY_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function validatePolicyId(id: unknown): string {
  if (typeof id !== 'string' || !POLICY_ID.test(id)) {
    throw invalidArgument('invalid policy: id must match [a-z0-9][a-z0-9._-]{0,62}');
  }
  return id;
}


export function checkExpectedVersion(expectedVersion: number): void {
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw invalidArgument('invalid request: expectedVersion must be a non-negative integer');
  }
}

export interface PolicyStore {
  readonly kind: 'sqlite' | 'etcd';
  snapshot(): Awaitable<Snapshot>;
  list(): Awaitable<PolicyRecord[]>;
  get(id: string): Awaitable<PolicyRecord>;
  /** Creates (expectedVersion 0) or replaces (expectedVersion = current version) a validated policy. */
  // `alongside` is taken by stores without atomically() (etcd): see Alongside.
  set(id: string, expectedVersion: number, policy: PolicyJson, actor: string, alongside?: Alongside): Awaitable<WriteResult>;
  delete(id: string, expectedVersion: number, actor: string, reason?: string, alongside?: Alongside): Awaitable<WriteResult>;
  /** The content a policy had at `version` (any change kind but DELETE), for rollback. */
  contentAt(id: string, version: number): Awaitable<PolicyJson>;
  /** Makes `content` (an earlier version's, re-validated by the caller) current as a new version. */
  rollback(id: string, toVersion: number, expectedVersion: number, content: PolicyJson, actor: string, reason?: string, alongside?: Alongside): Awaitable<WriteResult>;
  /** Every kept change of a policy, newest first. */
  history(id: string): Awaitable<HistoryEntry[]>;
  /**
   * Runs `fn` so that the policy write inside it and the caller's own rows commit together: a store whose writes
   * are synchronous transactions has it (SQLite); etcd takes the rows as an Alongside of the write instead.
   */
  atomically?<T>(fn: () => T): T;
  /** Rollout rows kept across restarts (SQLite); the etcd store keeps none: rows belong to the replica holding the stream. */
  saveRollout(rows: Iterable<RolloutRow>): void;
  deleteRollout(keys: Iterable<{ nodeId: string; worker: string }>): void;
  loadRollout(): RolloutRow[];
  close(): Awaitable<void>;
}
