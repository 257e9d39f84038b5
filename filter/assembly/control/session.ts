// One VM's part in its proxy's connection to the control plane: its identity, its share of the proxy's one
// discovery stream (proxy-share.ts: hold it, or apply what the holder publishes) and the telemetry reporter, driven
// by the root context's on_tick and fed the gRPC call-out and queue callbacks (which Envoy delivers to the root).
// The stream opens on the first tick, not in on_configure: Envoy's canary VM runs on_configure and is destroyed
// right after, and it must not show up in the control plane's rollout as a proxy that connected and vanished.
import {
  drainSharedQueue, getPropertyString, getSharedData, HostStatus, log, LogLevel, nowNanoseconds, propertyPath, setSharedData,
} from "../abi/host";
import { ControlPlaneConfig, FilterConfig, MAX_NODE_ID_LENGTH, MAX_NODE_NAME_LENGTH, NodeConfig } from "../config";
import { REPORTER_SOURCE, REPORTER_WAYPOINT } from "../policy/request-metrics";
import { BreakerPolicy, parsePolicy, ResiliencePolicy } from "../policy/resilience-policy";
import { AdmitResult, Resilience } from "../resilience/resilience";
import { nowMs, ResponseFacts, UPSTREAM_ADDRESS } from "../resilience/filter-glue";
import { JitteredBackoff, Prng } from "./backoff";
import { leaseMsFor } from "./lease";
import { ProxyShare } from "./proxy-share";
import { DiscoveryClient, PolicySink } from "./discovery-client";
import { ControlCounters } from "./metrics";
import { NodeIdentity } from "./protobuf";
import { ValidatedSnapshot } from "./snapshot";
import { TelemetryReporter } from "./telemetry-reporter";
import { RequestOutcome, TelemetryWindow } from "./telemetry-window";

// The proxy's bootstrap Node as current Envoy serves it: `xds.node` is a message whose fields get_property
// traverses (envoyproxy/envoy source/extensions/filters/common/expr/context.cc, XDS lookup `node` →
// CelProtoWrapper::CreateMessage(local_info.node())), answered in the root context since Envoy PR #32077 (1.30).
// The top-level `node` that older filters read is gone from Envoy 1.33 (PR #36619); every supported Envoy
// (1.32 … 1.36) serves xds.node, so there is no fallback to it. Istio puts the workload and namespace in the node
// metadata (WORKLOAD_NAME, NAMESPACE: istio/proxy istio_stats.cc reads the same keys for source_workload*).
const XDS_NODE_ID = propertyPath(["xds", "node", "id"]);
const XDS_NODE_WORKLOAD = propertyPath(["xds", "node", "metadata", "WORKLOAD_NAME"]);
const XDS_NODE_NAMESPACE = propertyPath(["xds", "node", "metadata", "NAMESPACE"]);
// Istio node ids are "<type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>"; waypoints are type "waypoint"
// (istio/istio pkg/model/proxy.go NodeType).
const WAYPOINT_NODE_PREFIX = "waypoint~";
const UPSTREAM_LOCAL_ADDRESS = propertyPath(["upstream", "local_address"]);
const DEFAULT_SLOW_CALL_MS: f64 = new BreakerPolicy().slowCallMs;
const VM_SEQUENCE_KEY = "meshlens.control.v1|vm-sequence";
// Node.worker of the proxy's one stream: rollout has one row per proxy, ACKed when every live VM applies a version.
export const PROXY_WORKER = "proxy";
const MAX_CAS_ATTEMPTS: i32 = 16;

// Envoy tells a VM neither its thread nor whether it is the main thread's, so each VM draws a process-wide sequence
// number from shared data once; it names the VM in logs and NACK reasons ("vm_0", "vm_1", ...) and owns its slot.
let vmSequence: i32 = -1;

function drawVmSequence(): i32 {
  if (vmSequence >= 0) return vmSequence;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = getSharedData(VM_SEQUENCE_KEY);
    let next: u32 = 0;
    const data = current.data;
    if (current.status == HostStatus.Ok && data !== null && data.byteLength == 4) next = load<u32>(changetype<usize>(data));
    const buffer = new ArrayBuffer(4);
    store<u32>(changetype<usize>(buffer), next + 1);
    const status = setSharedData(VM_SEQUENCE_KEY, buffer, current.status == HostStatus.Ok ? current.cas : 0);
    if (status == HostStatus.Ok) {
      vmSequence = <i32>next;
      return vmSequence;
    }
    if (status != HostStatus.CasMismatch) break;
  }
  // Shared data refused: still a usable, if possibly repeated, name.
  vmSequence = 0;
  return vmSequence;
}

// Hands accepted snapshots to Resilience: the pushed policies first, so a pushed "*" policy outranks the plugin
// config's default among equally specific matches, and the default keeps covering whatever the snapshot leaves out.
// Resilience keeps a scope's breaker state when the scope survives the change.
export class ResilienceSink extends PolicySink {
  constructor(private readonly resilience: Resilience, private readonly defaults: Array<ResiliencePolicy>) {
    super();
  }

  apply(snapshot: ValidatedSnapshot): void {
    this.resilience.setPolicies(snapshot.policies.concat(this.defaults));
    const suspects = snapshot.suspects;
    if (suspects !== null) this.resilience.setSuspects(suspects);
  }
}

// Who this proxy is: the plugin config's node section where set, else what Envoy's node says.
export class ResolvedNode {
  constructor(
    public readonly id: string,
    public readonly workload: string,
    public readonly namespace: string,
    public readonly reporter: string,
  ) {}
}

// A served value longer than the config would accept counts as absent: the id and names repeat in every stream
// message and stat name.
function configuredOr(configured: string, path: ArrayBuffer, maxLength: i32): string {
  if (configured.length > 0) return configured;
  const served = getPropertyString(path);
  return served === null || served.length > maxLength ? "" : served;
}

// on_configure (root context): the node identity for discovery and the proxy labels of every metric.
export function resolveNode(config: NodeConfig): ResolvedNode {
  const id = configuredOr(config.id, XDS_NODE_ID, MAX_NODE_ID_LENGTH);
  const reporter = id.startsWith(WAYPOINT_NODE_PREFIX) ? REPORTER_WAYPOINT : REPORTER_SOURCE;
  return new ResolvedNode(id, configuredOr(config.workload, XDS_NODE_WORKLOAD, MAX_NODE_NAME_LENGTH),
    configuredOr(config.namespace, XDS_NODE_NAMESPACE, MAX_NODE_NAME_LENGTH), reporter);
}

export class ControlSession {
  readonly discovery: DiscoveryClient;
  readonly share: ProxyShare;
  reporter: TelemetryReporter | null = null;
  private readonly node: NodeIdentity;
  private readonly counters: ControlCounters;
  private started: bool = false;

  constructor(
    private readonly controlPlane: ControlPlaneConfig,
    nodeIdentity: ResolvedNode,
    private readonly reportIntervalMs: i32,
    private readonly tickMs: i32,
    sink: PolicySink,
    private readonly resilience: Resilience | null = null,
  ) {
    const workload = nodeIdentity.workload.length > 0 && nodeIdentity.namespace.length > 0
      ? nodeIdentity.workload + "." + nodeIdentity.namespace
      : nodeIdentity.workload;
    const node = new NodeIdentity(nodeIdentity.id, workload, PROXY_WORKER);
    const share = new ProxyShare(leaseMsFor(tickMs));
    const counters = new ControlCounters();
    this.node = node;
    this.share = share;
    this.counters = counters;
    this.discovery = new DiscoveryClient(controlPlane.cluster, controlPlane.token, node, sink,
      new JitteredBackoff(new Prng(nowNanoseconds())), counters, share);
  }

  get appliedVersion(): string {
    return this.discovery.appliedVersion;
  }

  // on_configure: a VM that starts while the proxy already runs (a worker replaced under FAIL_RELOAD, a new
  // worker) enforces the proxy's policy from its first request, not from its first tick. Nothing is written.
  adoptPublished(): void {
    const published = this.share.snapshot();
    if (published !== null) this.share.noteFollowed(published.seq, this.discovery.adopt(published.bytes));
  }

  // The VM's first tick or first logged request, whichever comes first (never in the canary, which does neither):
  // from here it has a slot, so the holder waits for it before answering and wakes it on every publish. A worker VM
  // replaced under FAIL_RELOAD serves requests before its first tick.
  private start(nowMs: f64): void {
    this.started = true;
    const sequence = drawVmSequence();
    this.share.name = "vm_" + sequence.toString();
    this.share.owner = <u32>(new Prng(nowNanoseconds() ^ (<u64>sequence << 48)).nextU64() >> 33) + 1;
    const cp = this.controlPlane;
    // The holder closes its window two ticks after the shared boundary (at most a quarter of the interval), by when
    // the other VMs, closing theirs on their first tick past it, have stashed them for this report.
    const settleMs = min(<f64>2 * <f64>this.tickMs, <f64>this.reportIntervalMs / 4);
    this.reporter = new TelemetryReporter(cp.cluster, cp.token, <u32>cp.timeoutMs, <f64>this.reportIntervalMs, this.node,
      new TelemetryWindow(nowMs), this.counters, settleMs);
    this.share.heartbeat(nowMs);
  }

  onTick(nowMs: f64): void {
    if (!this.started) this.start(nowMs);
    const discovery = this.discovery;
    const share = this.share;
    if (!this.follow(nowMs)) share.heartbeat(nowMs);
    const held = share.holding;
    if (share.updateLease(nowMs)) {
      if (!held) log(LogLevel.Info, "meshlens discovery: " + share.name + " holds the proxy's stream");
      discovery.onTick(nowMs);
    } else if (held) {
      log(LogLevel.Info, "meshlens discovery: " + share.name + " no longer holds the proxy's stream");
      discovery.stepDown();
    }
    const reporter = this.reporter;
    if (reporter !== null) reporter.onTick(nowMs, this.appliedVersion, share, this.resilience);
  }

  // Applies a snapshot the holder published since this VM last looked; returns whether its slot was written.
  private follow(nowMs: f64): bool {
    const share = this.share;
    if (share.holding) return false;
    const head = share.headSeq();
    if (head == 0 || head == share.followedSeq) return false;
    const published = share.snapshot();
    if (published === null || published.seq == share.followedSeq) return false;
    share.followed(published.seq, this.discovery.adopt(published.bytes), nowMs);
    return true;
  }

  // proxy_on_queue_ready: a follower was told a snapshot was published, the holder that a VM applied one.
  onQueueReady(queueId: u32, nowMs: f64): void {
    const share = this.share;
    if (!share.owns(queueId)) return;
    drainSharedQueue(queueId);
    if (share.holding) this.discovery.settle(nowMs);
    else this.follow(nowMs);
  }

  record(outcome: RequestOutcome): void {
    if (!this.started) this.start(nowMs());
    const reporter = this.reporter;
    if (reporter !== null) reporter.window.record(outcome);
  }

  recordRejection(cluster: string, pathTemplate: string, tenant: string): void {
    if (!this.started) this.start(nowMs());
    const reporter = this.reporter;
    if (reporter !== null) reporter.window.recordRejection(cluster, pathTemplate, tenant);
  }

  onGrpcReceive(token: u32, size: u32, nowMs: f64): void {
    const discovery = this.discovery;
    if (discovery.owns(token)) {
      discovery.onReceive(token, size, nowMs);
      return;
    }
    const reporter = this.reporter;
    if (reporter !== null) reporter.onReceive(token, size);
  }

  onGrpcClose(token: u32, grpcStatus: u32, nowMs: f64): void {
    const discovery = this.discovery;
    if (discovery.owns(token)) {
      discovery.onClose(token, grpcStatus, nowMs);
      return;
    }
    const reporter = this.reporter;
    if (reporter !== null) reporter.onClose(token, grpcStatus);
  }
}

// on_configure: the session for this root context, or null when the plugin config names no control plane.
export function createControlSession(config: FilterConfig, node: ResolvedNode, resilience: Resilience): ControlSession | null {
  const controlPlane = config.controlPlane;
  if (controlPlane === null) return null;
  // Already validated by the resilience setup in the same on_configure; parsed again for the sink's own copy.
  const defaultJson = config.defaultPolicy;
  let defaultPolicy = new ResiliencePolicy();
  if (defaultJson !== null) {
    const parsed = parsePolicy(defaultJson);
    if (parsed.value !== null) defaultPolicy = parsed.value!;
  }
  const session = new ControlSession(controlPlane, node, config.reportIntervalMs, config.tickMs,
    new ResilienceSink(resilience, [defaultPolicy]), resilience);
  session.adoptPublished();
  return session;
}

// on_log: adds the stream's outcome to the report window, keyed by its route labels and its upstream connection.
// responseCode and durationMs are the values the request metrics already read.
// `facts` were read with the gRPC status (readResponseFacts(true, ...)).
export function recordRequestTelemetry(
  session: ControlSession, cluster: string, pathTemplate: string, tenant: string, responseCode: i64, durationMs: f64,
  admitted: AdmitResult | null, facts: ResponseFacts,
): void {
  if (admitted !== null && admitted.reject) {
    session.recordRejection(cluster, pathTemplate, tenant);
    return;
  }
  const outcome = new RequestOutcome();
  outcome.cluster = cluster;
  outcome.pathTemplate = pathTemplate;
  outcome.tenant = tenant;
  const local = getPropertyString(UPSTREAM_LOCAL_ADDRESS);
  const remote = getPropertyString(UPSTREAM_ADDRESS);
  if (local !== null && remote !== null) {
    outcome.localAddress = local;
    outcome.remoteAddress = remote;
  }
  outcome.responseCode = responseCode < 0 || responseCode > 999 ? 0 : <i32>responseCode;
  outcome.grpcStatus = facts.grpcStatus;
  outcome.responseFlags = facts.flags;
  outcome.fromUpstream = facts.fromUpstream;
  outcome.durationMs = durationMs;
  outcome.attempts = facts.attempts;
  outcome.slowCallMs = DEFAULT_SLOW_CALL_MS;
  if (admitted !== null) {
    const scope = admitted.scope;
    if (scope !== null) outcome.slowCallMs = scope.policy.breaker.slowCallMs;
    outcome.networkSuspect = admitted.networkSuspect;
  }
  session.record(outcome);
}
