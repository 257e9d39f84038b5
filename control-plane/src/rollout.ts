// Rollout status per filter VM (Node.id × Node.worker): the version last sent and not yet answered, the last ACKed
// version and the last NACK with its reason. Knows nothing about gRPC; the discovery service reports events, the
// admin API reads status(), and the server persists dirty rows periodically through the policy store.
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
}

const keyOf = (nodeId: string, worker: string) => `${nodeId}\u0000${worker}`;

export class RolloutTracker {
  readonly #nodes = new Map<string, NodeRolloutState>();
  readonly #dirty = new Set<string>();
  // Open streams per Node.id over all its workers, so the last close of a proxy is seen without a scan.
  readonly #openPerNode = new Map<string, number>();
  readonly #goneListeners: ((nodeId: string) => void)[] = [];

  /** Calls `listener` when the last open stream of a Node.id ends (its per-proxy state can go). */
  onNodeGone(listener: (nodeId: string) => void): void {
    this.#goneListeners.push(listener);
  }

  constructor(persisted: Iterable<RolloutRow> = []) {
    for (const row of persisted) this.#nodes.set(keyOf(row.nodeId, row.worker), { ...row, openStreams: 0, pendingVersion: '', suspectsVersion: '' });
  }

  #state(nodeId: string, worker: string): NodeRolloutState {
    const key = keyOf(nodeId, worker);
    let state = this.#nodes.get(key);
    if (!state) {
      state = { nodeId, worker, ackedVersion: '', ackedAtUnixMs: 0, nackedVersion: '', nackReason: '', nackedAtUnixMs: 0, openStreams: 0, pendingVersion: '', suspectsVersion: '' };
      this.#nodes.set(key, state);
    }
    return state;
  }

  opened(nodeId: string, worker: string): void {
    this.#state(nodeId, worker).openStreams++;
    this.#openPerNode.set(nodeId, (this.#openPerNode.get(nodeId) ?? 0) + 1);
  }

  closed(nodeId: string, worker: string): void {
    const state = this.#state(nodeId, worker);
    if (state.openStreams > 0) {
      const open = (this.#openPerNode.get(nodeId) ?? 1) - 1;
      if (open > 0) this.#openPerNode.set(nodeId, open);
      else {
        this.#openPerNode.delete(nodeId);
        for (const listener of this.#goneListeners) listener(nodeId);
      }
    }
    state.openStreams = Math.max(0, state.openStreams - 1);
    if (state.openStreams === 0) state.pendingVersion = '';
  }

  sent(nodeId: string, worker: string, version: string): void {
    this.#state(nodeId, worker).pendingVersion = version;
  }

  /** The VM already enforces `version` (it said so when it connected); counts as an ACK. */
  acked(nodeId: string, worker: string, version: string, atUnixMs: number): void {
    const state = this.#state(nodeId, worker);
    state.ackedVersion = version;
    state.ackedAtUnixMs = atUnixMs;
    state.pendingVersion = '';
    this.#dirty.add(keyOf(nodeId, worker));
  }

  suspectsApplied(nodeId: string, worker: string, version: string): void {
    this.#state(nodeId, worker).suspectsVersion = version;
  }

  nacked(nodeId: string, worker: string, version: string, reason: string, atUnixMs: number): void {
    const state = this.#state(nodeId, worker);
    state.nackedVersion = version;
    state.nackReason = reason;
    state.nackedAtUnixMs = atUnixMs;
    state.pendingVersion = '';
    this.#dirty.add(keyOf(nodeId, worker));
  }

  status(snapshotVersion: string): RolloutSummary {
    const nodes = [...this.#nodes.values()]
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0))
      .map(({ openStreams, ...rest }) => ({ ...rest, connected: openStreams > 0 }));
    const connected = nodes.filter((node) => node.connected);
    return {
      snapshotVersion,
      nodes,
      connected: connected.length,
      converged: connected.filter((node) => node.ackedVersion === snapshotVersion).length,
    };
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
}
