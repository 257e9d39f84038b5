// The client side of meshlens.v1.PolicyDiscovery/StreamPolicies (protocol: protos/meshlens/v1/discovery.proto),
// one stream per proxy over proxy_grpc_stream to the Envoy cluster named in the plugin config, held by the VM that
// holds the proxy's lease (proxy-share.ts). Every response is answered with exactly one request echoing its nonce:
// ACK (its version) once every live VM of the proxy applied it, NACK (the version still enforced, error_detail code
// 3 and the validation message) when this VM or any live VM refused it. When the stream fails the proxy keeps
// enforcing its last accepted policies and the holder reconnects with jittered exponential backoff, driven by
// on_tick. The other VMs apply the snapshots the holder publishes (adopt()).
// Call-out callbacks arrive on the root context (proxy-wasm-envoy.md §9); the root forwards those whose token
// owns() recognises.
import {
  BufferType, getBufferBytes, getStatus, grpcCancel, grpcSend, grpcStream, HostStatus, log, LogLevel,
} from "../abi/host";
import { JitteredBackoff } from "./backoff";
import {
  ControlCounters, DISCOVERY_ACKS_TOTAL, DISCOVERY_MALFORMED_TOTAL, DISCOVERY_NACKS_TOTAL, DISCOVERY_STREAM_FAILURES_TOTAL,
  DISCOVERY_STREAMS_OPENED_TOTAL,
} from "./metrics";
import { decodeDiscoveryResponse, encodeDiscoveryRequest, GRPC_INVALID_ARGUMENT, NodeIdentity } from "./protobuf";
import { VERDICT_APPLIED, VERDICT_REJECTED } from "./lease";
import { ProxyShare } from "./proxy-share";
import { validateSnapshot, ValidatedSnapshot } from "./snapshot";

export const DISCOVERY_SERVICE = "meshlens.v1.PolicyDiscovery";
export const DISCOVERY_METHOD = "StreamPolicies";

// Receives every accepted snapshot; the root context hands it to the Resilience object.
export class PolicySink {
  apply(snapshot: ValidatedSnapshot): void {}
}

export class DiscoveryClient {
  // Token of the open stream; 0 while disconnected.
  private token: u32 = 0;
  private nextAttemptMs: f64 = 0;
  private sentNode: bool = false;
  // Snapshot version in force ("" while only the plugin config's default policy is).
  appliedVersion: string = "";
  // Version of the network-suspect set in force ("" while none), echoed in every request like appliedVersion.
  appliedSuspectsVersion: string = "";
  // The response applied and published, answered once every live VM applied it ("" nonce: none waiting).
  private pendingNonce: string = "";
  private pendingVersion: string = "";
  private pendingSeq: u32 = 0;
  private previousVersion: string = "";

  constructor(
    private readonly cluster: string,
    private readonly bearerToken: string,
    private readonly node: NodeIdentity,
    private readonly sink: PolicySink,
    private readonly backoff: JitteredBackoff,
    private readonly counters: ControlCounters,
    private readonly share: ProxyShare,
  ) {}

  owns(token: u32): bool {
    return token != 0 && token == this.token;
  }

  // Called on the holder's ticks only.
  onTick(nowMs: f64): void {
    if (this.token == 0 && nowMs >= this.nextAttemptMs) this.connect(nowMs);
    else this.settle(nowMs);
  }

  // This VM lost the lease: the new holder opens its own stream.
  stepDown(): void {
    if (this.token != 0) grpcCancel(this.token);
    this.token = 0;
    this.pendingNonce = "";
    this.nextAttemptMs = 0;
  }

  // Answers the outstanding response once the proxy's VMs settled on it.
  settle(nowMs: f64): void {
    if (this.token == 0 || this.pendingNonce.length == 0) return;
    const verdict = this.share.verdict(this.pendingSeq, nowMs);
    if (verdict.state == VERDICT_APPLIED) {
      this.counters.add(DISCOVERY_ACKS_TOTAL);
      const nonce = this.pendingNonce;
      this.pendingNonce = "";
      if (!this.send(this.pendingVersion, nonce, null)) this.abandon(nowMs);
    } else if (verdict.state == VERDICT_REJECTED) {
      this.counters.add(DISCOVERY_NACKS_TOTAL);
      log(LogLevel.Warn, "meshlens discovery: snapshot " + this.pendingVersion + " refused by " + verdict.reason);
      const nonce = this.pendingNonce;
      this.pendingNonce = "";
      if (!this.send(this.previousVersion, nonce, verdict.reason)) this.abandon(nowMs);
    }
  }

  // A VM that does not hold the stream applies a snapshot the holder published: "" when applied, else why not.
  adopt(bytes: Uint8Array): string {
    const response = decodeDiscoveryResponse(bytes);
    const snapshot = validateSnapshot(response);
    if (snapshot.error.length > 0) {
      this.logRejected(response.versionInfo, snapshot);
      return snapshot.error;
    }
    this.enforce(snapshot);
    return "";
  }

  private logRejected(version: string, snapshot: ValidatedSnapshot): void {
    log(LogLevel.Warn, "meshlens discovery: rejected snapshot " + version +
      (snapshot.rejectedId.length > 0 ? " (policy " + snapshot.rejectedId + ")" : "") + ": " + snapshot.error +
      "; still enforcing " + (this.appliedVersion.length > 0 ? this.appliedVersion : "the default policy"));
  }

  private enforce(snapshot: ValidatedSnapshot): void {
    this.sink.apply(snapshot);
    if (snapshot.suspects !== null) this.appliedSuspectsVersion = snapshot.suspectsVersion;
    // A new suspect set comes with the same policies at every correlation window: only a policy change is logged.
    if (snapshot.version != this.appliedVersion) {
      log(LogLevel.Info, "meshlens discovery: enforcing snapshot " + snapshot.version + " (" +
        snapshot.policies.length.toString() + " policies)");
    }
    this.appliedVersion = snapshot.version;
  }

  private connect(nowMs: f64): void {
    const metadata = new Array<string>();
    if (this.bearerToken.length > 0) {
      metadata.push("authorization");
      metadata.push("Bearer " + this.bearerToken);
    }
    const opened = grpcStream(this.cluster, DISCOVERY_SERVICE, DISCOVERY_METHOD, metadata);
    if (opened.status != HostStatus.Ok) {
      log(LogLevel.Warn, "meshlens discovery: cannot open a stream to cluster " + this.cluster + " (status " +
        (<i32>opened.status).toString() + ")");
      this.scheduleReconnect(nowMs);
      return;
    }
    this.token = opened.token;
    this.sentNode = false;
    this.pendingNonce = "";
    this.counters.add(DISCOVERY_STREAMS_OPENED_TOTAL);
    // The version the proxy enforces: this VM's, if every live VM applied it too (a holder that just took over may
    // find one still behind); else none, and the control plane sends the snapshot again.
    const share = this.share;
    const settled = share.followedSeq == 0 || share.verdict(share.followedSeq, nowMs).state == VERDICT_APPLIED;
    if (!this.send(settled ? this.appliedVersion : "", "", null)) this.abandon(nowMs);
  }

  private send(versionInfo: string, nonce: string, errorMessage: string | null): bool {
    // The stream's node is fixed by its first request; later requests may omit it.
    const request = encodeDiscoveryRequest(
      versionInfo, this.sentNode ? null : this.node, nonce, GRPC_INVALID_ARGUMENT, errorMessage, this.appliedSuspectsVersion);
    const sent = grpcSend(this.token, request, false) == HostStatus.Ok;
    if (sent) this.sentNode = true;
    return sent;
  }

  private abandon(nowMs: f64): void {
    grpcCancel(this.token);
    this.token = 0;
    this.pendingNonce = "";
    this.counters.add(DISCOVERY_STREAM_FAILURES_TOTAL);
    this.scheduleReconnect(nowMs);
  }

  private scheduleReconnect(nowMs: f64): void {
    this.nextAttemptMs = nowMs + this.backoff.nextDelayMs();
  }

  onReceive(token: u32, size: u32, nowMs: f64): void {
    if (!this.owns(token)) return;
    const bytes = getBufferBytes(BufferType.GrpcReceiveBuffer, 0, size);
    const response = decodeDiscoveryResponse(Uint8Array.wrap(bytes.data));
    if (response.nonce.length == 0) {
      // Without its nonce the response cannot be answered; a fresh stream gets a fresh, whole snapshot.
      this.counters.add(DISCOVERY_MALFORMED_TOTAL);
      const reason = response.error.length > 0 ? response.error : "invalid discovery response: nonce must be set";
      log(LogLevel.Error, "meshlens discovery: " + reason + "; reconnecting");
      this.abandon(nowMs);
      return;
    }
    // Like Envoy's xDS client: only a well-formed response proves the stream healthy and resets the backoff (a
    // control plane that refuses the token or closes at once keeps the delays growing).
    this.backoff.reset();
    const snapshot = validateSnapshot(response);
    if (snapshot.error.length > 0) {
      // Every VM runs this same module on these same bytes: nothing to publish, the proxy refuses it as a whole.
      this.counters.add(DISCOVERY_NACKS_TOTAL);
      this.logRejected(response.versionInfo, snapshot);
      this.pendingNonce = "";
      if (!this.send(this.appliedVersion, response.nonce, snapshot.error)) this.abandon(nowMs);
      return;
    }
    this.previousVersion = this.appliedVersion;
    this.enforce(snapshot);
    this.pendingSeq = this.share.publish(bytes.data, nowMs);
    this.pendingVersion = snapshot.version;
    this.pendingNonce = response.nonce;
    this.settle(nowMs);
  }

  onClose(token: u32, grpcStatus: u32, nowMs: f64): void {
    if (!this.owns(token)) return;
    const status = getStatus();
    this.token = 0;
    this.pendingNonce = "";
    this.counters.add(DISCOVERY_STREAM_FAILURES_TOTAL);
    this.scheduleReconnect(nowMs);
    log(LogLevel.Warn, "meshlens discovery: stream closed with gRPC status " + grpcStatus.toString() +
      (status.message.length > 0 ? " (" + status.message + ")" : "") + "; enforcing " +
      (this.appliedVersion.length > 0 ? "snapshot " + this.appliedVersion : "the default policy") +
      ", reconnecting in " + (<i64>(this.nextAttemptMs - nowMs)).toString() + " ms");
  }
}
