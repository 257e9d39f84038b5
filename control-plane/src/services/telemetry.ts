// Telemetry.Report: per-interval outcome reports from filters (one per proxy, every VM's window in it). Requests are decoded here (raw-buffer deserializer) so
// that malformed bytes get INVALID_ARGUMENT rather than a generic INTERNAL, and a report is validated completely
// before any of it is recorded (all or nothing).
import * as grpc from '@grpc/grpc-js';
import { authorizationOf, authorizeNode, type Authenticator } from '../auth.ts';
import { checkNodeIdentity } from '../limits.ts';
import { invalidArgument, toGrpcStatus, asControlPlaneError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import type { ControlPlaneMetrics, CorrelationExporter } from '../metrics.ts';
import { CONVERSION_OPTIONS, messageType, meshlensGrpc } from '../protos.ts';
import type { TelemetryStore } from '../telemetry-store.ts';
import type { BreakerStates } from '../breaker-states.ts';
import { MAX_ROUTES_PER_CONNECTION, type CorrelationWindows } from '../correlation-windows.ts';
import { DURATION_BUCKET_COUNT } from '../telemetry-store.ts';
import type { TelemetryReport__Output } from '../generated/meshlens/v1/TelemetryReport.ts';
import type { OutcomeCounters__Output } from '../generated/meshlens/v1/OutcomeCounters.ts';

export interface TelemetryServiceOptions {
  store: TelemetryStore;
  windows?: CorrelationWindows;          // per-window connection entries for the kernel join
  breakers?: BreakerStates;              // latest breaker state per (node, scope)
  exporter?: Pick<CorrelationExporter, 'countNetworkSuspectFailures'>; // the bounded per-route series
  now?: () => number;                    // receive time of breaker states (their expiry)
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  maxEntriesPerReport?: number;          // default 100,000
  onAccepted?: (bytes: Buffer, metadata: grpc.Metadata) => void; // after the answer: forwarding to peer replicas
}

export class TelemetryService {
  readonly #options: TelemetryServiceOptions;
  readonly #maxEntries: number;
  readonly #reportType = messageType('TelemetryReport');
  readonly #ackType = messageType('TelemetryReportAck');

  constructor(options: TelemetryServiceOptions) {
    this.#options = options;
    this.#maxEntries = options.maxEntriesPerReport ?? 100_000;
  }

  addToServer(server: grpc.Server): void {
    const base = meshlensGrpc().Telemetry.service.Report;
    const definition: grpc.ServiceDefinition = {
      Report: { ...base, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: (bytes: Buffer) => bytes },
    };
    server.addService(definition, {
      Report: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        try {
          const accepted = this.ingest(call.request, authorizationOf(call.metadata));
          callback(null, Buffer.from(this.#ackType.encode({ acceptedEntries: accepted }).finish()));
          this.#options.onAccepted?.(call.request, call.metadata);
        } catch (error) {
          const normalised = asControlPlaneError(error);
          this.#options.metrics.reportsRejected.inc({ source: 'filter', code: normalised.code });
          this.#options.logger.debug('telemetry report rejected', { code: normalised.code, reason: normalised.message });
          callback(toGrpcStatus(normalised));
        }
      },
    });
  }

  /** Authenticates, decodes, validates and records one encoded TelemetryReport; returns the entries accepted. */
  ingest(bytes: Uint8Array, authorization: string | undefined): number {
    const principal = this.#options.auth.proxy(authorization);
    let report: TelemetryReport__Output;
    try {
      report = this.#reportType.toObject(this.#reportType.decode(bytes), CONVERSION_OPTIONS) as TelemetryReport__Output;
    } catch (error) {
      throw invalidArgument(`invalid telemetry report: message must be a valid TelemetryReport (${(error as Error).message})`);
    }
    const entries = validateReport(report, this.#maxEntries);
    checkNodeIdentity(report.node);
    authorizeNode(principal, report.node!.id);
    this.#options.store.record(report);
    this.#options.breakers?.record(report.node!.id, (this.#options.now ?? Date.now)(), report.breakers);
    this.#options.windows?.addFilterReport(report.node!.id, Number(report.windowStartUnixMs), Number(report.windowEndUnixMs),
      report.connections.map((entry) => ({
        localAddress: entry.localAddress, remoteAddress: entry.remoteAddress, cluster: entry.cluster,
        routes: entry.routes.map((r) => ({ pathTemplate: r.pathTemplate, tenant: r.tenant, requests: r.requests, errors: r.errors })),
        requests: entry.counters?.requests ?? 0, errors: entry.counters?.errors ?? 0, slowCalls: entry.counters?.slowCalls ?? 0,
        durationMsSum: Number(entry.counters?.durationMsSum ?? 0), buckets: entry.counters?.durationBuckets ?? [],
      })), report.node!.worker);
    const exporter = this.#options.exporter;
    if (exporter) {
      for (const route of report.routes) {
        exporter.countNetworkSuspectFailures(route.cluster, route.pathTemplate, route.tenant, route.counters?.networkSuspectFailures ?? 0);
      }
    }
    this.#options.metrics.reportsReceived.inc({ source: 'filter' });
    this.#options.metrics.reportEntries.inc({ source: 'filter' }, entries);
    return entries;
  }
}

export function validateReport(report: TelemetryReport__Output, maxEntries: number): number {
  if (!report.node?.id) throw invalidArgument('invalid telemetry report: node.id must be set');
  const start = Number(report.windowStartUnixMs);
  const end = Number(report.windowEndUnixMs);
  if (!(end >= start)) throw invalidArgument('invalid telemetry report: windowEndUnixMs must be >= windowStartUnixMs');
  const entries = report.connections.length + report.routes.length + report.breakers.length;
  if (entries > maxEntries) throw invalidArgument(`invalid telemetry report: entries must be at most ${maxEntries}`);
  report.connections.forEach((entry, i) => {
    checkCounters(entry.counters, `connections[${i}]`);
    if (entry.routes.length > MAX_ROUTES_PER_CONNECTION) {
      throw invalidArgument(`invalid telemetry report: connections[${i}].routes must have at most ${MAX_ROUTES_PER_CONNECTION} entries`);
    }
    let requests = 0;
    entry.routes.forEach((route, j) => {
      if (route.errors > route.requests) throw invalidArgument(`invalid telemetry report: connections[${i}].routes[${j}].errors must be <= requests`);
      requests += route.requests;
    });
    if (requests > (entry.counters?.requests ?? 0)) {
      throw invalidArgument(`invalid telemetry report: connections[${i}].routes requests must add up to at most counters.requests`);
    }
  });
  report.routes.forEach((entry, i) => {
    if (!entry.cluster) throw invalidArgument(`invalid telemetry report: routes[${i}].cluster must be set`);
    checkCounters(entry.counters, `routes[${i}]`);
  });
  report.breakers.forEach((entry, i) => {
    if (entry.state === 'BREAKER_STATE_UNSPECIFIED' || typeof entry.state !== 'string') {
      throw invalidArgument(`invalid telemetry report: breakers[${i}].state must be CLOSED, OPEN or HALF_OPEN`);
    }
    if (!entry.cluster) throw invalidArgument(`invalid telemetry report: breakers[${i}].cluster must be set`);
    if (entry.tripFailures > entry.tripRequests || entry.tripSlowCalls > entry.tripRequests) {
      throw invalidArgument(`invalid telemetry report: breakers[${i}].tripFailures and tripSlowCalls must be <= tripRequests`);
    }
  });
  return entries;
}

function checkCounters(counters: OutcomeCounters__Output | null, where: string): void {
  if (!counters) return;
  if (counters.errors > counters.requests) throw invalidArgument(`invalid telemetry report: ${where}.counters.errors must be <= requests`);
  if (counters.slowCalls > counters.requests) throw invalidArgument(`invalid telemetry report: ${where}.counters.slowCalls must be <= requests`);
  if ((counters.networkSuspectFailures ?? 0) > counters.requests) {
    throw invalidArgument(`invalid telemetry report: ${where}.counters.networkSuspectFailures must be <= requests`);
  }
  if (counters.durationBuckets.length > DURATION_BUCKET_COUNT) {
    throw invalidArgument(`invalid telemetry report: ${where}.counters.durationBuckets must have at most ${DURATION_BUCKET_COUNT} entries`);
  }
}
