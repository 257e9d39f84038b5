// Holds the current Snapshot and tells watchers when it changes. Knows nothing about gRPC or storage: the policy
// store sets snapshots, the discovery service watches. Watchers are called synchronously, in registration order,
// after the new snapshot is current; a watcher must not throw (a throwing watcher is logged by the caller's wrapper).
import { Snapshot } from './snapshot.ts';

export type SnapshotWatcher = (snapshot: Snapshot) => void;

export class SnapshotCache {
  #current: Snapshot;
  readonly #watchers = new Set<SnapshotWatcher>();

  constructor(initial: Snapshot = Snapshot.empty()) {
    this.#current = initial;
  }

  current(): Snapshot {
    return this.#current;
  }

  /** Replaces the snapshot; versions must increase (a stale set is a bug in the caller and throws). */
  set(snapshot: Snapshot): void {
    if (snapshot.version <= this.#current.version) {
      throw new Error(`invalid snapshot: version must be greater than ${this.#current.version}, got ${snapshot.version}`);
    }
    this.#current = snapshot;
    for (const watcher of [...this.#watchers]) watcher(snapshot);
  }

  watch(watcher: SnapshotWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }
}
