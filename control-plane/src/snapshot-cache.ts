// Holds the current Snapshot, its one encoded form, and tells watchers when it changes. Knows nothing about gRPC or
// storage: the policy store sets snapshots, the discovery service watches. Watchers are called synchronously, in
// registration order, after the new snapshot is current; a watcher must not throw (a throwing watcher is logged by
// the caller's wrapper).
import { messageType } from './protos.ts';
import { Snapshot, type PolicyEntry } from './snapshot.ts';

export type SnapshotWatcher = (snapshot: Snapshot) => void;

/**
 * Fields 1 and 2 of a DiscoveryResponse (version_info, resources). Protobuf concatenation merges messages, so every
 * stream sends this one Buffer followed by its own few-byte nonce field. `encodeEntry` gives an entry's field-2
 * bytes (a cache may supply them): protobufjs writes fields in number order, so the head followed by the entries'
 * bytes is byte for byte the message encoded whole.
 */
export function encodeSnapshotBody(versionInfo: string, entries: readonly PolicyEntry[],
  encodeEntry: (entry: PolicyEntry) => Buffer = encodeSnapshotEntry): Buffer {
  const type = messageType('DiscoveryResponse');
  const head = Buffer.from(type.encode(type.fromObject({ versionInfo })).finish());
  return Buffer.concat([head, ...entries.map(encodeEntry)]);
}

/** One entry of a snapshot body: its resources field (tag, length, Resource). */
export function encodeSnapshotEntry(entry: PolicyEntry): Buffer {
  const type = messageType('DiscoveryResponse');
  return Buffer.from(type.encode(type.fromObject({ resources: [{ id: entry.id, version: entry.version, policy: entry.policy }] })).finish());
}

export class SnapshotCache {
  #current: Snapshot;
  #encoded: Buffer | undefined;
  // The current snapshot's entries encoded, by id and version: a committed policy version never changes, so a write
  // re-encodes only the policy it changed instead of every policy (a ~1 MB snapshot took 20-150 ms per write).
  // Holds the current snapshot's entries only.
  #entryBytes = new Map<string, Buffer>();
  readonly #watchers = new Set<SnapshotWatcher>();

  constructor(initial: Snapshot = Snapshot.empty()) {
    this.#current = initial;
  }

  current(): Snapshot {
    return this.#current;
  }

  /** The current snapshot's encoded body, built once per snapshot and shared by every stream. */
  encoded(): Buffer {
    if (this.#encoded) return this.#encoded;
    const kept = new Map<string, Buffer>();
    this.#encoded = encodeSnapshotBody(this.#current.versionInfo, this.#current.entries, (entry) => {
      const key = `${entry.id}@${entry.version}`;
      const bytes = this.#entryBytes.get(key) ?? encodeSnapshotEntry(entry);
      kept.set(key, bytes);
      return bytes;
    });
    this.#entryBytes = kept;
    return this.#encoded;
  }

  /**
   * The encoded size of a snapshot that is not current (a write's candidate): entries of the current snapshot come
   * from its encoding, the others are encoded now and not kept.
   */
  encodedLength(versionInfo: string, entries: readonly PolicyEntry[]): number {
    if (!this.#encoded) this.encoded();
    return encodeSnapshotBody(versionInfo, entries, (entry) => this.#entryBytes.get(`${entry.id}@${entry.version}`) ?? encodeSnapshotEntry(entry)).length;
  }

  /** Replaces the snapshot; versions must increase (a stale set is a bug in the caller and throws). */
  set(snapshot: Snapshot): void {
    if (snapshot.version <= this.#current.version) {
      throw new Error(`invalid snapshot: version must be greater than ${this.#current.version}, got ${snapshot.version}`);
    }
    this.#current = snapshot;
    this.#encoded = undefined;
    for (const watcher of [...this.#watchers]) watcher(snapshot);
  }

  watch(watcher: SnapshotWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }
}
