// KernelReport construction and delivery over gRPC (protos/meshlens/v1/kernel.proto).
import * as grpc from '@grpc/grpc-js';
import { messageType, protoRoot } from '../../control-plane/src/protos.ts';
import type { FlowDirection, IntervalLine } from './ndjson.ts';
import type { Gap, SourceKind } from './sources.ts';
import type { IdentitySourceKind, NetnsIdentity } from './netns-identity.ts';

export interface NodeIdentity {
  nodeName: string;
  agentId: string;
  kernelRelease: string;
}

// protobufjs encodes enums from their numbers; these come from kernel.proto itself so the two cannot drift.
const enumNumbers = <K extends string>(enumName: string, names: Record<K, string>): Record<K, number> => {
  const values = protoRoot().lookupEnum(`meshlens.v1.${enumName}`).values;
  return Object.fromEntries(Object.entries(names).map(([key, name]) => [key, values[name as string]!])) as Record<K, number>;
};
const SOURCE_ENUM = enumNumbers<SourceKind>('KernelSource', {
  bpf: 'KERNEL_SOURCE_BPF', ss: 'KERNEL_SOURCE_SS', replay: 'KERNEL_SOURCE_REPLAY',
});
const FAMILY_ENUM = enumNumbers<'4' | '6'>('AddressFamily', { 4: 'ADDRESS_FAMILY_IPV4', 6: 'ADDRESS_FAMILY_IPV6' });
const DIRECTION_ENUM = enumNumbers<FlowDirection>('FlowDirection', {
  outbound: 'FLOW_DIRECTION_OUTBOUND', inbound: 'FLOW_DIRECTION_INBOUND', unknown: 'FLOW_DIRECTION_UNSPECIFIED',
});
const IDENTITY_SOURCE_ENUM = enumNumbers<IdentitySourceKind>('IdentitySource', {
  config: 'IDENTITY_SOURCE_CONFIG', env_node_id: 'IDENTITY_SOURCE_ENV_NODE_ID', env_istio: 'IDENTITY_SOURCE_ENV_ISTIO',
});
const GAP_ENUM = enumNumbers<Gap['reason']>('GapReason', {
  loader_exited: 'GAP_REASON_LOADER_EXITED', bad_output: 'GAP_REASON_BAD_OUTPUT',
  report_dropped: 'GAP_REASON_REPORT_DROPPED', source_changed: 'GAP_REASON_SOURCE_CHANGED',
});

/** The plain object protobufjs encodes as meshlens.v1.KernelReport (camelCase fields, enums by number). 64-bit fields
 * are passed as numbers (all below 2^53): protobufjs writes a number directly, a string only after parsing it into a
 * Long, which was the agent's largest per-flow cost in a 400-connection retransmit storm. */
export function toKernelReport(line: IntervalLine, node: NodeIdentity, source: SourceKind, sequence: number, gaps: Gap[],
  identities: readonly NetnsIdentity[] = []) {
  return {
    node: { nodeName: node.nodeName, agentId: node.agentId, kernelRelease: node.kernelRelease, source: SOURCE_ENUM[source] },
    sequence,
    intervalStartUnixMs: line.tsMs - line.intervalMs,
    intervalEndUnixMs: line.tsMs,
    flows: line.flows.map((f) => ({
      netns: f.netns,
      family: FAMILY_ENUM[f.family],
      localAddress: f.laddr, localPort: f.lport, remoteAddress: f.raddr, remotePort: f.rport,
      retransSegs: f.retransSegs,
      retransEvents: f.events,
      segsOut: f.segsOut, srttUs: f.srttUs, opened: f.opened, closed: f.closed, durationUs: f.durationUs,
      direction: DIRECTION_ENUM[f.direction],
    })),
    mapFullDrops: line.mapFullDrops,
    evictedFlows: line.evictedFlows,
    activeConnections: Math.max(0, line.activeConnections),
    missedEvents: line.missedEvents,
    gaps: gaps.map((g) => ({
      reason: GAP_ENUM[g.reason], startUnixMs: g.startMs, endUnixMs: g.endMs, detail: g.detail,
    })),
    netnsIdentities: identities.map((i) => ({ netns: i.netns, proxyId: i.proxyId, source: IDENTITY_SOURCE_ENUM[i.source] })),
  };
}

export type KernelReportMessage = ReturnType<typeof toKernelReport>;

export interface KernelReportAck {
  sequence: string;
  acceptedFlows: number;
  reportIntervalMs: number;
}

const REPORT_METHOD = '/meshlens.v1.KernelTelemetry/Report';

export interface KernelReporterOptions {
  /** the control plane's proxy bearer token, sent as `authorization: Bearer <token>` on every report */
  token?: string;
  deadlineMs?: number;
}

/**
 * Unary KernelTelemetry.Report client with a per-call deadline. It encodes with the protobufjs types straight from
 * the plain message instead of going through proto-loader's serializer, whose `fromObject` copy of every flow cost
 * as much as the encoding itself in a retransmit storm.
 */
export class KernelReporter {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  private readonly deadlineMs: number;
  private readonly serialize: (message: KernelReportMessage) => Buffer;
  private readonly deserialize: (bytes: Buffer) => KernelReportAck;

  constructor(address: string, options: KernelReporterOptions = {}) {
    this.deadlineMs = options.deadlineMs ?? 5000;
    if (options.token) this.metadata.set('authorization', `Bearer ${options.token}`);
    const Report = messageType('KernelReport');
    const Ack = messageType('KernelReportAck');
    this.serialize = (message) => {
      const bytes = Report.encode(message).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    this.deserialize = (bytes) => Ack.toObject(Ack.decode(bytes), { longs: String, defaults: true }) as KernelReportAck;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  report(message: KernelReportMessage): Promise<KernelReportAck> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(REPORT_METHOD, this.serialize, this.deserialize, message, this.metadata,
        { deadline: Date.now() + this.deadlineMs }, (err, ack) => (err ? reject(err) : resolve(ack!)));
    });
  }

  close(): void {
    this.client.close();
  }
}
