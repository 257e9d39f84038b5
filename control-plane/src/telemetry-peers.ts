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
// its queue along (counted), and one that comes back under the same address starts empty, so churn in the registry
// cannot deliver a report twice. Kernel reports are also deduplicated by the agent's sequence on ingest.
//
// Bounds: per peer a queue of at most maxQueueBytes (oldest dropped first) and maxInFlight calls, each with a
// deadline. The proxy's own Report call is answered before anything here runs and never waits for a peer.
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
const identity = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export interface TelemetryPeersOptions {
  self: string;                          // this replica's advertise address: never its own peer
  credentials: grpc.ChannelCredentials;  // the transport the replicas serve (TLS when configured)
  authority?: string;                    // :authority of peer calls (Istio: the headless Service, istio/overlays/replicated)
  registry: Registry;
  logger: Logger;
  maxQueueBytes?: number;                // per peer, default 16 MiB
  maxInFlight?: number;                  // per peer, default 8
  deadlineMs?: number;                   // per forwarded call, default 5 s
}

interface Queued { source: ReportSource; bytes: Uint8Array; authorization: string }

interface Peer {
  address: string;
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
  #queuedTotal = 0;
  #lastFailureLog = 0;

  constructor(options: TelemetryPeersOptions) {
    this.#options = options;
    this.#maxQueueBytes = options.maxQueueBytes ?? 16 * 1024 * 1024;
    this.#maxInFlight = options.maxInFlight ?? 8;
    this.#deadlineMs = options.deadlineMs ?? 5000;
    const registers = [options.registry];
    this.#forwarded = new Counter({ name: 'meshlens_cp_peer_forwarded_total', help: 'Reports this replica received from proxies and delivered to a peer replica.', labelNames: ['source'], registers });
    this.#received = new Counter({ name: 'meshlens_cp_peer_reports_received_total', help: 'Reports accepted from peer replicas (forwarded, not forwarded again).', labelNames: ['source'], registers });
    this.#dropped = new Counter({ name: 'meshlens_cp_peer_forward_dropped_total', help: 'Reports not delivered to a peer replica: queue_full (oldest dropped), peer_gone (its lease lapsed), send_failed (not retried).', labelNames: ['reason'], registers });
    this.#peerGauge = new Gauge({ name: 'meshlens_cp_peers', help: 'Live peer replicas this replica forwards reports to.', registers });
    this.#queueBytes = new Gauge({ name: 'meshlens_cp_peer_queue_bytes', help: 'Report bytes waiting to be forwarded, all peers.', registers });
    for (const source of ['filter', 'kernel'] as const) { this.#forwarded.inc({ source }, 0); this.#received.inc({ source }, 0); }
    for (const reason of PEER_DROP_REASONS) this.#dropped.inc({ reason }, 0);
  }

  /** The live peers' addresses (e.g. from the etcd replica registry): new ones get a client, gone ones are closed. */
  setPeers(addresses: Iterable<string>): void {
    const live = new Set<string>();
    for (const address of addresses) if (address && address !== this.#options.self) live.add(address);
    for (const [address, peer] of this.#peers) if (!live.has(address)) this.#remove(peer);
    for (const address of live) {
      if (this.#peers.has(address)) continue;
      const channelOptions: grpc.ChannelOptions = this.#options.authority ? { 'grpc.default_authority': this.#options.authority } : {};
      this.#peers.set(address, {
        address, client: new grpc.Client(address, this.#options.credentials, channelOptions),
        queue: [], head: 0, queuedBytes: 0, inFlight: 0, gone: false,
      });
      this.#options.logger.info('peer replica added', { peer: address });
    }
    this.#peerGauge.set(this.#peers.size);
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
      for (const peer of this.#peers.values()) {
        this.#enqueue(peer, { source, bytes, authorization });
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
  }

  #enqueue(peer: Peer, item: Queued): void {
    const size = item.bytes.byteLength;
    // Drop-oldest: under a slow peer the newest reports, which the next windows are judged on, are the ones kept.
    while (peer.queuedBytes + size > this.#maxQueueBytes && peer.head < peer.queue.length) {
      const oldest = peer.queue[peer.head]!;
      peer.queue[peer.head++] = undefined!;
      this.#account(peer, -oldest.bytes.byteLength);
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
      this.#account(peer, -item.bytes.byteLength);
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
