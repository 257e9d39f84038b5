// PolicyDiscovery.StreamPolicies: one bidirectional state-of-the-world stream per proxy (per VM for older filters),
// xDS-style. The protocol (first request, ACK/NACK by nonce, backpressure: at most one unanswered response per
// stream, then the LATEST snapshot) is specified in protos/meshlens/v1/discovery.proto; this class implements exactly
// that.
//
// Bounds (control-plane/src/limits.ts): the first request must arrive within firstRequestTimeoutMs and name a
// valid node the credential may speak for; NACK reasons are truncated and are not metric labels. The response is
// encoded and framed once per snapshot (SnapshotCache.encoded(), #sharedMessage) and the same buffer is written to
// every stream (served on node:http2 directly, grpc-raw-call.ts, not copied per stream as grpc-js would), where it
// stays referenced until the stream's HTTP/2 window lets it out. So the bytes written and not yet flushed are
// budgeted across all streams:
// past maxUnflushedBytes a stream's send is deferred (it holds no bytes, only "send the latest when you can"),
// and a stream that leaves a write unflushed for longer than slowStreamTimeoutMs is closed, so a reader that
// stopped cannot hold the budget.
import * as grpc from '@grpc/grpc-js';
import type http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Authenticator, ProxyPrincipal } from '../auth.ts';
import { authorizeNode } from '../auth.ts';
import { frameGrpcMessage, RawGrpcCall, type RawCallLimits } from '../grpc-raw-call.ts';
import type { RawStreamHandler } from '../grpc-listener.ts';
import { asControlPlaneError, invalidArgument, resourceExhausted, toGrpcStatus } from '../errors.ts';
import { checkNodeIdentity, clip, LIMITS } from '../limits.ts';
import type { Logger } from '../logging.ts';
import type { ControlPlaneMetrics } from '../metrics.ts';
import { messageType, meshlensGrpc } from '../protos.ts';
import type { RolloutTracker } from '../rollout.ts';
import type { Snapshot } from '../snapshot.ts';
import type { SnapshotCache } from '../snapshot-cache.ts';
import { EMPTY_SUSPECT_SET, type NetworkSuspects, type SuspectSet } from '../network-suspects.ts';
import type { DiscoveryRequest__Output } from '../generated/meshlens/v1/DiscoveryRequest.ts';

export interface PolicyDiscoveryOptions {
  cache: SnapshotCache;
  rollout: RolloutTracker;
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  now?: () => number;                                  // wall clock for rollout timestamps
  firstRequestTimeoutMs?: number;                      // default LIMITS.firstRequestTimeoutMs
  maxUnflushedBytes?: number;                          // default LIMITS.maxUnflushedBytes
  slowStreamTimeoutMs?: number;                        // default 30 s
  suspects?: NetworkSuspects;                          // pushed with every response, resent when it changes
  onAck?: (nodeId: string, worker: string, version: string) => void;
  onNack?: (nodeId: string, worker: string, version: string, reason: string) => void;
}

type DiscoveryCall = RawGrpcCall;

interface StreamState {
  call: DiscoveryCall;
  nodeId: string;
  worker: string;
  sentVersion: number;          // last snapshot version sent or reported by the VM on connect; -1 none
  sentSuspects: string;         // network-suspect set version sent or reported on connect
  outstandingNonce: string;     // "" when the stream is free
  sentAtMs: number;             // performance.now() of the outstanding send
  unflushed: number;            // bytes of the outstanding write not yet flushed (0 once flushed)
  slowTimer: NodeJS.Timeout | undefined;
  fail: (error: unknown, reason: string) => void;
}

// At most this many NACK log lines per second; the rest are counted into one summary line.
const NACK_LOG_PER_SECOND = 10;
const DEFERRED_SLICE_BYTES = 8 << 20;

export class PolicyDiscoveryService {
  readonly #options: PolicyDiscoveryOptions;
  readonly #now: () => number;
  readonly #streams = new Set<StreamState>();
  readonly #deferred = new Set<StreamState>();         // waiting for budget, oldest first
  #deferredScheduled = false;
  #sliceBytes = 0;                                      // sent in this event-loop turn
  #closed = false;
  readonly #requestType = messageType('DiscoveryRequest');
  readonly #responseType = messageType('DiscoveryResponse');
  readonly #firstRequestTimeoutMs: number;
  readonly #maxUnflushed: number;
  readonly #slowStreamTimeoutMs: number;
  #unflushed = 0;
  #encodedSuspects: { version: string; body: Buffer } | undefined;
  // The whole DiscoveryResponse of the current snapshot and suspect set, nonce included, built and framed once and
  // written to every stream. The nonce names the (snapshot, suspect set) pair, numbered in the order pairs were
  // built: a stream is sent each pair at most once, so it is still unique per response on the stream
  // (discovery.proto). A nonce per stream made every push copy the whole snapshot once more per stream.
  // Per epoch (one snapshot body and one current suspect set), keyed by the suspect set a stream is sent: the current
  // one, or the empty one for streams that hold a set while this replica has none (EMPTY_SUSPECT_SET). A single
  // cached message was rebuilt, the whole snapshot copied, at every alternation of the two during one push. A stream
  // is sent at most one of these per epoch and a new epoch numbers new nonces, so nonces stay unique per stream.
  readonly #messageBySuspects = new Map<string, { nonce: string; bytes: Buffer }>();
  #messageEpoch: { body: Buffer; current: string } | undefined;
  #messages = 0;
  #unwatchSuspects: () => void;
  #unwatch: () => void;
  #nackLog = { second: 0, logged: 0, suppressed: 0 };

  constructor(options: PolicyDiscoveryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#firstRequestTimeoutMs = options.firstRequestTimeoutMs ?? LIMITS.firstRequestTimeoutMs;
    this.#maxUnflushed = options.maxUnflushedBytes ?? LIMITS.maxUnflushedBytes;
    this.#slowStreamTimeoutMs = options.slowStreamTimeoutMs ?? 30_000;
    this.#unwatch = options.cache.watch((snapshot) => this.#pushAll(snapshot));
    this.#unwatchSuspects = options.suspects?.watch(() => this.#pushAll(options.cache.current())) ?? (() => {});
  }

  /**
   * The method's path and its handler, for listenGrpc's `raw` routes: StreamPolicies is served on node:http2
   * directly (grpc-raw-call.ts says why). Requests are decoded here so a malformed one ends the stream with
   * INVALID_ARGUMENT; responses are pre-encoded and framed per snapshot.
   */
  route(limits: RawCallLimits): [string, RawStreamHandler] {
    return [meshlensGrpc().PolicyDiscovery.service.StreamPolicies.path, (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      const call = RawGrpcCall.accept(stream, headers, limits);
      if (call) this.#handle(call);
    }];
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Snapshot bytes written to streams and not yet flushed (what slow readers hold). */
  get unflushedBytes(): number {
    return this.#unflushed;
  }

  /** Ends every stream with UNAVAILABLE (graceful shutdown: filters reconnect elsewhere or later). */
  close(): void {
    this.#closed = true;
    this.#unwatch();
    this.#unwatchSuspects();
    for (const stream of this.#streams) {
      stream.call.sendStatus({ code: grpc.status.UNAVAILABLE, details: 'control plane shutting down' });
    }
  }

  #handle(call: DiscoveryCall): void {
    const { auth, metrics, logger, rollout } = this.#options;
    let principal: ProxyPrincipal;
    try {
      principal = auth.proxy(call.header('authorization'));
    } catch (error) {
      metrics.discoveryStreamsRefused.inc({ reason: 'unauthenticated' });
      call.sendStatus(toGrpcStatus(error));
      return;
    }
    let stream: StreamState | undefined;
    let ended = false;
    let awaitingFirst = true;
    metrics.discoveryStreamsAwaitingFirstRequest.inc();
    const firstSeen = () => {
      if (!awaitingFirst) return;
      awaitingFirst = false;
      clearTimeout(firstRequestTimer);
      metrics.discoveryStreamsAwaitingFirstRequest.dec();
    };
    const finish = () => {
      firstSeen();
      if (!stream || !this.#streams.delete(stream)) return;
      this.#release(stream);
      this.#deferred.delete(stream);
      metrics.connectedProxies.dec();
      rollout.closed(stream.nodeId, stream.worker);
    };
    const fail = (error: unknown, reason: string) => {
      if (ended) return;
      ended = true;
      finish();
      metrics.discoveryStreamsRefused.inc({ reason });
      call.sendStatus(toGrpcStatus(error));
    };
    // A stream that never sends its first request would otherwise be held forever and appear nowhere.
    const firstRequestTimer = setTimeout(() => fail(invalidArgument(
      `invalid discovery request: the first request must arrive within ${this.#firstRequestTimeoutMs} ms`), 'first_request_timeout'),
    this.#firstRequestTimeoutMs);
    call.on('data', (bytes: Buffer) => {
      if (ended) return;
      let request: DiscoveryRequest__Output;
      try {
        // Plain decode (no toObject): this runs once per ACK, 10,000 times per change at scale. Absent fields read
        // as the prototype defaults ("" and null), which is all the protocol needs.
        request = this.#requestType.decode(bytes) as unknown as DiscoveryRequest__Output;
      } catch (error) {
        fail(invalidArgument(`invalid discovery request: message must be a valid DiscoveryRequest (${(error as Error).message})`), 'invalid_request');
        return;
      }
      if (!stream) {
        let node: { id: string; worker: string };
        try {
          if (!request.node?.id) throw invalidArgument('invalid discovery request: node.id must be set on the first request');
          node = checkNodeIdentity(request.node);
          authorizeNode(principal, node.id);
          rollout.opened(node.id, node.worker);
        } catch (error) {
          const code = asControlPlaneError(error).code;
          fail(error, code === 'PERMISSION_DENIED' ? 'permission_denied' : code === 'RESOURCE_EXHAUSTED' ? 'rollout_rows' : 'invalid_request');
          return;
        }
        firstSeen();
        const reported = /^(0|[1-9]\d{0,15})$/.test(request.versionInfo) ? Number(request.versionInfo) : -1;
        stream = {
          call, nodeId: node.id, worker: node.worker, sentVersion: reported, outstandingNonce: '', sentAtMs: 0,
          unflushed: 0, slowTimer: undefined, fail, sentSuspects: clip(request.networkSuspectsVersion ?? '', 32),
        };
        this.#streams.add(stream);
        metrics.connectedProxies.inc();
        if (reported >= 0) rollout.acked(node.id, node.worker, request.versionInfo, this.#now());
        rollout.suspectsApplied(node.id, node.worker, stream.sentSuspects);
        logger.debug('discovery stream opened', { node: node.id, worker: node.worker, version: clip(request.versionInfo, 32) });
        this.#maybeSend(stream, this.#options.cache.current());
        return;
      }
      this.#answer(stream, request);
    });
    call.on('end', () => { if (!ended) { ended = true; finish(); call.sendStatus({ code: grpc.status.OK }); } });
    call.on('close', () => { ended = true; finish(); });
  }

  #answer(stream: StreamState, request: DiscoveryRequest__Output): void {
    if (stream.outstandingNonce === '' || request.responseNonce !== stream.outstandingNonce) return;   // stale
    const { metrics, rollout } = this.#options;
    stream.outstandingNonce = '';
    const sentVersion = String(stream.sentVersion);
    if (request.errorDetail) {
      const reason = clip(request.errorDetail.message || `code ${request.errorDetail.code}`, LIMITS.maxNackReasonBytes);
      metrics.nacks.inc();
      rollout.nacked(stream.nodeId, stream.worker, sentVersion, reason, this.#now());
      this.#logNack(stream, sentVersion, reason);
      this.#options.onNack?.(stream.nodeId, stream.worker, sentVersion, reason);
    } else {
      metrics.pushToAck.observe((performance.now() - stream.sentAtMs) / 1000);
      rollout.acked(stream.nodeId, stream.worker, String(stream.sentVersion), this.#now());
      rollout.suspectsApplied(stream.nodeId, stream.worker, stream.sentSuspects);
      this.#options.onAck?.(stream.nodeId, stream.worker, String(stream.sentVersion));
    }
    this.#maybeSend(stream, this.#options.cache.current());
  }

  /** NACKs are logged, but a storm of them becomes one summary line per second instead of megabytes of log. */
  #logNack(stream: StreamState, version: string, reason: string): void {
    const second = Math.floor(performance.now() / 1000);
    const log = this.#nackLog;
    if (second !== log.second) {
      if (log.suppressed > 0) this.#options.logger.warn('policy snapshot rejections not logged', { count: log.suppressed });
      this.#nackLog = { second, logged: 0, suppressed: 0 };
    }
    if (this.#nackLog.logged++ < NACK_LOG_PER_SECOND) {
      this.#options.logger.warn('policy snapshot rejected', { node: stream.nodeId, worker: stream.worker, version, reason });
    } else this.#nackLog.suppressed++;
  }

  #pushAll(snapshot: Snapshot): void {
    for (const stream of this.#streams) this.#maybeSend(stream, snapshot);
  }

  #maybeSend(stream: StreamState, snapshot: Snapshot): void {
    const current = this.#options.suspects?.current();
    // A stream holding a set while this replica has none yet is sent the empty set explicitly, or it would keep a set
    // another replica (or this one before a restart) gave it.
    const suspects = current?.version === '' && stream.sentSuspects !== '' ? EMPTY_SUSPECT_SET : current;
    const suspectsVersion = suspects?.version ?? '';
    if (stream.outstandingNonce !== '' || (stream.sentVersion === snapshot.version && stream.sentSuspects === suspectsVersion)) return;
    const body = this.#options.cache.encoded();
    // Over budget the stream keeps no bytes, only its place in line; it gets the then-latest snapshot when bytes
    // held by other streams are flushed.
    if (this.#unflushed > 0 && this.#unflushed + body.length > this.#maxUnflushed) {
      if (!this.#deferred.has(stream)) this.#options.metrics.discoveryDeferredSends.inc();
      this.#deferred.add(stream);
      return;
    }
    // Past this turn's slice the stream waits for the next turn (in line with the budget's waiters), so a burst of
    // new streams or a push to many cannot hold the event loop, and the admin writes behind it, for long.
    if (this.#sliceBytes >= DEFERRED_SLICE_BYTES) {
      this.#deferred.add(stream);
      this.#scheduleDeferred();
      return;
    }
    this.#deferred.delete(stream);
    const { nonce, bytes: message } = this.#sharedMessage(body, suspects, current?.version ?? '');
    stream.outstandingNonce = nonce;
    stream.sentVersion = snapshot.version;
    stream.sentSuspects = suspectsVersion;
    stream.sentAtMs = performance.now();
    this.#options.rollout.sent(stream.nodeId, stream.worker, snapshot.versionInfo);
    this.#options.metrics.pushes.inc();
    stream.unflushed = message.length;
    this.#unflushed += message.length;
    if (this.#sliceBytes === 0) setImmediate(() => { this.#sliceBytes = 0; });
    this.#sliceBytes += message.length;
    this.#options.metrics.discoveryUnflushedBytes.set(this.#unflushed);
    stream.slowTimer = setTimeout(() => stream.fail(resourceExhausted(
      `resource exhausted: the discovery stream must read its snapshot within ${this.#slowStreamTimeoutMs} ms`), 'slow_reader'),
    this.#slowStreamTimeoutMs);
    stream.call.write(message, () => this.#release(stream));
  }

  /** The response every stream is sent for the current snapshot body and suspect set (see #messageBySuspects). */
  #sharedMessage(body: Buffer, suspects: SuspectSet | undefined, current: string): { nonce: string; bytes: Buffer } {
    const suspectsVersion = suspects?.version ?? '';
    if (this.#messageEpoch?.body !== body || this.#messageEpoch.current !== current) {
      this.#messageEpoch = { body, current };
      this.#messageBySuspects.clear();
    }
    let message = this.#messageBySuspects.get(suspectsVersion);
    if (message === undefined) {
      const nonce = (++this.#messages).toString(36);
      // Protobuf concatenation merges messages: the shared snapshot body, the suspect set's fields, then the nonce.
      const bytes = frameGrpcMessage([body, this.#suspectsBody(suspects), this.#responseType.encode({ nonce }).finish()]);
      message = { nonce, bytes };
      this.#messageBySuspects.set(suspectsVersion, message);
    }
    return message;
  }

  /**
   * The suspect set's DiscoveryResponse fields, encoded once per set version. It goes out only once there is one, so
   * filters of a control plane without kernel data see the responses they always did. At its cap (1,024 addresses of
   * at most ~50 bytes) it stays inside the 64 KiB LIMITS.maxSendMessageBytes keeps above the largest snapshot.
   */
  #suspectsBody(suspects: SuspectSet | undefined): Buffer {
    const version = suspects?.version ?? '';
    if (version === '') return Buffer.alloc(0);
    if (this.#encodedSuspects?.version !== version) {
      const message = this.#responseType.fromObject({ networkSuspectsVersion: version, networkSuspects: suspects!.addresses });
      this.#encodedSuspects = { version, body: Buffer.from(this.#responseType.encode(message).finish()) };
    }
    return this.#encodedSuspects.body;
  }

  /** The stream's outstanding write left the process (or the stream ended): its bytes return to the budget. */
  #release(stream: StreamState): void {
    clearTimeout(stream.slowTimer);
    stream.slowTimer = undefined;
    if (stream.unflushed === 0) return;
    this.#unflushed -= stream.unflushed;
    stream.unflushed = 0;
    this.#options.metrics.discoveryUnflushedBytes.set(this.#unflushed);
    this.#scheduleDeferred();
  }

  // Sends go out in slices of DEFERRED_SLICE_BYTES per event-loop turn: 64 new streams of a ~1 MB snapshot (or a
  // budget freed at once) would otherwise copy and frame 64 MiB in one turn, and admin writes waited behind it
  // (p99 ~200 ms during the slow-readers flood).
  #scheduleDeferred(): void {
    if (this.#deferredScheduled || this.#deferred.size === 0) return;
    this.#deferredScheduled = true;
    setImmediate(() => {
      this.#deferredScheduled = false;
      if (this.#closed) return;
      const snapshot = this.#options.cache.current();
      for (const waiting of this.#deferred) {
        if (this.#unflushed > 0 && this.#unflushed + this.#options.cache.encoded().length > this.#maxUnflushed) return;
        if (this.#sliceBytes >= DEFERRED_SLICE_BYTES) { this.#scheduleDeferred(); return; }
        this.#maybeSend(waiting, snapshot);
      }
    });
  }
}

