// The replicated policy store on etcd (PolicyStore, policy-store.ts): what several control-plane replicas share.
// Keys under the prefix (default /meshlens/):
//   seq                     the snapshot version: +1 in the same Txn as every policy change, so it is monotonic and
//                           identical on every replica (and equal to what SQLite's change sequence would be)
//   policies/<id>           the live record (JSON PolicyRecord)
//   last/<id>               the last version a policy ever had (a re-created policy continues from it, as on SQLite)
//   history/<id>/<seq>      one change (JSON HistoryEntry + the write id), seq zero-padded so keys sort by time
//   confirmations/...       commit-confirmed changes (confirmation-store.ts), added to a write's Txn by its Alongside
// A write reads seq and the policy, checks the expected version, and commits in one Txn that compares both keys'
// mod_revision with what it read: a concurrent change of the same policy (through any replica) makes it fail as a
// stale write; a concurrent change of another policy only moved seq, and the write is tried again on top of it.
// Acknowledged = the Txn succeeded = applied by a quorum of members (etcd answers a Txn after its raft commit).
// History is kept per policy up to HISTORY_PER_POLICY entries (the oldest dropped in the same Txn as a new one).
// Every replica watches the seq key: a change committed through any replica is read back and handed to subscribe()'s
// listener, which sets the replica's snapshot cache (pushed to its streams). The next change after a snapshot this
// replica holds is read as a delta (only the policies the change's revision wrote, at that revision), not as a
// re-read of every policy: at 1,000 policies of ~1.3 KB a whole read cost each replica ~40 ms and 14 ms of CPU per
// write, and etcd served the 1.3 MB to every replica. Anything else (a gap, a delete) is read whole.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneError, failedPrecondition, notFound } from './errors.ts';
import { EtcdClient, EtcdError, prefixEnd, sortableNumber as pad, valueText as text, type KeyValue, type RequestOp, type Compare } from './etcd-client.ts';
import type { Logger } from './logging.ts';
import { checkExpectedVersion, validatePolicyId, type Alongside, type ChangeKind, type HistoryEntry, type PolicyRecord, type PolicyStore, type RolloutRow, type WriteResult } from './policy-store.ts';
import type { PolicyJson } from './policy-types.ts';
import { Snapshot } from './snapshot.ts';

export const HISTORY_PER_POLICY = 256;
export const DEFAULT_ETCD_PREFIX = '/meshlens/';
// Writes that lost only the race on seq (another policy changed meanwhile) are tried again this often.
const MAX_WRITE_ATTEMPTS = 20;
const MAX_RACE_PAUSE_MS = 100;

interface StoredChange extends HistoryEntry { writeId: string }

/** One replica's rollout totals, published under a lease (replicas/<replica>) so every replica can show all of them. */
export interface ReplicaSummary {
  replica: string;
  snapshotVersion: string;
  connected: number;
  converged: number;
  total: number;
  updatedAtUnixMs: number;
  advertiseAddress?: string;   // host:port peers forward telemetry to (telemetry-peers.ts); absent from older replicas
  startedAtUnixMs?: number;    // when its process started: a new value at the same address is a restart; absent from older replicas
}
// A replica's summary outlives it by at most this (the lease's TTL; refreshed every second while it runs).
export const REPLICA_TTL_SECONDS = 5;

export interface EtcdPolicyStoreOptions {
  endpoints: readonly string[];
  /** TLS to etcd, as PEM files (read once, at start). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  prefix?: string;
  now?: () => number;
  logger?: Logger;
  timeoutMs?: number;
}

export class EtcdPolicyStore implements PolicyStore {
  readonly kind = 'etcd' as const;
  readonly client: EtcdClient;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #watch: { close(): void } | undefined;
  #lease: string | undefined;
  #closed = false;
  #writing: Promise<unknown> = Promise.resolve();
  /** How subscribe() read the changes it was told of: whole snapshots, or deltas of one change. */
  readonly snapshotReads = { whole: 0, delta: 0 };

  constructor(options: EtcdPolicyStoreOptions) {
    const tls = options.tls;
    const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file));
    this.client = new EtcdClient(options.endpoints, {
      timeoutMs: options.timeoutMs, tls: tls && { ca: read(tls.caFile), cert: read(tls.certFile), key: read(tls.keyFile) },
    });
    this.#prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
  }

  /** A key under this store's prefix (also for the confirmations kept next to the policies, confirmation-store.ts). */
  key(...parts: string[]): Buffer {
    return Buffer.from(this.#prefix + parts.join('/'));
  }

  #range(key: Buffer, rangeEnd?: Buffer, extra: Record<string, unknown> = {}): RequestOp {
    return { requestRange: { key, rangeEnd, ...extra } };
  }

  async snapshot(): Promise<Snapshot> {
    return this.#guard(async () => {
      // One Txn of two reads: both at the same revision, so seq and the policies always match.
      const prefix = this.key('policies', '');
      const response = await this.client.txn({ success: [this.#range(this.key('seq')), this.#range(prefix, prefixEnd(prefix.toString()))] });
      const seq = Number(text(response.responses[0].responseRange!.kvs[0]) ?? 0);
      const records = response.responses[1].responseRange!.kvs.map((kv) => JSON.parse(text(kv)!) as PolicyRecord);
      return new Snapshot(seq, records.map((r) => ({ id: r.id, version: r.version, policy: r.policy })));
    });
  }

  async list(): Promise<PolicyRecord[]> {
    return this.#guard(async () => {
      const prefix = this.key('policies', '');
      const response = await this.client.range({ key: prefix, rangeEnd: prefixEnd(prefix.toString()) });
      return response.kvs.map((kv) => JSON.parse(text(kv)!) as PolicyRecord);
    });
  }

  async get(id: string): Promise<PolicyRecord> {
    validatePolicyId(id);
    return this.#guard(async () => {
      const value = text((await this.client.range({ key: this.key('policies', id) })).kvs[0]);
      if (value === undefined) throw notFound(`policy ${id} not found`);
      return JSON.parse(value) as PolicyRecord;
    });
  }

  set(id: string, expectedVersion: number, policy: PolicyJson, actor: string, alongside?: Alongside): Promise<WriteResult> {
    return this.#write(id, expectedVersion, actor, undefined, (current, lastVersion) => ({
      kind: current ? 'UPDATE' : 'CREATE', version: lastVersion + 1, policy, rolledBackTo: 0,
    }), false, alongside);
  }

  delete(id: string, expectedVersion: number, actor: string, reason?: string, alongside?: Alongside): Promise<WriteResult> {
    return this.#write(id, expectedVersion, actor, reason, (current) => {
      if (!current) throw notFound(`policy ${id} not found`);
      return { kind: 'DELETE', version: current.version, policy: null, rolledBackTo: 0 };
    }, true, alongside);
  }

  async contentAt(id: string, version: number): Promise<PolicyJson> {
    validatePolicyId(id);
    const found = (await this.#changes(id)).find((c) => c.version === version && c.kind !== 'DELETE');
    if (!found) throw notFound(`policy ${id} has no version ${version}`);
    return found.policy!;
  }

  rollback(id: string, toVersion: number, expectedVersion: number, content: PolicyJson, actor: string, reason?: string, alongside?: Alongside): Promise<WriteResult> {
    return this.#write(id, expectedVersion, actor, reason, (_current, lastVersion) => ({
      kind: 'ROLLBACK', version: lastVersion + 1, policy: content, rolledBackTo: toVersion,
    }), false, alongside);
  }

  async history(id: string): Promise<HistoryEntry[]> {
    validatePolicyId(id);
    const changes = await this.#changes(id);
    if (changes.length === 0) throw notFound(`policy ${id} not found`);
    return changes.map(({ writeId: _writeId, ...entry }) => entry);
  }

  // Rollout rows belong to the replica that holds the proxy's stream (rollout.ts, in memory); a replica that dies
  // takes them along and the proxies' reconnects rebuild them on another. Nothing to keep in etcd.
  saveRollout(_rows: Iterable<RolloutRow>): void {}
  deleteRollout(_keys: Iterable<{ nodeId: string; worker: string }>): void {}
  loadRollout(): RolloutRow[] { return []; }

  /**
   * Watches seq from `fromVersion`'s revision on and calls `listener` with the whole snapshot after every change,
   * whichever replica committed it. A broken watch (member lost) is re-established on the next member after a
   * fresh read, so no change is missed: the listener ignores versions it already has.
   */
  subscribe(listener: (snapshot: Snapshot) => void): void {
    let refreshing: Promise<void> | undefined;
    let again = false;
    // The latest change the watch announced (seq and the revision that wrote it); undefined: read whole.
    let announced: { seq: number; revision: string } | undefined;
    let held: Snapshot | undefined;
    const refresh = (): void => {
      if (refreshing) { again = true; return; }
      refreshing = (async () => {
        do {
          again = false;
          const change = announced;
          announced = undefined;
          try {
            const delta = held && change && change.seq === held.version + 1 ? await this.#delta(held, change.revision) : undefined;
            const next = delta ?? await this.snapshot();
            this.snapshotReads[delta ? 'delta' : 'whole']++;
            held = next;
            listener(next);
          } catch (error) { this.#logger?.warn('etcd snapshot read failed', { error: String(error) }); again = !this.#closed; if (again) await sleep(200); }
        } while (again && !this.#closed);
      })().finally(() => { refreshing = undefined; });
    };
    const start = () => {
      if (this.#closed) return;
      this.#watch = this.client.watch(this.key('seq'), Buffer.alloc(0), '0', (response) => {
        // created: re-read whatever changed while no watch ran. Several changes in one response: read whole.
        const events = response.events;
        announced = events.length === 1 && events[0].kv ? { seq: Number(text(events[0].kv)), revision: events[0].kv.modRevision } : undefined;
        if (response.created || events.length > 0) refresh();
      }, (error) => {
        if (this.#closed) return;
        this.#logger?.warn('etcd watch ended; watching again', { error: String(error.message) });
        setTimeout(start, 200).unref();
      });
    };
    start();
  }

  /**
   * `held` plus the one change committed at `revision` (seq = held.version + 1): the policies that revision wrote,
   * read at it. Undefined when that is not the whole story (a policy deleted, or the store no longer has that
   * revision): the caller reads the snapshot whole.
   */
  async #delta(held: Snapshot, revision: string): Promise<Snapshot | undefined> {
    const prefix = this.key('policies', '');
    const end = prefixEnd(prefix.toString());
    const response = await this.client.txn({ success: [
      this.#range(this.key('seq'), undefined, { revision }),
      this.#range(prefix, end, { revision, minModRevision: revision, maxModRevision: revision }),
      this.#range(prefix, end, { revision, countOnly: true }),
    ] }).catch(() => undefined);
    if (!response) return undefined;
    const seq = Number(text(response.responses[0].responseRange!.kvs[0]) ?? 0);
    if (seq !== held.version + 1) return undefined;
    const entries = new Map(held.entries.map((e) => [e.id, e]));
    for (const kv of response.responses[1].responseRange!.kvs) {
      const r = JSON.parse(text(kv)!) as PolicyRecord;
      entries.set(r.id, { id: r.id, version: r.version, policy: r.policy });
    }
    if (entries.size !== Number(response.responses[2].responseRange!.count)) return undefined;
    return new Snapshot(seq, entries.values());
  }

  /** Publishes (or refreshes) this replica's summary under its lease; a lapsed lease is replaced by a new one. */
  async publishReplica(summary: ReplicaSummary): Promise<void> {
    await this.#guard(async () => {
      if (this.#lease !== undefined && (await this.client.leaseKeepAliveOnce(this.#lease)).TTL === '0') this.#lease = undefined;
      this.#lease ??= (await this.client.leaseGrant(REPLICA_TTL_SECONDS)).ID;
      await this.client.txn({ success: [{ requestPut: { key: this.key('replicas', summary.replica), value: Buffer.from(JSON.stringify(summary)), lease: this.#lease } }] });
    });
  }

  /** Every live replica's summary (at most one per running replica: each expires with its lease). */
  async replicas(): Promise<ReplicaSummary[]> {
    return this.#guard(async () => {
      const prefix = this.key('replicas', '');
      const response = await this.client.range({ key: prefix, rangeEnd: prefixEnd(prefix.toString()) });
      return response.kvs.map((kv) => JSON.parse(text(kv)!) as ReplicaSummary);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watch?.close();
    // A stopping replica's summary goes at once rather than when its lease lapses.
    if (this.#lease !== undefined) await this.client.leaseRevoke(this.#lease).catch(() => {});
    this.client.close();
  }

  async #changes(id: string): Promise<StoredChange[]> {
    return this.#guard(async () => {
      const prefix = this.key('history', id, '');
      const response = await this.client.range({ key: prefix, rangeEnd: prefixEnd(prefix.toString()), sortOrder: 'DESCEND', sortTarget: 'KEY' });
      return response.kvs.map((kv) => JSON.parse(text(kv)!) as StoredChange);
    });
  }

  async #write(
    id: string, expectedVersion: number, actor: string, reason: string | undefined,
    decide: (current: PolicyRecord | undefined, lastVersion: number) => { kind: ChangeKind; version: number; policy: PolicyJson | null; rolledBackTo: number },
    missingIsNotFound = false, alongside?: Alongside,
  ): Promise<WriteResult> {
    validatePolicyId(id);
    checkExpectedVersion(expectedVersion);
    const seqKey = this.key('seq'), policyKey = this.key('policies', id), lastKey = this.key('last', id);
    const historyPrefix = this.key('history', id, '');
    // One write at a time per replica: writes through one replica would otherwise race each other on seq (8 at
    // once lost 20 races in a row); across replicas at most one writer per replica contends.
    const turn = this.#writing.then(() => this.#guard(async () => {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const read = await this.client.txn({ success: [
          this.#range(seqKey), this.#range(policyKey), this.#range(lastKey),
          this.#range(historyPrefix, prefixEnd(historyPrefix.toString()), { keysOnly: true }),
        ] });
        const [seqKv] = read.responses[0].responseRange!.kvs;
        const [policyKv] = read.responses[1].responseRange!.kvs;
        const [lastKv] = read.responses[2].responseRange!.kvs;
        const historyKeys = read.responses[3].responseRange!.kvs.map((kv) => kv.key);
        const current = policyKv ? JSON.parse(text(policyKv)!) as PolicyRecord : undefined;
        // Missing is answered before the version check (as on SQLite): deleting nothing is NOT_FOUND.
        if (missingIsNotFound && !current) throw notFound(`policy ${id} not found`);
        const currentVersion = current?.version ?? 0;
        if (currentVersion !== expectedVersion) {
          throw failedPrecondition(`stale write: policy ${id} is at version ${currentVersion}, the request expected version ${expectedVersion}`);
        }
        const change = decide(current, Number(text(lastKv) ?? 0));
        const seq = Number(text(seqKv) ?? 0) + 1;
        const at = this.#now();
        const writeId = randomUUID();
        const entry: StoredChange = {
          version: change.version, kind: change.kind, policy: change.policy, previous: current?.policy ?? null, actor, atUnixMs: at,
          snapshotVersion: seq, rolledBackTo: change.rolledBackTo, reason: reason ?? '', writeId,
        };
        const record: PolicyRecord | null = change.policy === null ? null
          : { id, version: change.version, policy: change.policy, updatedBy: actor, updatedAtUnixMs: at, snapshotVersion: seq };
        const historyKey = this.key('history', id, pad(seq));
        const drop = historyKeys.slice(0, Math.max(0, historyKeys.length + 1 - HISTORY_PER_POLICY));
        const compare: Compare[] = [
          { key: seqKey, target: 'MOD', result: 'EQUAL', modRevision: seqKv?.modRevision ?? '0' },
          { key: policyKey, target: 'MOD', result: 'EQUAL', modRevision: policyKv?.modRevision ?? '0' },
        ];
        const success: RequestOp[] = [
          { requestPut: { key: seqKey, value: Buffer.from(String(seq)) } },
          record ? { requestPut: { key: policyKey, value: Buffer.from(JSON.stringify(record)) } } : { requestDeleteRange: { key: policyKey } },
          { requestPut: { key: lastKey, value: Buffer.from(String(Math.max(change.version, Number(text(lastKv) ?? 0)))) } },
          { requestPut: { key: historyKey, value: Buffer.from(JSON.stringify(entry)) } },
          ...drop.map((key) => ({ requestDeleteRange: { key } })),
        ];
        const result: WriteResult = { record, snapshotVersion: seq };
        if (alongside) {
          const addition = await alongside(result);
          if (!addition) throw new Error('an alongside of an etcd write must return the keys it adds to the Txn');
          compare.push(...addition.compare);
          success.push(...addition.success);
        }
        let succeeded: boolean;
        try {
          succeeded = (await this.client.txn({ compare, success })).succeeded;
        } catch (error) {
          // The Txn may have been applied before the answer was lost: our write id at our seq says so.
          const landed = await this.client.range({ key: historyKey }).catch(() => undefined);
          const stored = text(landed?.kvs[0]);
          if (stored === undefined || (JSON.parse(stored) as StoredChange).writeId !== writeId) throw error;
          succeeded = true;
        }
        if (succeeded) return result;
        // Lost the race on seq to another policy's write (or, with an alongside, on one of its keys): writers that keep retrying in step keep colliding (8
        // writers of different policies through one store lost 20 races in a row), so the next try waits a random
        // pause that grows with the losses.
        await sleep(Math.random() * Math.min(MAX_RACE_PAUSE_MS, 2 ** attempt));
      }
      throw new ControlPlaneError('UNAVAILABLE', `store busy: policy ${id} lost ${MAX_WRITE_ATTEMPTS} races for the snapshot version; try again`);
    }));
    this.#writing = turn.catch(() => {});
    return turn;
  }

  /** etcd failures as the control plane's errors: unreachable or leaderless etcd is UNAVAILABLE, never INTERNAL. */
  guard<T>(fn: () => Promise<T>): Promise<T> {
    return this.#guard(fn);
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof EtcdError) {
        throw new ControlPlaneError(error.code === grpc.status.UNAVAILABLE ? 'UNAVAILABLE' : 'INTERNAL', `store unavailable: ${error.message}`);
      }
      throw error;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
