// The resilience policy model, TypeScript twin of filter/assembly/policy/resilience-policy.ts: the same fields,
// defaults, validation order and error messages, character for character (test/policy/policy-model.test.ts feeds one
// table of cases to both and compares). Change both or neither.
//
// Every field is optional and falls back to its default; inside `retry.on` a failure kind that is not listed keeps
// its default row (set maxRetries 0 to stop retrying it). Unknown fields are rejected: a misspelt threshold that
// silently falls back to its default is found only during an outage. validatePolicy returns the fully defaulted
// policy, which is what the control plane stores and pushes.
import { invalidArgument } from './errors.ts';

export const FAILURE_KINDS = [
  '5xx', 'gateway-error', 'connect-failure', 'reset', 'retriable-4xx', 'retriable-status-codes',
  'grpc-cancelled', 'grpc-deadline-exceeded', 'grpc-internal', 'grpc-resource-exhausted', 'grpc-unavailable',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export type RetryRule = { maxRetries: number; backoffBaseMs: number };

export type TargetPolicy = {
  /** Envoy cluster name (xds.cluster_name), or "*" for every cluster. */
  cluster: string;
  /** A path template as the filter renders it ("/orders/{id}"), or "*" for every path. */
  pathTemplate: string;
  /** One breaker and one retry budget per (cluster, tenant) instead of per cluster. */
  perTenant: boolean;
};

export type BreakerPolicy = {
  enabled: boolean;
  errorRateThreshold: number;
  slowCallMs: number;
  slowCallRateThreshold: number;
  minRequests: number;
  windowMs: number;
  openMs: number;
  maxOpenMs: number;
  halfOpenProbes: number;
  halfOpenSuccesses: number;
  /**
   * Opt-in: failures and slow calls served by an endpoint the control plane pushed as network-suspect (the
   * correlator's verdict network-suspect or both) do not count against this breaker; they are counted under their
   * own cause instead.
   */
  networkAware: boolean;
};

export type RetryPolicy = {
  enabled: boolean;
  idempotentOnly: boolean;
  perTryTimeoutMs: number;
  budgetRatio: number;
  minRetriesPerSecond: number;
  backoffMaxMs: number;
  retriableStatusCodes: number[];
  on: Record<FailureKind, RetryRule>;
};

export type ResiliencePolicy = { target: TargetPolicy; breaker: BreakerPolicy; retry: RetryPolicy };

const DEFAULT_RULES: Record<FailureKind, RetryRule> = {
  '5xx': { maxRetries: 2, backoffBaseMs: 250 },
  'gateway-error': { maxRetries: 2, backoffBaseMs: 250 },
  'connect-failure': { maxRetries: 1, backoffBaseMs: 25 },
  'reset': { maxRetries: 1, backoffBaseMs: 25 },
  'retriable-4xx': { maxRetries: 0, backoffBaseMs: 25 },
  'retriable-status-codes': { maxRetries: 0, backoffBaseMs: 25 },
  'grpc-cancelled': { maxRetries: 0, backoffBaseMs: 25 },
  'grpc-deadline-exceeded': { maxRetries: 0, backoffBaseMs: 25 },
  'grpc-internal': { maxRetries: 0, backoffBaseMs: 25 },
  'grpc-resource-exhausted': { maxRetries: 0, backoffBaseMs: 25 },
  'grpc-unavailable': { maxRetries: 3, backoffBaseMs: 100 },
};

export function defaultPolicy(): ResiliencePolicy {
  const on = {} as Record<FailureKind, RetryRule>;
  for (const kind of FAILURE_KINDS) on[kind] = { ...DEFAULT_RULES[kind] };
  return {
    target: { cluster: '*', pathTemplate: '*', perTenant: true },
    breaker: {
      enabled: true, errorRateThreshold: 0.3, slowCallMs: 800, slowCallRateThreshold: 0.5, minRequests: 20,
      windowMs: 10000, openMs: 30000, maxOpenMs: 300000, halfOpenProbes: 5, halfOpenSuccesses: 3, networkAware: false,
    },
    retry: {
      enabled: true, idempotentOnly: true, perTryTimeoutMs: 0, budgetRatio: 0.2, minRetriesPerSecond: 10,
      backoffMaxMs: 2500, retriableStatusCodes: [], on,
    },
  };
}

export const MAX_RETRIES_LIMIT = 10;

/**
 * Envoy's route retry_back_off has one base interval per route and the x-envoy-* headers carry none, so the table's
 * per-kind backoff collapses to the slowest base among retried kinds, capped by backoffMaxMs. istio/ renders this
 * into the EnvoyFilter route's retry_policy.retry_back_off.
 */
export function routeBackOff(retry: RetryPolicy): { baseIntervalMs: number; maxIntervalMs: number } {
  let base = 0;
  for (const kind of FAILURE_KINDS) {
    const rule = retry.on[kind];
    if (rule.maxRetries > 0 && rule.backoffBaseMs > base) base = rule.backoffBaseMs;
  }
  if (base === 0) base = 25; // Envoy's own default base interval
  return { baseIntervalMs: base, maxIntervalMs: retry.backoffMaxMs > base ? retry.backoffMaxMs : base };
}

// ---- validation (mirrors the AS parser step by step) -----------------------------------------------------------

const MAX_DURATION_MS = 86400000;
const POLICY_KEYS = ['target', 'breaker', 'retry'];
const TARGET_KEYS = ['cluster', 'pathTemplate', 'perTenant'];
const BREAKER_KEYS = [
  'enabled', 'errorRateThreshold', 'slowCallMs', 'slowCallRateThreshold', 'minRequests', 'windowMs', 'openMs',
  'maxOpenMs', 'halfOpenProbes', 'halfOpenSuccesses', 'networkAware',
];
const RETRY_KEYS = [
  'enabled', 'idempotentOnly', 'perTryTimeoutMs', 'budgetRatio', 'minRetriesPerSecond', 'backoffMaxMs',
  'retriableStatusCodes', 'on',
];
const RULE_KEYS = ['maxRetries', 'backoffBaseMs'];

class PolicyError extends Error {}

function fail(field: string, rule: string): never {
  throw new PolicyError(`invalid policy: ${field} must ${rule}`);
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: JsonObject, field: string, allowed: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(field.length > 0 ? `${field}.${key}` : key, 'not be present (unknown field)');
  }
}

// null (like JSON null) and absent both mean "use the default".
function present(obj: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] ?? undefined : undefined;
}

class FieldReader {
  constructor(private obj: JsonObject, private prefix: string) {}

  private name(key: string): string {
    return `${this.prefix}.${key}`;
  }

  value(key: string): unknown {
    return present(this.obj, key);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = present(this.obj, key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') fail(this.name(key), 'be a boolean');
    return v;
  }

  ratio(key: string, fallback: number, zeroAllowed: boolean): number {
    const v = present(this.obj, key);
    if (v === undefined) return fallback;
    const ok = typeof v === 'number' && Number.isFinite(v) && v <= 1 && (zeroAllowed ? v >= 0 : v > 0);
    if (!ok) fail(this.name(key), zeroAllowed ? 'be in [0, 1]' : 'be in (0, 1]');
    return v as number;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const v = present(this.obj, key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(this.name(key), `be an integer in [${min}, ${max}]`);
    }
    return v;
  }

  str(key: string): string | undefined {
    const v = present(this.obj, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') fail(this.name(key), 'be a string');
    return v;
  }

  object(key: string): JsonObject | undefined {
    const v = present(this.obj, key);
    if (v === undefined) return undefined;
    if (!isObject(v)) fail(this.name(key), 'be an object');
    return v;
  }
}

function parseTarget(v: JsonObject, out: TargetPolicy): void {
  checkKeys(v, 'target', TARGET_KEYS);
  const r = new FieldReader(v, 'target');
  const cluster = r.str('cluster');
  if (cluster !== undefined) {
    if (cluster.length === 0) fail('target.cluster', 'be a non-empty string');
    out.cluster = cluster;
  }
  const path = r.str('pathTemplate');
  if (path !== undefined) {
    if (path !== '*' && !path.startsWith('/')) fail('target.pathTemplate', 'be "*" or start with "/"');
    out.pathTemplate = path;
  }
  out.perTenant = r.bool('perTenant', out.perTenant);
}

function parseBreaker(v: JsonObject, out: BreakerPolicy): void {
  checkKeys(v, 'breaker', BREAKER_KEYS);
  const r = new FieldReader(v, 'breaker');
  out.enabled = r.bool('enabled', out.enabled);
  out.errorRateThreshold = r.ratio('errorRateThreshold', out.errorRateThreshold, false);
  out.slowCallMs = r.integer('slowCallMs', out.slowCallMs, 1, MAX_DURATION_MS);
  out.slowCallRateThreshold = r.ratio('slowCallRateThreshold', out.slowCallRateThreshold, false);
  out.minRequests = r.integer('minRequests', out.minRequests, 1, 1000000);
  out.windowMs = r.integer('windowMs', out.windowMs, 1000, 3600000);
  out.openMs = r.integer('openMs', out.openMs, 1, MAX_DURATION_MS);
  out.maxOpenMs = r.integer('maxOpenMs', out.maxOpenMs, 1, MAX_DURATION_MS);
  out.halfOpenProbes = r.integer('halfOpenProbes', out.halfOpenProbes, 1, 1000);
  out.halfOpenSuccesses = r.integer('halfOpenSuccesses', out.halfOpenSuccesses, 1, 1000);
  out.networkAware = r.bool('networkAware', out.networkAware);
  if (out.maxOpenMs < out.openMs) fail('breaker.maxOpenMs', 'be ≥ breaker.openMs');
  if (out.halfOpenSuccesses > out.halfOpenProbes) fail('breaker.halfOpenSuccesses', 'be ≤ breaker.halfOpenProbes');
}

function parseRule(v: JsonObject, field: string, out: RetryRule, backoffMaxMs: number): void {
  checkKeys(v, field, RULE_KEYS);
  const r = new FieldReader(v, field);
  out.maxRetries = r.integer('maxRetries', out.maxRetries, 0, MAX_RETRIES_LIMIT);
  out.backoffBaseMs = r.integer('backoffBaseMs', out.backoffBaseMs, 1, MAX_DURATION_MS);
  if (out.backoffBaseMs > backoffMaxMs) fail(`${field}.backoffBaseMs`, 'be ≤ retry.backoffMaxMs');
}

function parseRetry(v: JsonObject, out: RetryPolicy): void {
  checkKeys(v, 'retry', RETRY_KEYS);
  const r = new FieldReader(v, 'retry');
  out.enabled = r.bool('enabled', out.enabled);
  out.idempotentOnly = r.bool('idempotentOnly', out.idempotentOnly);
  out.perTryTimeoutMs = r.integer('perTryTimeoutMs', out.perTryTimeoutMs, 0, MAX_DURATION_MS);
  out.budgetRatio = r.ratio('budgetRatio', out.budgetRatio, true);
  out.minRetriesPerSecond = r.integer('minRetriesPerSecond', out.minRetriesPerSecond, 0, 100000);
  out.backoffMaxMs = r.integer('backoffMaxMs', out.backoffMaxMs, 1, MAX_DURATION_MS);
  const codes = r.value('retriableStatusCodes');
  if (codes !== undefined) {
    if (!Array.isArray(codes) || codes.length > 32) fail('retry.retriableStatusCodes', 'be an array of at most 32 status codes');
    out.retriableStatusCodes = codes.map((c: unknown, i: number) => {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 100 || c > 599) {
        fail(`retry.retriableStatusCodes[${i}]`, 'be an integer in [100, 599]');
      }
      return c;
    });
  }
  const on = r.object('on');
  if (on !== undefined) {
    for (const [key, row] of Object.entries(on)) {
      if (!(FAILURE_KINDS as readonly string[]).includes(key)) {
        fail(`retry.on.${key}`, `be a known failure kind (${FAILURE_KINDS.join(', ')})`);
      }
      if (!isObject(row)) fail(`retry.on.${key}`, 'be an object');
    }
    for (const kind of FAILURE_KINDS) {
      const row = on[kind];
      if (row === undefined) continue;
      parseRule(row as JsonObject, `retry.on.${kind}`, out.on[kind], out.backoffMaxMs);
    }
  }
  for (const kind of FAILURE_KINDS) {
    if (out.on[kind].backoffBaseMs > out.backoffMaxMs) fail(`retry.on.${kind}.backoffBaseMs`, 'be ≤ retry.backoffMaxMs');
  }
  if (out.on['retriable-status-codes'].maxRetries > 0 && out.retriableStatusCodes.length === 0) {
    fail('retry.retriableStatusCodes', 'be non-empty when retry.on.retriable-status-codes.maxRetries > 0');
  }
}

/** Returns the fully defaulted policy, or throws ControlPlaneError INVALID_ARGUMENT "invalid policy: <field> must <rule>". */
export function validatePolicy(value: unknown): ResiliencePolicy {
  try {
    return parsePolicyValue(value);
  } catch (err) {
    if (err instanceof PolicyError) throw invalidArgument(err.message);
    throw err;
  }
}

function parsePolicyValue(value: unknown): ResiliencePolicy {
  if (!isObject(value)) throw new PolicyError('invalid policy: policy must be an object');
  const policy = defaultPolicy();
  checkKeys(value, '', POLICY_KEYS);
  for (const section of POLICY_KEYS) {
    const v = present(value, section);
    if (v === undefined) continue;
    if (!isObject(v)) fail(section, 'be an object');
    if (section === 'target') parseTarget(v, policy.target);
    else if (section === 'breaker') parseBreaker(v, policy.breaker);
    else parseRetry(v, policy.retry);
  }
  return policy;
}
