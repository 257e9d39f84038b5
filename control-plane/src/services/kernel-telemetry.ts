// KernelTelemetry.Report (protos/meshlens/v1/kernel.proto, written by the BPF side): per-flow TCP counters from node
// agents. Keeps the latest interval's counters per flow (local ip:port, remote ip:port); correlation with request
// outcomes is a join on that key (see correlations()).
import * as grpc from '@grpc/grpc-js';
import { authorizationOf, type Authenticator } from '../auth.ts';
import { asControlPlaneError, invalidArgument, toGrpcStatus } from '../errors.ts';
import type { Logger } from '../logging.ts';
import type { ControlPlaneMetrics } from '../metrics.ts';
import { CONVERSION_OPTIONS, messageType, meshlensGrpc } from '../protos.ts';
import type { TelemetryStore } from '../telemetry-store.ts';
import type { KernelReport__Output } from '../generated/meshlens/v1/KernelReport.ts';
import { FlowDirection, type FlowDirection__Output } from '../generated/meshlens/v1/FlowDirection.ts';

export interface FlowCounters {
  nodeName: string;
  localAddress: string;        // "ip:port" / "[ip6]:port", the filter's upstream.local_address form
  remoteAddress: string;
  retransSegs: number;
  segsOut: number;
  srttUs: number;
  direction: FlowDirection__Output;
  intervalEndUnixMs: number;
}

export interface Correlation {
  localAddress: string;
  remoteAddress: string;
  cluster: string;
  retransSegs: number;
  segsOut: number;
  requests: number;
  errors: number;
  direction: FlowDirection__Output;
}

export interface KernelTelemetryOptions {
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  maxFlowsPerReport?: number;      // default 100,000
}

export const formatEndpoint = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

export class KernelTelemetryService {
  readonly #options: KernelTelemetryOptions;
  readonly #flows = new Map<string, FlowCounters>();
  readonly #lastSequence = new Map<string, number>();
  readonly #reportType = messageType('KernelReport');
  readonly #ackType = messageType('KernelReportAck');

  constructor(options: KernelTelemetryOptions) {
    this.#options = options;
  }

  addToServer(server: grpc.Server): void {
    const base = meshlensGrpc().KernelTelemetry.service.Report;
    const definition: grpc.ServiceDefinition = {
      Report: { ...base, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: (bytes: Buffer) => bytes },
    };
    server.addService(definition, {
      Report: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        try {
          const { sequence, accepted } = this.ingest(call.request, authorizationOf(call.metadata));
          callback(null, Buffer.from(this.#ackType.encode({ sequence, acceptedFlows: accepted, reportIntervalMs: 0 }).finish()));
        } catch (error) {
          const normalised = asControlPlaneError(error);
          this.#options.metrics.reportsRejected.inc({ source: 'kernel', code: normalised.code });
          callback(toGrpcStatus(normalised));
        }
      },
    });
  }

  ingest(bytes: Uint8Array, authorization: string | undefined): { sequence: string; accepted: number } {
    this.#options.auth.proxy(authorization);
    let report: KernelReport__Output;
    try {
      report = this.#reportType.toObject(this.#reportType.decode(bytes), CONVERSION_OPTIONS) as KernelReport__Output;
    } catch (error) {
      throw invalidArgument(`invalid kernel report: message must be a valid KernelReport (${(error as Error).message})`);
    }
    const nodeName = report.node?.nodeName ?? '';
    if (!nodeName) throw invalidArgument('invalid kernel report: node.nodeName must be set');
    if (Number(report.intervalEndUnixMs) < Number(report.intervalStartUnixMs)) {
      throw invalidArgument('invalid kernel report: intervalEndUnixMs must be >= intervalStartUnixMs');
    }
    const max = this.#options.maxFlowsPerReport ?? 100_000;
    if (report.flows.length > max) throw invalidArgument(`invalid kernel report: flows must be at most ${max}`);
    report.flows.forEach((flow, i) => {
      if (!flow.localAddress || !flow.remoteAddress) throw invalidArgument(`invalid kernel report: flows[${i}] addresses must be set`);
      if (flow.localPort > 65535 || flow.remotePort > 65535) throw invalidArgument(`invalid kernel report: flows[${i}] ports must be <= 65535`);
    });
    // Retried deliveries of the same interval must not be counted twice.
    const agentKey = `${nodeName}\u0000${report.node?.agentId ?? ''}`;
    const sequence = Number(report.sequence);
    const last = this.#lastSequence.get(agentKey) ?? 0;
    if (sequence !== 0 && sequence <= last) return { sequence: report.sequence, accepted: 0 };
    this.#lastSequence.set(agentKey, sequence);
    const end = Number(report.intervalEndUnixMs);
    for (const flow of report.flows) {
      const localAddress = formatEndpoint(flow.localAddress, flow.localPort);
      const remoteAddress = formatEndpoint(flow.remoteAddress, flow.remotePort);
      this.#flows.set(`${localAddress}|${remoteAddress}`, {
        nodeName, localAddress, remoteAddress, retransSegs: Number(flow.retransSegs), segsOut: Number(flow.segsOut),
        srttUs: flow.srttUs, direction: knownDirection(flow.direction), intervalEndUnixMs: end,
      });
    }
    this.#options.metrics.reportsReceived.inc({ source: 'kernel' });
    this.#options.metrics.reportEntries.inc({ source: 'kernel' }, report.flows.length);
    return { sequence: report.sequence, accepted: report.flows.length };
  }

  flows(): IterableIterator<FlowCounters> {
    return this.#flows.values();
  }

  /** Latest kernel counters per flow joined to the latest filter outcomes on the same connection. */
  correlations(telemetry: TelemetryStore): Correlation[] {
    const out: Correlation[] = [];
    for (const flow of this.#flows.values()) {
      const outcome = telemetry.connection(flow.localAddress, flow.remoteAddress);
      out.push({
        localAddress: flow.localAddress, remoteAddress: flow.remoteAddress, cluster: outcome?.cluster ?? '',
        retransSegs: flow.retransSegs, segsOut: flow.segsOut, requests: outcome?.requests ?? 0, errors: outcome?.errors ?? 0,
        direction: flow.direction,
      });
    }
    return out.sort((a, b) => b.retransSegs - a.retransSegs);
  }

  prune(oldestUnixMs: number): void {
    for (const [key, flow] of this.#flows) if (flow.intervalEndUnixMs < oldestUnixMs) this.#flows.delete(key);
  }
}

// protobufjs hands an enum number this proto does not know through as a number. proto3 enums are open: a newer
// agent's direction is kept as unknown rather than rejecting the report that carries it.
function knownDirection(direction: FlowDirection__Output | number): FlowDirection__Output {
  return typeof direction === 'string' && direction in FlowDirection ? direction : FlowDirection.FLOW_DIRECTION_UNSPECIFIED;
}
