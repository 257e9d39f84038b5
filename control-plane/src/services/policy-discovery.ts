// PolicyDiscovery.StreamPolicies: one bidirectional state-of-the-world stream per filter VM, xDS-style. The
// protocol (first request, ACK/NACK by nonce, backpressure: at most one unanswered response per stream, then the
// LATEST snapshot) is specified in protos/meshlens/v1/discovery.proto; this class implements exactly that.
// A snapshot's body is encoded once and shared by every stream; only the nonce is encoded per send.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Authenticator } from '../auth.ts';
import { authorizationOf } from '../auth.ts';
import { invalidArgument, toGrpcStatus } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { nackReasonLabel, type ControlPlaneMetrics } from '../metrics.ts';
import { messageType, meshlensGrpc } from '../protos.ts';
import type { RolloutTracker } from '../rollout.ts';
import type { Snapshot } from '../snapshot.ts';
import type { SnapshotCache } from '../snapshot-cache.ts';
import type { NetworkSuspects, SuspectSet } from '../network-suspects.ts';
import type { DiscoveryRequest__Output } from '../generated/meshlens/v1/DiscoveryRequest.ts';

export interface PolicyDiscoveryOptions {
  cache: SnapshotCache;
  rollout: RolloutTracker;
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  now?: () => number;                                  // wall clock for rollout timestamps
  suspects?: NetworkSuspects;                          // pushed with every response, resent when it changes
  onAck?: (nodeId: string, worker: string, version: string) => void;
  onNack?: (nodeId: string, worker: string, version: string, reason: string) => void;
}

type DiscoveryCall = grpc.ServerDuplexStream<Buffer, Buffer>;

interface StreamState {
  id: number;
  call: DiscoveryCall;
  nodeId: string;
  worker: string;
  sentVersion: number;          // last snapshot version sent or reported by the VM on connect; -1 none
  sentSuspects: string;         // network-suspect set version sent or reported on connect
  outstandingNonce: string;     // "" when the stream is free
  sentAtMs: number;             // performance.now() of the outstanding send
  nonceCounter: number;
}

export class PolicyDiscoveryService {
  readonly #options: PolicyDiscoveryOptions;
  readonly #now: () => number;
  readonly #streams = new Set<StreamState>();
  readonly #requestType = messageType('DiscoveryRequest');
  readonly #responseType = messageType('DiscoveryResponse');
  #encoded: { version: number; suspects: string; body: Buffer } | undefined;
  #unwatchSuspects: () => void;
  #unwatch: () => void;
  #streamIds = 0;

  constructor(options: PolicyDiscoveryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#unwatch = options.cache.watch((snapshot) => this.#pushAll(snapshot));
    this.#unwatchSuspects = options.suspects?.watch(() => this.#pushAll(options.cache.current())) ?? (() => {});
  }

  addToServer(server: grpc.Server): void {
    const base = meshlensGrpc().PolicyDiscovery.service.StreamPolicies;
    // Raw Buffers both ways: requests are decoded here so a malformed one ends the stream with INVALID_ARGUMENT,
    // responses are pre-encoded per snapshot.
    const definition: grpc.ServiceDefinition = {
      StreamPolicies: {
        ...base,
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (bytes: Buffer) => bytes,
      },
    };
    server.addService(definition, { StreamPolicies: (call: DiscoveryCall) => this.#handle(call) });
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Ends every stream with UNAVAILABLE (graceful shutdown: filters reconnect elsewhere or later). */
  close(): void {
    this.#unwatch();
    this.#unwatchSuspects();
    for (const stream of this.#streams) {
      stream.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control plane shutting down' });
    }
  }

  #handle(call: DiscoveryCall): void {
    const { auth, metrics, logger, rollout } = this.#options;
    try {
      auth.proxy(authorizationOf(call.metadata));
    } catch (error) {
      call.emit('error', toGrpcStatus(error));
      return;
    }
    let stream: StreamState | undefined;
    let ended = false;
    const fail = (error: unknown) => {
      if (ended) return;
      ended = true;
      finish();
      call.emit('error', toGrpcStatus(error));
    };
    const finish = () => {
      if (!stream || !this.#streams.delete(stream)) return;
      metrics.connectedProxies.dec();
      rollout.closed(stream.nodeId, stream.worker);
    };
    call.on('data', (bytes: Buffer) => {
      if (ended) return;
      let request: DiscoveryRequest__Output;
      try {
        // Plain decode (no toObject): this runs once per ACK, 10,000 times per change at scale. Absent fields read
        // as the prototype defaults ("" and null), which is all the protocol needs.
        request = this.#requestType.decode(bytes) as unknown as DiscoveryRequest__Output;
      } catch (error) {
        fail(invalidArgument(`invalid discovery request: message must be a valid DiscoveryRequest (${(error as Error).message})`));
        return;
      }
      if (!stream) {
        const nodeId = request.node?.id ?? '';
        if (nodeId === '') {
          fail(invalidArgument('invalid discovery request: node.id must be set on the first request'));
          return;
        }
        const reported = /^\d+$/.test(request.versionInfo) ? Number(request.versionInfo) : -1;
        stream = {
          id: ++this.#streamIds, call, nodeId, worker: request.node?.worker ?? '', sentVersion: reported, outstandingNonce: '', sentAtMs: 0,
          nonceCounter: 0, sentSuspects: request.networkSuspectsVersion ?? '',
        };
        this.#streams.add(stream);
        metrics.connectedProxies.inc();
        rollout.opened(nodeId, stream.worker);
        if (reported >= 0) rollout.acked(nodeId, stream.worker, request.versionInfo, this.#now());
        rollout.suspectsApplied(nodeId, stream.worker, stream.sentSuspects);
        logger.debug('discovery stream opened', { node: nodeId, worker: stream.worker, version: request.versionInfo });
        this.#maybeSend(stream, this.#options.cache.current());
        return;
      }
      this.#answer(stream, request);
    });
    call.on('end', () => { if (!ended) { ended = true; finish(); call.end(); } });
    call.on('cancelled', () => { ended = true; finish(); });
    call.on('error', () => { ended = true; finish(); });
  }

  #answer(stream: StreamState, request: DiscoveryRequest__Output): void {
    if (stream.outstandingNonce === '' || request.responseNonce !== stream.outstandingNonce) return;   // stale
    const { metrics, rollout, logger } = this.#options;
    stream.outstandingNonce = '';
    const sentVersion = String(stream.sentVersion);
    if (request.errorDetail) {
      const reason = request.errorDetail.message || `code ${request.errorDetail.code}`;
      metrics.nacks.inc({ reason: nackReasonLabel(reason) });
      rollout.nacked(stream.nodeId, stream.worker, sentVersion, reason, this.#now());
      logger.warn('policy snapshot rejected', { node: stream.nodeId, worker: stream.worker, version: sentVersion, reason });
      this.#options.onNack?.(stream.nodeId, stream.worker, sentVersion, reason);
    } else {
      metrics.pushToAck.observe((performance.now() - stream.sentAtMs) / 1000);
      rollout.acked(stream.nodeId, stream.worker, request.versionInfo, this.#now());
      rollout.suspectsApplied(stream.nodeId, stream.worker, request.networkSuspectsVersion ?? '');
      this.#options.onAck?.(stream.nodeId, stream.worker, request.versionInfo);
    }
    this.#maybeSend(stream, this.#options.cache.current());
  }

  #pushAll(snapshot: Snapshot): void {
    for (const stream of this.#streams) this.#maybeSend(stream, snapshot);
  }

  #maybeSend(stream: StreamState, snapshot: Snapshot): void {
    const suspects = this.#options.suspects?.current();
    const suspectsVersion = suspects?.version ?? '';
    if (stream.outstandingNonce !== '' || (stream.sentVersion === snapshot.version && stream.sentSuspects === suspectsVersion)) return;
    const nonce = `${stream.id.toString(36)}.${(++stream.nonceCounter).toString(36)}`;
    stream.outstandingNonce = nonce;
    stream.sentVersion = snapshot.version;
    stream.sentSuspects = suspectsVersion;
    stream.sentAtMs = performance.now();
    this.#options.rollout.sent(stream.nodeId, stream.worker, snapshot.versionInfo);
    this.#options.metrics.pushes.inc();
    stream.call.write(Buffer.concat([this.#body(snapshot, suspects), this.#responseType.encode({ nonce }).finish()]));
  }

  /**
   * Fields 1, 2 and 4 of the DiscoveryResponse, encoded once per (snapshot, suspect set) (protobuf concatenation
   * merges messages). The suspect set goes out only once there is one, so filters of a control plane without kernel
   * data see the responses they always did.
   */
  #body(snapshot: Snapshot, suspects: SuspectSet | undefined): Buffer {
    const suspectsVersion = suspects?.version ?? '';
    if (this.#encoded?.version !== snapshot.version || this.#encoded.suspects !== suspectsVersion) {
      const message = this.#responseType.fromObject({
        versionInfo: snapshot.versionInfo,
        resources: snapshot.entries.map((entry) => ({ id: entry.id, version: entry.version, policy: entry.policy })),
        ...(suspectsVersion === '' ? {} : { networkSuspectsVersion: suspectsVersion, networkSuspects: suspects!.addresses }),
      });
      this.#encoded = { version: snapshot.version, suspects: suspectsVersion, body: Buffer.from(this.#responseType.encode(message).finish()) };
    }
    return this.#encoded.body;
  }
}
