// Every bound on what a client (admin or proxy) can make the control plane accept, hold or send, in one table. The
// README's "Limits" section lists the same table; test/control-plane/limits.test.ts checks each row is enforced.
//
// The snapshot bound comes first because everything else is sized under it: a filter VM receives the whole
// snapshot as one gRPC message. The Node host's stream client (@grpc/grpc-js, filter/host/callouts.ts) keeps
// grpc-js's default receive limit of 4 MiB; Envoy's own EnvoyGrpc client has max_receive_message_length
// (envoyproxy/envoy v1.33.0 api/envoy/config/core/v3/grpc_service.proto, field 4) and an operator may set it. A
// snapshot of at most 1 MiB stays a quarter under the host's limit, and the per-policy bounds below make 1,000
// policies of the largest accepted size still fit (checked by the write itself, not assumed).
import { invalidArgument, resourceExhausted } from './errors.ts';

export const LIMITS = {
  /** Encoded DiscoveryResponse body (every policy of the snapshot); a write that would exceed it is refused. */
  maxSnapshotBytes: 1 << 20,
  /** Live policies; the filter refuses a response with more than 4096 resources (filter/assembly/control/protobuf.ts MAX_RESOURCES). */
  maxPolicies: 1000,
  /** target.cluster: an Istio cluster name is "direction|port|subset|host" with a ≤ 253-byte host. */
  maxClusterBytes: 512,
  /** target.pathTemplate. */
  maxPathTemplateBytes: 1024,
  /** retry.retriableStatusCodes entries (the policy model allows 32; duplicates are refused). */
  maxStatusCodes: 32,
  /** Node.id as a proxy sends it: the filter's own bound (filter/assembly/config.ts MAX_NODE_ID_LENGTH). */
  maxNodeIdBytes: 1024,
  /** Node.worker ("main", "worker_0", ...) and Node.cluster. */
  maxWorkerBytes: 64,
  maxNodeClusterBytes: 253,
  /** NACK reason as stored in rollout state and logged; never a metric label. */
  maxNackReasonBytes: 512,
  /** Ids and other client strings quoted in error messages. */
  maxQuotedBytes: 128,
  /** gRPC messages a client may send us (telemetry reports are the largest legitimate ones). */
  maxReceiveMessageBytes: 4 << 20,
  /** gRPC messages we send: the snapshot plus its envelope (version, nonce). */
  maxSendMessageBytes: (1 << 20) + (64 << 10),
  /** HTTP admin request bodies. */
  maxHttpBodyBytes: 1 << 20,
  /** Rollout rows kept (connected ones are never dropped; the oldest disconnected ones go first). */
  maxRolloutRows: 50_000,
  /** How long a disconnected VM's rollout row is kept after its last stream ended. */
  rolloutGraceMs: 10 * 60_000,
  /** Rollout listing page size (default, maximum). */
  defaultPageSize: 500,
  maxPageSize: 1000,
  /** A discovery stream must send its first request within this, or it is closed and counted. */
  firstRequestTimeoutMs: 10_000,
  /** Encoded snapshot bytes queued on slow streams (not yet flushed to the socket) across all streams. */
  maxUnflushedBytes: 64 << 20,
  /**
   * Connections the kernel queues on the gRPC port before the control plane accepts them (the kernel caps it at
   * net.core.somaxconn, 4096 by default since Linux 5.4). A restart brings every filter VM back within the backoff
   * cap; Node's default of 511 overflowed there, and each dropped connection waited for TCP's 1 s / 3 s / 7 s
   * handshake retransmissions.
   */
  grpcListenBacklog: 4096,
  /**
   * Concurrent HTTP/2 streams per connection to the gRPC port (SETTINGS_MAX_CONCURRENT_STREAMS; grpc-js leaves it at
   * Node's 2^32-1 and disables Node's per-session memory cap). One Envoy worker's connection carries its proxy's
   * discovery stream and a report per VM at a time. A client that opens one more loses the connection: nghttp2
   * treats it as a connection error (RFC 9113 §5.1.2 allows it) and Node ends the session with GOAWAY. So one
   * connection cannot hold more streams that never send their first request than this.
   */
  maxStreamsPerConnection: 1000,
  /**
   * Connections accepted on the gRPC port and waiting for their HTTP/2 session (grpc-listener.ts): a reconnect storm
   * waits here rather than in the kernel's queue, which drops handshakes when full. Each holds a socket and the
   * bytes its client sent so far: ~3.8 KiB of RSS measured with 10,000 waiting, so the bound is ~75 MiB, inside the
   * Deployment's 512 Mi beside 10,000 open streams. One more is reset and retried by the filter's backoff.
   */
  maxPendingConnections: 20_000,
} as const;

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A client string quoted in an error message, cut so a 1 MB id cannot make a 1 MB error. */
export function quote(value: string): string {
  const max = LIMITS.maxQuotedBytes;
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} characters)`;
}

/** A string cut to at most `max` UTF-16 units with control characters replaced, for storage and logs. */
export function clip(value: string, max: number): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  return cut.replace(/[\u0000-\u001f\u007f]/g, '?');
}

const byteLength = (value: string) => Buffer.byteLength(value, 'utf8');

interface PolicyShape { target: { cluster: string; pathTemplate: string }; retry: { retriableStatusCodes: number[] } }

/**
 * Admission rules on top of the policy model (policy-model.ts is the filter parser's twin and stays identical to
 * it): a filter would accept these, but they can only be mistakes or attacks. Throws "invalid policy: <field> must <rule>".
 */
export function checkPolicyLimits(policy: PolicyShape): void {
  const { cluster, pathTemplate } = policy.target;
  if (cluster.trim().length === 0) throw invalidArgument('invalid policy: target.cluster must not be blank');
  if (cluster !== cluster.trim()) throw invalidArgument('invalid policy: target.cluster must not start or end with whitespace');
  if (CONTROL.test(cluster)) throw invalidArgument('invalid policy: target.cluster must not contain control characters (newline, NUL, ...)');
  if (byteLength(cluster) > LIMITS.maxClusterBytes) {
    throw invalidArgument(`invalid policy: target.cluster must be at most ${LIMITS.maxClusterBytes} bytes (limit maxClusterBytes)`);
  }
  if (CONTROL.test(pathTemplate)) throw invalidArgument('invalid policy: target.pathTemplate must not contain control characters');
  if (byteLength(pathTemplate) > LIMITS.maxPathTemplateBytes) {
    throw invalidArgument(`invalid policy: target.pathTemplate must be at most ${LIMITS.maxPathTemplateBytes} bytes (limit maxPathTemplateBytes)`);
  }
  const codes = policy.retry.retriableStatusCodes;
  if (codes.length > LIMITS.maxStatusCodes) {
    throw invalidArgument(`invalid policy: retry.retriableStatusCodes must have at most ${LIMITS.maxStatusCodes} entries`);
  }
  const seen = new Set<number>();
  codes.forEach((code, i) => {
    if (seen.has(code)) throw invalidArgument(`invalid policy: retry.retriableStatusCodes[${i}] must not repeat ${code}`);
    seen.add(code);
  });
}

/** Refuses a write whose resulting snapshot would exceed what every filter can receive. */
export function checkSnapshotLimits(policies: number, encodedBytes: number): void {
  if (policies > LIMITS.maxPolicies) {
    throw resourceExhausted(`invalid snapshot: policies must be at most ${LIMITS.maxPolicies} (limit maxPolicies)`);
  }
  if (encodedBytes > LIMITS.maxSnapshotBytes) {
    throw resourceExhausted(`invalid snapshot: encoded size must be at most ${LIMITS.maxSnapshotBytes} bytes ` +
      `(limit maxSnapshotBytes; this write would make it ${encodedBytes})`);
  }
}

export interface NodeIdentity { id: string; worker: string; cluster: string }

const NODE_ID = /^[\x21-\x7e]+$/;          // printable ASCII without spaces: Istio's "type~ip~pod.ns~ns.svc.domain"
const WORKER = /^[A-Za-z0-9_.-]*$/;

/** Validates the node a discovery stream or report names; throws "invalid node: <field> must <rule>". */
export function checkNodeIdentity(node: { id?: string; worker?: string; cluster?: string } | null | undefined): NodeIdentity {
  const id = node?.id ?? '';
  const worker = node?.worker ?? '';
  const cluster = node?.cluster ?? '';
  if (id === '') throw invalidArgument('invalid node: node.id must be set');
  if (id.length > LIMITS.maxNodeIdBytes) throw invalidArgument(`invalid node: node.id must be at most ${LIMITS.maxNodeIdBytes} bytes`);
  if (!NODE_ID.test(id)) throw invalidArgument('invalid node: node.id must be printable ASCII without spaces');
  if (worker.length > LIMITS.maxWorkerBytes || !WORKER.test(worker)) {
    throw invalidArgument(`invalid node: node.worker must match [A-Za-z0-9_.-]{0,${LIMITS.maxWorkerBytes}}`);
  }
  if (byteLength(cluster) > LIMITS.maxNodeClusterBytes || CONTROL.test(cluster)) {
    throw invalidArgument(`invalid node: node.cluster must be at most ${LIMITS.maxNodeClusterBytes} bytes without control characters`);
  }
  return { id, worker, cluster };
}

/** Page size and offset token of a listing; throws "invalid request: <field> must <rule>". */
export function pageOf(pageSize: unknown, pageToken: unknown): { size: number; offset: number } {
  let size: number = LIMITS.defaultPageSize;
  if (pageSize !== undefined && pageSize !== null && pageSize !== '' && pageSize !== 0) {
    const n = typeof pageSize === 'string' && /^[1-9]\d{0,5}$/.test(pageSize) ? Number(pageSize) : pageSize;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.maxPageSize) {
      throw invalidArgument(`invalid request: pageSize must be an integer in [1, ${LIMITS.maxPageSize}]`);
    }
    size = n;
  }
  let offset = 0;
  if (pageToken !== undefined && pageToken !== null && pageToken !== '') {
    if (typeof pageToken !== 'string' || !/^(0|[1-9]\d{0,8})$/.test(pageToken)) {
      throw invalidArgument('invalid request: pageToken must be a token from a previous page');
    }
    offset = Number(pageToken);
  }
  return { size, offset };
}
