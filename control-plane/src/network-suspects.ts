// The network-suspect set pushed to the filters (discovery.proto NetworkSuspects): the upstream addresses whose
// correlator verdict is network-suspect or both, updated after every evaluated correlation window. It has its own
// version, which changes only when the set does, so an unchanged set causes no push. Bounded: at most maxAddresses
// (default 1024, the filter's cap), the highest retransmit ratios first.
//
// The version is a digest of the (sorted) content, not a counter or a clock: with several replicas (each computing
// the set from every report, telemetry-peers.ts) a filter that moves to another replica reports the version it
// applied, and the new replica must resend whenever its set differs. A per-replica counter or timestamp could name
// two different sets alike on two replicas (the filter would keep the stale one) and names equal sets differently
// (a needless push); a content digest is equal exactly when the sets are (up to a 64-bit collision), on every
// replica and across restarts. The filter applies any set it is sent (filter/assembly/control/discovery-client.ts),
// so versions need no order.
import { createHash } from 'node:crypto';
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

  constructor(options: { maxAddresses?: number } = {}) {
    this.#max = options.maxAddresses ?? MAX_SUSPECT_ADDRESSES;
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
    this.#current = Object.freeze({ version: suspectSetVersion(addresses), addresses: Object.freeze(addresses) });
    for (const watcher of [...this.#watchers]) watcher(this.#current);
    return true;
  }

  watch(watcher: (set: SuspectSet) => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }
}

/**
 * The empty set under its own (non-empty) version: what a replica without a set of its own sends a stream that reports
 * one (it applied it from another replica, or from this one before a restart). With no suspect fields in the response
 * the filter keeps the set it has (filter/assembly/control/protobuf.ts: absent fields leave `suspects` null).
 */
export const EMPTY_SUSPECT_SET: SuspectSet = Object.freeze({ version: suspectSetVersion([]), addresses: Object.freeze([]) as readonly string[] });

/** The version of a sorted address set: 16 hex digits of its SHA-256 (the same set has the same version everywhere). */
export function suspectSetVersion(sortedAddresses: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(sortedAddresses)).digest('hex').slice(0, 16);
}
