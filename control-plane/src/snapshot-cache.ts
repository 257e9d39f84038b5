// Holds the current Snapshot, its one encoded form, and tells watchers when it changes. Knows nothing about gRPC or
// storage: the policy store sets snapshots, the discovery service watches. Watchers are called synchronously, in
// registration order, after the new snapshot is current; a watcher must not throw (a throwing watcher is logged by
// the caller's wrapper).
import { messageType } from './protos.ts';
import { Snapshot, type PolicyEntry } from './snapshot.ts';

export type SnapshotWatcher = (snapshot: Snapshot) => void;

/**
 * Fields 1 and 2 of a DiscoveryResponse (version_info, resources). Protobuf concatenation merges messages, so every
 * stream sends this one Buffer followed by its own few-byte nonce field.
 */
export function encodeSnapshotBody(versionInfo: string, entries: readonly PolicyEntry[]): Buffer {
  const type = messageType('DiscoveryResponse');
  const message = type.fromObject({
    versionInfo,
    resources: entries.map((entry) => ({ id: entry.id, version: entry.version, policy: entry.policy })),
  });
  return Buffer.from(type.encode(message).finish());
}

export class SnapshotCache {
  #current: Snapshot;
  #encoded: Buffer | undefined;
  readonly #watchers = new Set<SnapshotWatcher>();

  constructor(initial: Snapshot = Snapshot.empty()) {
    this.#current = initial;
  }

  current(): Snapshot {
    return this.#current;
  }

  /** The current snapshot's encoded body, built once per snapshot and shared by every stream. */
  encoded(): Buffer {
    this.#encoded ??= encodeSnapshotBody(this.#current.versionInfo, this.#current.entries);
    return this.#encoded;
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
