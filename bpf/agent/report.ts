// KernelReport construction and delivery over gRPC (protos/meshlens/v1/kernel.proto).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { IntervalLine } from './ndjson.ts';
import type { Gap, SourceKind } from './sources.ts';

export const PROTO_ROOT = fileURLToPath(new URL('../../protos', import.meta.url));
export const KERNEL_PROTO = 'meshlens/v1/kernel.proto';

export function loadKernelPackage(): grpc.GrpcObject {
  const definition = protoLoader.loadSync(KERNEL_PROTO, {
    includeDirs: [PROTO_ROOT], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

export interface NodeIdentity {
  nodeName: string;
  agentId: string;
  kernelRelease: string;
}

const SOURCE_ENUM: Record<SourceKind, string> = {
  bpf: 'KERNEL_SOURCE_BPF', ss: 'KERNEL_SOURCE_SS', replay: 'KERNEL_SOURCE_REPLAY',
};

const GAP_ENUM: Record<Gap['reason'], string> = {
  loader_exited: 'GAP_REASON_LOADER_EXITED', bad_output: 'GAP_REASON_BAD_OUTPUT',
  report_dropped: 'GAP_REASON_REPORT_DROPPED', source_changed: 'GAP_REASON_SOURCE_CHANGED',
};

/** The plain object proto-loader encodes as meshlens.v1.KernelReport (camelCase fields, enums by name). 64-bit fields
 * are passed as numbers (all below 2^53): protobufjs encodes a number directly, a string only after parsing it into a
 * Long, which was the agent's largest per-flow cost in a 400-connection retransmit storm. */
export function toKernelReport(line: IntervalLine, node: NodeIdentity, source: SourceKind, sequence: number, gaps: Gap[]) {
  return {
    node: { nodeName: node.nodeName, agentId: node.agentId, kernelRelease: node.kernelRelease, source: SOURCE_ENUM[source] },
    sequence,
    intervalStartUnixMs: line.tsMs - line.intervalMs,
    intervalEndUnixMs: line.tsMs,
    flows: line.flows.map((f) => ({
      netns: f.netns,
      family: f.family === 4 ? 'ADDRESS_FAMILY_IPV4' : 'ADDRESS_FAMILY_IPV6',
      localAddress: f.laddr, localPort: f.lport, remoteAddress: f.raddr, remotePort: f.rport,
      retransSegs: f.retransSegs,
      retransEvents: {
        rto: f.events.rto, fast: f.events.fast, tlp: f.events.tlp,
        syn: f.events.syn, other: f.events.other,
      },
      segsOut: f.segsOut, srttUs: f.srttUs, opened: f.opened, closed: f.closed, durationUs: f.durationUs,
    })),
    mapFullDrops: line.mapFullDrops,
    evictedFlows: line.evictedFlows,
    activeConnections: Math.max(0, line.activeConnections),
    missedEvents: line.missedEvents,
    gaps: gaps.map((g) => ({
      reason: GAP_ENUM[g.reason], startUnixMs: g.startMs, endUnixMs: g.endMs, detail: g.detail,
    })),
  };
}

export type KernelReportMessage = ReturnType<typeof toKernelReport>;

export interface KernelReportAck {
  sequence: string;
  acceptedFlows: number;
  reportIntervalMs: number;
}

/** Unary KernelTelemetry.Report client with a per-call deadline. */
export class KernelReporter {
  private readonly client: grpc.Client & Record<string, Function>;
  constructor(address: string, private readonly deadlineMs = 5000) {
    const pkg = loadKernelPackage() as any;
    this.client = new pkg.meshlens.v1.KernelTelemetry(address, grpc.credentials.createInsecure());
  }

  report(message: KernelReportMessage): Promise<KernelReportAck> {
    return new Promise((resolve, reject) => {
      this.client.Report(message, { deadline: Date.now() + this.deadlineMs }, (err: grpc.ServiceError | null, ack: KernelReportAck) =>
        err ? reject(err) : resolve(ack));
    });
  }

  close(): void {
    this.client.close();
  }
}
