// Rollout status per stream identity (Node.id × Node.worker): one row per proxy (worker "proxy"; its ACK means every
// live VM of the proxy applies the version, discovery.proto), or per VM for filters from before one stream per proxy.
// Each row holds the version last sent and not yet answered, the last ACKed version and the last NACK with its
// (truncated) reason. Knows nothing about gRPC; the discovery service reports
// events, the admin API reads pages of status(), and the server persists changed and expired rows periodically
// through the policy store.
//
// Bounded: a row lives while its VM has a stream open and for `graceMs` after the last one ended (a restarting
// proxy keeps its history; 5,000 short-lived identities do not stay forever), and there are at most `maxRows`.
// At the bound the row disconnected longest ago makes room; when every row is connected a new VM is refused.
import { resourceExhausted } from './errors.ts';
import { clip, LIMITS } from './limits.ts';
import type { RolloutRow } from './policy-store.ts';

export interface NodeRolloutState extends RolloutRow {
  openStreams: number;
  pendingVersion: string;
  // Version of the network-suspect set the VM last said it applies ("" none); not persisted: a reconnecting VM
  // reports it again on its first request.
  suspectsVersion: string;
}

export interface RolloutSummary {
  snapshotVersion: string;
  suspectsVersion?: string;
  nodes: (Omit<NodeRolloutState, 'openStreams'> & { connected: boolean })[];
  converged: number;
  connected: number;
  /** Rows over all pages. */
  total: number;
  /** Token of the next page, "" on the last one. */
  nextPageToken: string;
}

export interface RolloutOptions {
  now?: () => number;
  graceMs?: number;
  maxRows?: number;
}

const keyOf = (nodeId: string, worker: string) => `${nodeId}\u0000${worker}`;

export class RolloutTracker {
  readonly #nodes = new Map<string, NodeRolloutState>();
  readonly #dirty = new Set<string>();
  readonly #expired = new Set<string>();
  // Disconnected rows by the time their last stream ended, oldest first (Map keeps insertion order).
  readonly #idleSince = new Map<string, number>();
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #maxRows: number;
  #sorted: string[] | undefined;
  expiredTotal = 0;
  // Open streams per Node.id over all its workers, so the last close of a proxy is seen without a scan.
  readonly #openPerNode = new Map<string, number>();
  readonly #goneListeners: ((nodeId: string) => void)[] = [];

  /** Calls `listener` when the last open stream of a Node.id ends (its per-proxy state can go). */
  onNodeGone(listener: (nodeId: string) => void): void {
    this.#goneListeners.push(listener);
  }

  constructor(persisted: Iterable<RolloutRow> = [], options: RolloutOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#graceMs = options.graceMs ?? LIMITS.rolloutGraceMs;
    this.#maxRows = options.maxRows ?? LIMITS.maxRolloutRows;
    const now = this.#now();
    for (const row of persisted) {
      const key = keyOf(row.nodeId, row.worker);
      if (this.#nodes.size >= this.#maxRows) { this.#expired.add(key); continue; }
      this.#nodes.set(key, { ...row, openStreams: 0, pendingVersion: '', suspectsVersion: '' });
      // A persisted row's grace starts now: its VM gets the same time to come back after a control-plane restart.
      this.#idleSince.set(key, now);
    }
  }

  get size(): number {
    return this.#nodes.size;
  }

  #state(nodeId: string, worker: string): NodeRolloutState | undefined {
    return this.#nodes.get(keyOf(nodeId, worker));
  }

  /** A stream of this VM opened; throws RESOURCE_EXHAUSTED when the row bound is reached by connected VMs alone. */
  opened(nodeId: string, worker: string): void {
    const key = keyOf(nodeId, worker);
    let state = this.#nodes.get(key);
    if (!state) {
      if (this.#nodes.size >= this.#maxRows) {
        const oldest = this.#idleSince.keys().next();
        if (oldest.done) throw resourceExhausted(`resource exhausted: rollout rows must be at most ${this.#maxRows} (limit maxRolloutRows)`);
        this.#drop(oldest.value);
      }
      state = { nodeId, worker, ackedVersion: '', ackedAtUnixMs: 0, nackedVersion: '', nackReason: '', nackedAtUnixMs: 0, openStreams: 0, pendingVersion: '', suspectsVersion: '' };
      this.#nodes.set(key, state);
      this.#expired.delete(key);
      this.#sorted = undefined;
    }
    state.openStreams++;
    this.#idleSince.delete(key);
    this.#openPerNode.set(nodeId, (this.#openPerNode.get(nodeId) ?? 0) + 1);
  }

  closed(nodeId: string, worker: string): void {
    const key = keyOf(nodeId, worker);
    const state = this.#nodes.get(key);
    if (!state) return;
    if (state.openStreams > 0) {
      const open = (this.#openPerNode.get(nodeId) ?? 1) - 1;
      if (open > 0) this.#openPerNode.set(nodeId, open);
      else {
        this.#openPerNode.delete(nodeId);
        for (const listener of this.#goneListeners) listener(nodeId);
      }
    }
    state.openStreams = Math.max(0, state.openStreams - 1);
    if (state.openStreams === 0) {
      state.pendingVersion = '';
      this.#idleSince.delete(key);
      this.#idleSince.set(key, this.#now());
    }
  }

  sent(nodeId: string, worker: string, version: string): void {
    const state = this.#state(nodeId, worker);
    if (state) state.pendingVersion = version;
  }

  /** The VM already enforces `version` (it said so when it connected); counts as an ACK. */
  acked(nodeId: string, worker: string, version: string, atUnixMs: number): void {
    const state = this.#state(nodeId, worker);
    if (!state) return;
    state.ackedVersion = version;
    state.ackedAtUnixMs = atUnixMs;
    state.pendingVersion = '';
    this.#dirty.add(keyOf(nodeId, worker));
  }

  suspectsApplied(nodeId: string, worker: string, version: string): void {
    const state = this.#state(nodeId, worker);
    if (state) state.suspectsVersion = version;
  }

  nacked(nodeId: string, worker: string, version: string, reason: string, atUnixMs: number): void {
    const state = this.#state(nodeId, worker);
    if (!state) return;
    state.nackedVersion = version;
    state.nackReason = clip(reason, LIMITS.maxNackReasonBytes);
    state.nackedAtUnixMs = atUnixMs;
    state.pendingVersion = '';
    this.#dirty.add(keyOf(nodeId, worker));
  }

  /** Drops rows whose VM has been gone for longer than the grace; returns how many. */
  prune(now = this.#now()): number {
    let dropped = 0;
    for (const [key, since] of this.#idleSince) {
      if (since + this.#graceMs > now) break;
      this.#drop(key);
      dropped++;
    }
    return dropped;
  }

  #drop(key: string): void {
    this.#nodes.delete(key);
    this.#idleSince.delete(key);
    this.#dirty.delete(key);
    this.#expired.add(key);
    this.#sorted = undefined;
    this.expiredTotal++;
  }

  /**
   * One page of rows sorted by node id then worker, with counts over every row. The sorted key list is cached
   * until a row is added or dropped, so paging through 20,000 rows sorts them once.
   */
  status(snapshotVersion: string, offset = 0, limit: number = LIMITS.maxPageSize): RolloutSummary {
    this.#sorted ??= [...this.#nodes.keys()].sort();
    let connected = 0, converged = 0;
    for (const state of this.#nodes.values()) {
      if (state.openStreams === 0) continue;
      connected++;
      if (state.ackedVersion === snapshotVersion) converged++;
    }
    const nodes = this.#sorted.slice(offset, offset + limit).map((key) => {
      const { openStreams, ...rest } = this.#nodes.get(key)!;
      return { ...rest, connected: openStreams > 0 };
    });
    const end = offset + nodes.length;
    return { snapshotVersion, nodes, connected, converged, total: this.#sorted.length, nextPageToken: end < this.#sorted.length ? String(end) : '' };
  }

  /** Rows changed since the last call (for persistence). */
  takeDirty(): RolloutRow[] {
    const rows: RolloutRow[] = [];
    for (const key of this.#dirty) {
      const { openStreams: _open, pendingVersion: _pending, suspectsVersion: _suspects, ...row } = this.#nodes.get(key)!;
      rows.push(row);
    }
    this.#dirty.clear();
    return rows;
  }

  /** Rows dropped since the last call (to delete from persistence). */
  takeExpired(): { nodeId: string; worker: string }[] {
    const expired = [...this.#expired].map((key) => {
      const cut = key.indexOf('\u0000');
      return { nodeId: key.slice(0, cut), worker: key.slice(cut + 1) };
    });
    this.#expired.clear();
    return expired;
  }
}
