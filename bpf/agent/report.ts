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

/** The plain object proto-loader encodes as meshlens.v1.KernelReport (camelCase fields, enums by name). */
export function toKernelReport(line: IntervalLine, node: NodeIdentity, source: SourceKind, sequence: number, gaps: Gap[]) {
  return {
    node: { nodeName: node.nodeName, agentId: node.agentId, kernelRelease: node.kernelRelease, source: SOURCE_ENUM[source] },
    sequence: String(sequence),
    intervalStartUnixMs: String(line.tsMs - line.intervalMs),
    intervalEndUnixMs: String(line.tsMs),
    flows: line.flows.map((f) => ({
      netns: String(f.netns),
      family: f.family === 4 ? 'ADDRESS_FAMILY_IPV4' : 'ADDRESS_FAMILY_IPV6',
      localAddress: f.laddr, localPort: f.lport, remoteAddress: f.raddr, remotePort: f.rport,
      retransSegs: String(f.retransSegs),
      retransEvents: {
        rto: String(f.events.rto), fast: String(f.events.fast), tlp: String(f.events.tlp),
        syn: String(f.events.syn), other: String(f.events.other),
      },
      segsOut: String(f.segsOut), srttUs: f.srttUs, opened: f.opened, closed: f.closed, durationUs: String(f.durationUs),
    })),
    mapFullDrops: String(line.mapFullDrops),
    evictedFlows: String(line.evictedFlows),
    activeConnections: String(Math.max(0, line.activeConnections)),
    missedEvents: String(line.missedEvents),
    gaps: gaps.map((g) => ({
      reason: GAP_ENUM[g.reason], startUnixMs: String(g.startMs), endUnixMs: String(g.endMs), detail: g.detail,
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
