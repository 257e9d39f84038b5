// Telemetry shared by control-plane replicas (issue 14): every filter and kernel report a replica accepted from a
// proxy or node agent is forwarded once, as the raw bytes it validated, to every other live replica, marked with
// FORWARDED_HEADER; a marked report is ingested like any other but never forwarded again. So each replica's telemetry
// store, breaker states, correlation windows, verdicts and suspect set cover every report, about one forwarding hop
// (milliseconds) after the replica that received it.
//
// Authentication: a report travels with the authorization it arrived with (the proxy's or agent's own token; every
// replica reads the same tokens.json), so a peer applies exactly the checks the first replica applied — token, node
// scope, validation — and a forwarded report can do nothing its sender could not.
//
// Exactly once is not needed and at most once is what this gives: a report is queued once per peer when accepted and
// sent once; a failed or timed-out send is counted and not retried (the peer may have ingested it before the answer
// was lost, and filter reports add up, correlation-windows.ts addFilterReport). A peer that leaves the registry takes
// its queue along (counted). Kernel reports are also deduplicated by the agent's sequence on ingest.
//
// Catch-up: a replica that starts (or restarts) while the others run would otherwise hold only the reports accepted
// after the others noticed it, so for as long as the correlation looks back (CorrelationWindows' kept windows) its
// windows, baselines and verdicts would differ from theirs. So each replica keeps the reports it accepted from
// proxies and agents itself within `replayMs`, and when a peer joins queues those the peer cannot have ahead of
// anything new: all of them for a peer it has not seen, only those accepted since it left for one that comes back as
// the same process (a lapsed lease; a restart shows as a new `startedAtUnixMs` at the same address). Every
// report is accepted by one replica, which either forwards it (the peer was known) or replays it (it was not), on
// one thread, so a report reaches each peer once. A replica restarted at the same address while it was a peer (within
// its lease) was forwarded to from its start on, so it is replayed only what was accepted before its start: here the
// two clocks meet, and a skew of d between them loses or repeats the reports of d.
//
// Bounds: per peer a queue of at most maxQueueBytes (oldest dropped first) and maxInFlight calls, each with a
// deadline; the reports kept for replay, at most maxReplayBytes (oldest dropped first) and replayMs old; the
// departed peers remembered, at most MAX_DEPARTED. The proxy's own Report call is answered before anything here runs
// and never waits for a peer.
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from './logging.ts';

export const FORWARDED_HEADER = 'x-meshlens-forwarded';
export type ReportSource = 'filter' | 'kernel';
export const PEER_DROP_REASONS = ['queue_full', 'peer_gone', 'send_failed'] as const;
export type PeerDropReason = typeof PEER_DROP_REASONS[number];

const METHODS: Record<ReportSource, string> = {
  filter: '/meshlens.v1.Telemetry/Report',
  kernel: '/meshlens.v1.KernelTelemetry/Report',
};
/**
 * What holding one report costs beside its bytes and its authorization string (the entry, its array slots, the
 * string's header), counted against maxQueueBytes and maxReplayBytes: otherwise a proxy sending tiny reports fast
 * would fill a slow peer's queue and the replay with entries whatever the byte bounds say.
 */
export const ENTRY_OVERHEAD_BYTES = 128;
/** Departed peers remembered for a return as the same process (beyond this, the oldest is forgotten). */
const MAX_DEPARTED = 256;
const identity = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export interface TelemetryPeersOptions {
  self: string;                          // this replica's advertise address: never its own peer
  credentials: grpc.ChannelCredentials;  // the transport the replicas serve (TLS when configured)
  authority?: string;                    // :authority of peer calls (Istio: the headless Service, istio/overlays/replicated)
  registry: Registry;
  logger: Logger;
  maxQueueBytes?: number;                // per peer (with ENTRY_OVERHEAD_BYTES each), default 16 MiB
  maxInFlight?: number;                  // per peer, default 8
  deadlineMs?: number;                   // per forwarded call, default 5 s
  replayMs?: number;                     // reports kept for a joining peer: how far back, default 10 s
  maxReplayBytes?: number;               // and at most this many bytes (with ENTRY_OVERHEAD_BYTES each), default 16 MiB
  now?: () => number;
}

/** A live replica as the registry shows it. */
export interface PeerRow {
  address: string;
  /** When that replica's process started: a new value at the same address is a restarted, empty replica. */
  startedAtUnixMs?: number;
}

/** `size`: what it counts against the byte bounds (bytes, authorization and ENTRY_OVERHEAD_BYTES). */
interface Queued { source: ReportSource; bytes: Uint8Array; authorization: string; size: number }

interface Peer {
  address: string;
  startedAtUnixMs: number | undefined;
  client: grpc.Client;
  queue: Queued[];
  head: number;                          // queue[head] is the oldest still waiting
  queuedBytes: number;
  inFlight: number;
  gone: boolean;
}

export class TelemetryPeers {
  readonly #options: TelemetryPeersOptions;
  readonly #maxQueueBytes: number;
  readonly #maxInFlight: number;
  readonly #deadlineMs: number;
  readonly #peers = new Map<string, Peer>();
  readonly #forwarded: Counter<'source'>;
  readonly #received: Counter<'source'>;
  readonly #dropped: Counter<'reason'>;
  readonly #peerGauge: Gauge<string>;
  readonly #queueBytes: Gauge<string>;
  readonly #replayed: Counter<'source'>;
  readonly #replayMs: number;
  readonly #maxReplayBytes: number;
  readonly #now: () => number;
  // Reports accepted here from proxies and agents, oldest first from recentHead, for peers that join.
  #recent: { item: Queued; atMs: number }[] = [];
  #recentHead = 0;
  #recentBytes = 0;
  // Peers that left the registry: when, and which process (a return as the same one needs only what it missed).
  readonly #departed = new Map<string, { startedAtUnixMs: number | undefined; atMs: number }>();
  #queuedTotal = 0;
  #lastFailureLog = 0;

  constructor(options: TelemetryPeersOptions) {
    this.#options = options;
    this.#maxQueueBytes = options.maxQueueBytes ?? 16 * 1024 * 1024;
    this.#maxInFlight = options.maxInFlight ?? 8;
    this.#deadlineMs = options.deadlineMs ?? 5000;
    this.#replayMs = options.replayMs ?? 10_000;
    this.#maxReplayBytes = options.maxReplayBytes ?? 16 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    const registers = [options.registry];
    this.#forwarded = new Counter({ name: 'meshlens_cp_peer_forwarded_total', help: 'Reports this replica received from proxies and delivered to a peer replica.', labelNames: ['source'], registers });
    this.#received = new Counter({ name: 'meshlens_cp_peer_reports_received_total', help: 'Reports accepted from peer replicas (forwarded, not forwarded again).', labelNames: ['source'], registers });
    this.#dropped = new Counter({ name: 'meshlens_cp_peer_forward_dropped_total', help: 'Reports not delivered to a peer replica: queue_full (oldest dropped), peer_gone (its lease lapsed), send_failed (not retried).', labelNames: ['reason'], registers });
    this.#peerGauge = new Gauge({ name: 'meshlens_cp_peers', help: 'Live peer replicas this replica forwards reports to.', registers });
    this.#replayed = new Counter({ name: 'meshlens_cp_peer_replayed_total', help: 'Reports queued for a peer replica that joined after this replica accepted them (its catch-up).', labelNames: ['source'], registers });
    this.#queueBytes = new Gauge({ name: 'meshlens_cp_peer_queue_bytes', help: 'Bytes of reports waiting to be forwarded, all peers (each with its token and ENTRY_OVERHEAD_BYTES).', registers });
    for (const source of ['filter', 'kernel'] as const) { this.#forwarded.inc({ source }, 0); this.#received.inc({ source }, 0); this.#replayed.inc({ source }, 0); }
    for (const reason of PEER_DROP_REASONS) this.#dropped.inc({ reason }, 0);
  }

  /**
   * The live peers (e.g. from the etcd replica registry): new ones get a client and the reports they missed, gone
   * ones are closed, one whose process changed (restarted) is both.
   */
  setPeers(rows: Iterable<PeerRow>): void {
    const live = new Map<string, PeerRow>();
    for (const row of rows) if (row.address && row.address !== this.#options.self) live.set(row.address, row);
    const restarted = new Set<string>();
    for (const [address, peer] of this.#peers) {
      const row = live.get(address);
      if (row && row.startedAtUnixMs !== peer.startedAtUnixMs) restarted.add(address);
      if (!row || restarted.has(address)) this.#remove(peer);
    }
    const now = this.#now();
    for (const [address, row] of live) {
      if (this.#peers.has(address)) continue;
      const channelOptions: grpc.ChannelOptions = this.#options.authority ? { 'grpc.default_authority': this.#options.authority } : {};
      const peer: Peer = {
        address, startedAtUnixMs: row.startedAtUnixMs, client: new grpc.Client(address, this.#options.credentials, channelOptions),
        queue: [], head: 0, queuedBytes: 0, inFlight: 0, gone: false,
      };
      this.#peers.set(address, peer);
      const departed = this.#departed.get(address);
      this.#departed.delete(address);
      // What the peer cannot hold: restarted while it was a peer, what was accepted before it started (since then
      // reports were forwarded to its address); back as the same process, what was accepted since it left;
      // otherwise (new, or restarted while it was not a peer) everything kept.
      let from = -Infinity, to = Infinity;
      if (restarted.has(address) && row.startedAtUnixMs !== undefined) to = row.startedAtUnixMs;
      else if (departed && row.startedAtUnixMs !== undefined && departed.startedAtUnixMs === row.startedAtUnixMs) from = departed.atMs;
      const replayed = this.#replay(peer, from, to, now);
      this.#options.logger.info('peer replica added', { peer: address, replayedReports: replayed });
    }
    this.#peerGauge.set(this.#peers.size);
  }

  /**
   * A unary call (raw bytes both ways) to the live peer that has run longest, i.e. holds the longest history; undefined
   * without peers. Rejects as the call does.
   */
  askLongestRunning(path: string, request: Uint8Array, authorization: string, deadlineMs = this.#deadlineMs): Promise<Buffer | undefined> {
    let oldest: Peer | undefined;
    for (const peer of this.#peers.values()) {
      if (!oldest || (peer.startedAtUnixMs ?? Infinity) < (oldest.startedAtUnixMs ?? Infinity)) oldest = peer;
    }
    if (!oldest) return Promise.resolve(undefined);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', authorization);
    return new Promise((resolve, reject) => oldest.client.makeUnaryRequest(path, identity, (b: Buffer) => b, request, metadata,
      { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response))));
  }

  peers(): string[] {
    return [...this.#peers.keys()];
  }

  /**
   * Called once a report was accepted (after the caller's answer was sent): a report from a peer is only counted,
   * one from a proxy or agent is queued for every peer. Never throws, never waits.
   */
  accepted(source: ReportSource, bytes: Uint8Array, metadata: grpc.Metadata): void {
    if (metadata.get(FORWARDED_HEADER).length > 0) {
      this.#received.inc({ source });
      return;
    }
    const authorization = metadata.get('authorization')[0];
    if (typeof authorization !== 'string') return;   // accepted reports always carried one (auth.ts)
    try {
      // Its own copy: the bytes may be a view into a larger receive buffer, which keeping them would keep whole (the
      // bounds count report bytes, and the replay keeps them for replayMs).
      const item = { source, bytes: Buffer.from(bytes), authorization, size: bytes.byteLength + authorization.length + ENTRY_OVERHEAD_BYTES };
      this.#keep(item, this.#now());
      for (const peer of this.#peers.values()) {
        this.#enqueue(peer, item);
        this.#pump(peer);
      }
    } catch (error) {
      // The report is already recorded and answered here; forwarding trouble must not reach the proxy's call.
      this.#options.logger.error('report forwarding failed', { error: String(error) });
    }
  }

  close(): void {
    for (const peer of this.#peers.values()) this.#remove(peer);
    this.#peerGauge.set(0);
    this.#recent = [];
    this.#recentHead = 0;
    this.#recentBytes = 0;
  }

  /** Keeps an accepted report for peers that join later, within replayMs and maxReplayBytes. */
  #keep(item: Queued, now: number): void {
    const size = item.size;
    if (size > this.#maxReplayBytes) return;
    this.#recent.push({ item, atMs: now });
    this.#recentBytes += size;
    const recent = this.#recent;
    while (this.#recentHead < recent.length
      && (this.#recentBytes > this.#maxReplayBytes || recent[this.#recentHead]!.atMs < now - this.#replayMs)) {
      this.#recentBytes -= recent[this.#recentHead]!.item.size;
      recent[this.#recentHead++] = undefined!;
    }
    if (this.#recentHead > 1024 && this.#recentHead * 2 > recent.length) {
      recent.splice(0, this.#recentHead);
      this.#recentHead = 0;
    }
  }

  /** Queues for a joining peer the kept reports accepted in [fromMs, toMs) and within replayMs; returns how many. */
  #replay(peer: Peer, fromMs: number, toMs: number, now: number): number {
    let count = 0;
    for (let i = this.#recentHead; i < this.#recent.length; i++) {
      const { item, atMs } = this.#recent[i]!;
      if (atMs < fromMs || atMs >= toMs || atMs < now - this.#replayMs) continue;
      this.#enqueue(peer, item);
      this.#replayed.inc({ source: item.source });
      count++;
    }
    this.#pump(peer);
    return count;
  }

  #enqueue(peer: Peer, item: Queued): void {
    const size = item.size;
    // Drop-oldest: under a slow peer the newest reports, which the next windows are judged on, are the ones kept.
    while (peer.queuedBytes + size > this.#maxQueueBytes && peer.head < peer.queue.length) {
      const oldest = peer.queue[peer.head]!;
      peer.queue[peer.head++] = undefined!;
      this.#account(peer, -oldest.size);
      this.#dropped.inc({ reason: 'queue_full' });
    }
    if (size > this.#maxQueueBytes) {
      this.#dropped.inc({ reason: 'queue_full' });
      return;
    }
    peer.queue.push(item);
    this.#account(peer, size);
  }

  #account(peer: Peer, delta: number): void {
    peer.queuedBytes += delta;
    this.#queuedTotal += delta;
    this.#queueBytes.set(this.#queuedTotal);
  }

  #pump(peer: Peer): void {
    while (!peer.gone && peer.inFlight < this.#maxInFlight && peer.head < peer.queue.length) {
      const item = peer.queue[peer.head]!;
      peer.queue[peer.head++] = undefined!;
      this.#account(peer, -item.size);
      this.#send(peer, item);
    }
    // Compacts the consumed prefix now and then rather than shifting per item (O(n) each).
    if (peer.head > 1024 && peer.head * 2 > peer.queue.length) {
      peer.queue.splice(0, peer.head);
      peer.head = 0;
    } else if (peer.head === peer.queue.length) {
      peer.queue.length = 0;
      peer.head = 0;
    }
  }

  #send(peer: Peer, item: Queued): void {
    peer.inFlight++;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', item.authorization);
    metadata.set(FORWARDED_HEADER, this.#options.self);
    peer.client.makeUnaryRequest(METHODS[item.source], identity, (b: Buffer) => b, item.bytes, metadata,
      { deadline: Date.now() + this.#deadlineMs }, (error) => {
        peer.inFlight--;
        if (error) {
          this.#dropped.inc({ reason: 'send_failed' });
          if (Date.now() - this.#lastFailureLog >= 60_000) {
            this.#lastFailureLog = Date.now();
            this.#options.logger.warn('report not forwarded to a peer replica', { peer: peer.address, code: error.code, error: error.details });
          }
        } else {
          this.#forwarded.inc({ source: item.source });
        }
        this.#pump(peer);
      });
  }

  #remove(peer: Peer): void {
    peer.gone = true;
    this.#departed.delete(peer.address);
    this.#departed.set(peer.address, { startedAtUnixMs: peer.startedAtUnixMs, atMs: this.#now() });
    if (this.#departed.size > MAX_DEPARTED) this.#departed.delete(this.#departed.keys().next().value!);
    const waiting = peer.queue.length - peer.head;
    if (waiting > 0) this.#dropped.inc({ reason: 'peer_gone' }, waiting);
    this.#account(peer, -peer.queuedBytes);
    peer.queue = [];
    peer.head = 0;
    // Calls in flight still end (answered, or at their deadline) and are counted then.
    peer.client.close();
    this.#peers.delete(peer.address);
    this.#options.logger.info('peer replica removed', { peer: peer.address, droppedReports: waiting });
  }
}
