// The network-suspect set pushed to the filters (discovery.proto NetworkSuspects): the upstream addresses whose
// correlator verdict is network-suspect or both, updated after every evaluated correlation window. It has its own
// version, which changes only when the set does, so an unchanged set causes no push. Bounded: at most maxAddresses
// (default 1024, the filter's cap), the highest retransmit ratios first. Versions are max(previous + 1, now) so they
// keep increasing across control-plane restarts (a VM reconnecting with an older version is sent the current set).
import type { EndpointStatus } from './correlator.ts';

export const MAX_SUSPECT_ADDRESSES = 1024;

export interface SuspectSet {
  version: string;            // "" until the first non-empty set
  addresses: readonly string[];
}

export class NetworkSuspects {
  #current: SuspectSet = { version: '', addresses: [] };
  readonly #watchers = new Set<(set: SuspectSet) => void>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxAddresses?: number; now?: () => number } = {}) {
    this.#max = options.maxAddresses ?? MAX_SUSPECT_ADDRESSES;
    this.#now = options.now ?? Date.now;
  }

  current(): SuspectSet {
    return this.#current;
  }

  /** The endpoints' current verdicts (Correlator.endpoints()); returns whether the set changed. */
  update(endpoints: readonly EndpointStatus[]): boolean {
    const suspects = endpoints.filter((e) => e.verdict === 'network-suspect' || e.verdict === 'both')
      .sort((a, b) => b.signals.retransRatio - a.signals.retransRatio);
    const addresses = [...new Set(suspects.map((e) => e.endpoint))].slice(0, this.#max).sort();
    const previous = this.#current;
    if (addresses.length === previous.addresses.length && addresses.every((a, i) => a === previous.addresses[i])) return false;
    const last = previous.version === '' ? 0 : Number(previous.version);
    this.#current = Object.freeze({ version: String(Math.max(last + 1, this.#now())), addresses: Object.freeze(addresses) });
    for (const watcher of [...this.#watchers]) watcher(this.#current);
    return true;
  }

  watch(watcher: (set: SuspectSet) => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }
}
