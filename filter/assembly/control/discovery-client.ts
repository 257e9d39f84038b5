// The client side of meshlens.v1.PolicyDiscovery/StreamPolicies (protocol: protos/meshlens/v1/discovery.proto),
// one stream per VM over proxy_grpc_stream to the Envoy cluster named in the plugin config. Every response is
// answered with exactly one request echoing its nonce: ACK (its version, after applying it) or NACK (the version
// still enforced, error_detail code 3 and the validation message). When the stream fails the VM keeps enforcing
// its last accepted policies and reconnects with jittered exponential backoff, driven by on_tick.
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

  constructor(
    private readonly cluster: string,
    private readonly bearerToken: string,
    private readonly node: NodeIdentity,
    private readonly sink: PolicySink,
    private readonly backoff: JitteredBackoff,
    private readonly counters: ControlCounters,
  ) {}

  owns(token: u32): bool {
    return token != 0 && token == this.token;
  }

  onTick(nowMs: f64): void {
    if (this.token == 0 && nowMs >= this.nextAttemptMs) this.connect(nowMs);
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
    this.counters.add(DISCOVERY_STREAMS_OPENED_TOTAL);
    if (!this.send(this.appliedVersion, "", null)) this.abandon(nowMs);
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
      this.counters.add(DISCOVERY_NACKS_TOTAL);
      log(LogLevel.Warn, "meshlens discovery: rejected snapshot " + response.versionInfo +
        (snapshot.rejectedId.length > 0 ? " (policy " + snapshot.rejectedId + ")" : "") + ": " + snapshot.error +
        "; still enforcing " + (this.appliedVersion.length > 0 ? this.appliedVersion : "the default policy"));
      if (!this.send(this.appliedVersion, response.nonce, snapshot.error)) this.abandon(nowMs);
      return;
    }
    this.sink.apply(snapshot);
    if (snapshot.suspects !== null) this.appliedSuspectsVersion = snapshot.suspectsVersion;
    this.counters.add(DISCOVERY_ACKS_TOTAL);
    // A new suspect set comes with the same policies at every correlation window: only a policy change is logged.
    if (snapshot.version != this.appliedVersion) {
      log(LogLevel.Info, "meshlens discovery: enforcing snapshot " + snapshot.version + " (" +
        snapshot.policies.length.toString() + " policies)");
    }
    this.appliedVersion = snapshot.version;
    if (!this.send(snapshot.version, response.nonce, null)) this.abandon(nowMs);
  }

  onClose(token: u32, grpcStatus: u32, nowMs: f64): void {
    if (!this.owns(token)) return;
    const status = getStatus();
    this.token = 0;
    this.counters.add(DISCOVERY_STREAM_FAILURES_TOTAL);
    this.scheduleReconnect(nowMs);
    log(LogLevel.Warn, "meshlens discovery: stream closed with gRPC status " + grpcStatus.toString() +
      (status.message.length > 0 ? " (" + status.message + ")" : "") + "; enforcing " +
      (this.appliedVersion.length > 0 ? "snapshot " + this.appliedVersion : "the default policy") +
      ", reconnecting in " + (<i64>(this.nextAttemptMs - nowMs)).toString() + " ms");
  }
}
