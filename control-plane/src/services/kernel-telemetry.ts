// KernelTelemetry.Report (protos/meshlens/v1/kernel.proto, written by the BPF side): per-flow TCP counters from node
// agents, with the proxy identity of each network namespace, validated whole and handed to the correlation windows
// (correlation-windows.ts), where they are joined to filter reports per window.
import * as grpc from '@grpc/grpc-js';
import { authorizationOf, type Authenticator } from '../auth.ts';
import { asControlPlaneError, invalidArgument, permissionDenied, toGrpcStatus } from '../errors.ts';
import type { Logger } from '../logging.ts';
import type { ControlPlaneMetrics } from '../metrics.ts';
import { CONVERSION_OPTIONS, messageType, meshlensGrpc } from '../protos.ts';
import type { CorrelationWindows } from '../correlation-windows.ts';
import type { KernelReport__Output } from '../generated/meshlens/v1/KernelReport.ts';
import { FlowDirection, type FlowDirection__Output } from '../generated/meshlens/v1/FlowDirection.ts';

export interface KernelTelemetryOptions {
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  windows: CorrelationWindows;
  maxFlowsPerReport?: number;      // default 100,000
  maxAgents?: number;              // agents whose last sequence is remembered, default 10,000
  onAccepted?: (bytes: Buffer, metadata: grpc.Metadata) => void; // after the answer, new intervals only: peer replicas
}

export const formatEndpoint = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

export class KernelTelemetryService {
  readonly #options: KernelTelemetryOptions;
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
          const { sequence, accepted, duplicate } = this.ingest(call.request, authorizationOf(call.metadata));
          callback(null, Buffer.from(this.#ackType.encode({ sequence, acceptedFlows: accepted, reportIntervalMs: 0 }).finish()));
          if (!duplicate) this.#options.onAccepted?.(call.request, call.metadata);
        } catch (error) {
          const normalised = asControlPlaneError(error);
          this.#options.metrics.reportsRejected.inc({ source: 'kernel', code: normalised.code });
          callback(toGrpcStatus(normalised));
        }
      },
    });
  }

  ingest(bytes: Uint8Array, authorization: string | undefined): { sequence: string; accepted: number; duplicate?: true } {
    // Kernel reports describe whole hosts: only the unscoped proxy token (the node agent's) may send them.
    if (this.#options.auth.proxy(authorization).scope !== '*') {
      throw permissionDenied('permission denied: kernel reports must be sent with the unscoped proxy token');
    }
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
    if (report.netnsIdentities.length > max) throw invalidArgument(`invalid kernel report: netnsIdentities must be at most ${max}`);
    report.netnsIdentities.forEach((identity, i) => {
      if (!identity.proxyId || identity.proxyId.length > 1024) {
        throw invalidArgument(`invalid kernel report: netnsIdentities[${i}].proxyId must be 1 to 1024 characters`);
      }
    });
    // Retried deliveries of the same interval must not be counted twice.
    const agentKey = `${nodeName}\u0000${report.node?.agentId ?? ''}`;
    const sequence = Number(report.sequence);
    const last = this.#lastSequence.get(agentKey) ?? 0;
    if (sequence !== 0 && sequence <= last) return { sequence: report.sequence, accepted: 0, duplicate: true };
    this.#lastSequence.delete(agentKey);
    if (this.#lastSequence.size >= (this.#options.maxAgents ?? 10_000)) this.#lastSequence.delete(this.#lastSequence.keys().next().value!);
    this.#lastSequence.set(agentKey, sequence);
    this.#options.windows.addKernelReport(nodeName, Number(report.intervalStartUnixMs), Number(report.intervalEndUnixMs),
      report.flows.map((flow) => ({
        netns: Number(flow.netns),
        localAddress: formatEndpoint(flow.localAddress, flow.localPort),
        remoteAddress: formatEndpoint(flow.remoteAddress, flow.remotePort),
        retransSegs: Number(flow.retransSegs), segsOut: Number(flow.segsOut), srttUs: flow.srttUs,
        direction: knownDirection(flow.direction),
      })),
      report.netnsIdentities.map((identity) => ({ netns: Number(identity.netns), proxyId: identity.proxyId })));
    this.#options.metrics.reportsReceived.inc({ source: 'kernel' });
    this.#options.metrics.reportEntries.inc({ source: 'kernel' }, report.flows.length);
    return { sequence: report.sequence, accepted: report.flows.length };
  }
}
// protobufjs hands an enum number this proto does not know through as a number. proto3 enums are open: a newer
// agent's direction is kept as unknown rather than rejecting the report that carries it.
function knownDirection(direction: FlowDirection__Output | number): FlowDirection__Output {
  return typeof direction === 'string' && direction in FlowDirection ? direction : FlowDirection.FLOW_DIRECTION_UNSPECIFIED;
}
