// An immutable, versioned set of every live policy: the only thing that crosses from the policy store to
// distribution. One snapshot per committed change; its version is the store's change sequence, so it keeps
// increasing across restarts.
import type { PolicyJson } from './policy-types.ts';

export interface PolicyEntry {
  readonly id: string;
  readonly version: number;
  readonly policy: PolicyJson;
}

export class Snapshot {
  readonly version: number;
  readonly versionInfo: string;
  readonly entries: readonly PolicyEntry[];

  constructor(version: number, entries: Iterable<PolicyEntry>) {
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new Error(`invalid snapshot: version must be a non-negative safe integer`);
    }
    const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].id === sorted[i - 1].id) throw new Error(`invalid snapshot: id ${sorted[i].id} must be unique`);
    }
    this.version = version;
    this.versionInfo = String(version);
    this.entries = Object.freeze(sorted.map((entry) => Object.freeze({ ...entry })));
    Object.freeze(this);
  }

  get(id: string): PolicyEntry | undefined {
    return this.entries.find((entry) => entry.id === id);
  }

  static empty(): Snapshot {
    return new Snapshot(0, []);
  }
}
