// gRPC Admin service: authenticates the admin bearer token, converts between proto objects and the JSON model, and
// delegates to AdminOperations (shared with the HTTP API). Every call is timed into the admin latency histogram.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { AdminOperations } from '../admin-operations.ts';
import type { CommitConfirmed, Confirmation } from '../commit-confirmed.ts';
import { authorizationOf, type Authenticator } from '../auth.ts';
import { asControlPlaneError, invalidArgument, toGrpcStatus } from '../errors.ts';
import { clip } from '../limits.ts';
import type { Logger } from '../logging.ts';
import type { ControlPlaneMetrics } from '../metrics.ts';
import { meshlensGrpc } from '../protos.ts';
import type { HistoryEntry } from '../policy-store.ts';
import type { BreakerStateName } from '../breaker-replay.ts';
import type { EndpointStatus } from '../correlator.ts';
import type { EndpointBaseline, EndpointSignals } from '../endpoint-baseline.ts';
import type { Verdict } from '../verdict.ts';

export interface AdminServiceOptions {
  operations: AdminOperations;
  confirmations: CommitConfirmed;
  auth: Authenticator;
  metrics: ControlPlaneMetrics;
  logger: Logger;
}

const BREAKER_STATE: Record<BreakerStateName, string> = {
  Closed: 'BREAKER_STATE_CLOSED', Open: 'BREAKER_STATE_OPEN', HalfOpen: 'BREAKER_STATE_HALF_OPEN',
};

const VERDICT: Record<Verdict, string> = {
  healthy: 'ENDPOINT_VERDICT_HEALTHY', 'network-suspect': 'ENDPOINT_VERDICT_NETWORK_SUSPECT',
  'app-failing': 'ENDPOINT_VERDICT_APP_FAILING', both: 'ENDPOINT_VERDICT_BOTH', unknown: 'ENDPOINT_VERDICT_UNKNOWN',
};

const signalsToProto = (s: EndpointSignals) => ({
  requests: s.requests, errors: s.errors, retransSegs: s.retransSegs, segsOut: s.segsOut, retransRatio: s.retransRatio,
  srttUs: s.srttUs, errorRatio: s.errorRatio, slowCallRatio: s.slowRatio, latencyTailRatio: s.tailRatio,
  meanLatencyMs: s.meanLatencyMs, tailMs: s.tailMs, retransPerRequest: s.retransPerRequest,
});

// A baseline counts windows where a window's signals count requests and segments.
const baselineToProto = (b: EndpointBaseline) => ({
  requests: b.windows, segsOut: b.kernelWindows, retransRatio: b.retransRatio, srttUs: b.srttUs, errorRatio: b.errorRatio,
  slowCallRatio: b.slowRatio, latencyTailRatio: b.tailRatio, meanLatencyMs: b.meanLatencyMs, retransPerRequest: b.retransPerRequest,
});

type BreakerAggregate = ReturnType<AdminOperations['breakers']>['breakers'][number];

export function breakerToProto(b: BreakerAggregate) {
  return {
    cluster: b.cluster, tenant: b.tenant, state: BREAKER_STATE[b.state], policyId: b.policyId,
    nodes: { closed: b.nodes.Closed, open: b.nodes.Open, halfOpen: b.nodes.HalfOpen }, sinceUnixMs: b.since, reason: b.reason,
  };
}

export function endpointToProto(e: EndpointStatus) {
  return {
    cluster: e.cluster, endpoint: e.endpoint, verdict: VERDICT[e.verdict], windowEndUnixMs: e.windowEndUnixMs,
    signals: signalsToProto(e.signals), baseline: e.baseline ? baselineToProto(e.baseline) : undefined,
    history: e.history.map((h) => ({ ...h, from: VERDICT[h.from], to: VERDICT[h.to] })),
  };
}

/**
 * proto-loader objects mark absent optional fields by omission, absent messages as null and add virtual `_field`
 * oneof keys; the JSON model wants plain objects with absent fields missing (so defaults apply).
 */
export function policyFromProto(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(policyFromProto);
  if (typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (key.startsWith('_')) continue;
    const converted = policyFromProto(field);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

export function historyToProto(entry: HistoryEntry) {
  return { ...entry, kind: `CHANGE_KIND_${entry.kind}`, policy: entry.policy ?? undefined, previous: entry.previous ?? undefined };
}

/** JSON confirmations to proto: durations and bounds under their proto names, a missing p99 as has_p99 false. */
export function confirmationToProto(c: Confirmation) {
  const stats = (s: Confirmation['scopes'][number]['before']) => ({ ...s, p99Ms: s.p99Ms ?? 0, hasP99: s.p99Ms !== null });
  return {
    ...c, state: `CONFIRMATION_STATE_${c.state}`,
    scopes: c.scopes.map((s) => ({ ...s, before: stats(s.before), after: stats(s.after) })),
  };
}

export class AdminService {
  readonly #options: AdminServiceOptions;
  #decoders = new Map<string, (bytes: Buffer) => unknown>();

  constructor(options: AdminServiceOptions) {
    this.#options = options;
  }

  addToServer(server: grpc.Server): void {
    const ops = this.#options.operations;
    type Req = Record<string, any>;
    // Requests arrive as raw bytes and are decoded in #unary: grpc-js answers a message it cannot deserialize with
    // INTERNAL, but a wrong wire type is the client's error (INVALID_ARGUMENT), as it is on every other service.
    const service = meshlensGrpc().Admin.service;
    this.#decoders = new Map(Object.entries(service).map(([name, method]) => [name, method.requestDeserialize]));
    const raw = Object.fromEntries(Object.entries(service).map(([name, method]) => [name, { ...method, requestDeserialize: (bytes: Buffer) => bytes }]));
    server.addService(raw as unknown as grpc.ServiceDefinition, {
      GetPolicy: this.#unary('GetPolicy', (req: Req) => ops.get(req.id)),
      ListPolicies: this.#unary('ListPolicies', () => ops.list()),
      // An absent policy stays absent (refused as "policy must be an object", as over HTTP), never a catch-all default.
      SetPolicy: this.#unary('SetPolicy', async (req: Req, actor) => {
        if (!req.confirm) return ops.set(actor, req.id, req.expectedVersion, policyFromProto(req.policy));
        const confirm = policyFromProto(req.confirm) as Record<string, unknown>;
        if (confirm.baselineMs === 0) delete confirm.baselineMs;            // proto3: 0 is "not set"
        const { confirmation, ...record } = await this.#options.confirmations.apply(actor, req.id, req.expectedVersion, policyFromProto(req.policy), confirm);
        return { ...record, confirmation: confirmationToProto(confirmation) };
      }),
      DeletePolicy: this.#unary('DeletePolicy', (req: Req, actor) => ops.delete(actor, req.id, req.expectedVersion)),
      GetHistory: this.#unary('GetHistory', async (req: Req) => ({ entries: (await ops.history(req.id)).map(historyToProto) })),
      Rollback: this.#unary('Rollback', (req: Req, actor) => ops.rollback(actor, req.id, req.toVersion, req.expectedVersion)),
      DryRun: this.#unary('DryRun', (req: Req) => {
        const result = ops.dryRun(policyFromProto(req.policy), req.windowMinutes);
        return { ...result, scopes: result.scopes.map((scope) => ({ ...scope, finalState: BREAKER_STATE[scope.finalState] })) };
      }),
      GetRolloutStatus: this.#unary('GetRolloutStatus', (req: Req) => ops.rolloutStatus(req.pageSize, req.pageToken)),
      ListCorrelations: this.#unary('ListCorrelations', () => {
        const report = ops.correlationReport();
        return { ...report, breakers: report.breakers.map(breakerToProto) };
      }),
      ListEndpoints: this.#unary('ListEndpoints', () => {
        const { endpoints, breakers } = ops.endpoints();
        return { endpoints: endpoints.map(endpointToProto), breakers: breakers.map(breakerToProto) };
      }),
      ListBreakers: this.#unary('ListBreakers', () => {
        const view = ops.breakers();
        return {
          breakers: view.breakers.map(breakerToProto),
          transitions: view.transitions.map((t) => ({ ...t, from: BREAKER_STATE[t.from], to: BREAKER_STATE[t.to] })),
        };
      }),
      ListConfirmations: this.#unary('ListConfirmations', async (req: Req) => ({ confirmations: (await this.#options.confirmations.list(req.all)).map(confirmationToProto) })),
      ListReplicas: this.#unary('ListReplicas', () => ops.replicas()),
      GetCorrelatorState: this.#unary('GetCorrelatorState', () => ops.correlatorState()),
    });
  }

  #unary(operation: string, handler: (request: any, actor: string) => unknown) {
    const { auth, metrics, logger } = this.#options;
    return async (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
      const started = performance.now();
      let code = 'OK';
      try {
        const actor = auth.admin(authorizationOf(call.metadata));
        let request: unknown;
        try {
          request = this.#decoders.get(operation)!(call.request as Buffer);
        } catch (error) {
          throw invalidArgument(`invalid request: message must be a valid ${operation} request (${clip((error as Error).message, 200)})`);
        }
        callback(null, await handler(request, actor) as any);
      } catch (error) {
        const normalised = asControlPlaneError(error);
        code = normalised.code;
        if (code === 'INTERNAL') logger.error('admin operation failed', { operation, error: normalised.message });
        callback(toGrpcStatus(normalised));
      } finally {
        metrics.adminRequestDuration.observe({ transport: 'grpc', operation, code }, (performance.now() - started) / 1000);
      }
    };
  }
}
