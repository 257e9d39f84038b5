// One table of policies fed to both validators — the AS parser inside the filter (through the test harness) and
// the control plane's TS twin — which must agree on every message and on every defaulted value.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultPolicy, routeBackOff, validatePolicy } from '../../control-plane/src/policy-model.ts';
import { ControlPlaneError } from '../../control-plane/src/errors.ts';
import { loadHarness } from './load-harness.ts';

const h = await loadHarness();

function tsCheck(value: unknown): string {
  try {
    return 'ok:' + JSON.stringify(validatePolicy(value));
  } catch (err) {
    assert.instance(err, ControlPlaneError);
    assert.is((err as ControlPlaneError).code, 'INVALID_ARGUMENT');
    return (err as Error).message;
  }
}

const base = { target: { cluster: 'outbound|8080||orders.default.svc.cluster.local', pathTemplate: '/orders/{id}', perTenant: true } };
const with_ = (section: string, patch: Record<string, unknown>) =>
  ({ ...base, [section]: patch });

// [name, policy, expected message or null when valid]
const cases: [string, unknown, string | null][] = [
  ['empty object takes every default', {}, null],
  ['full contract example', {
    ...base,
    breaker: { enabled: true, errorRateThreshold: 0.3, slowCallMs: 800, slowCallRateThreshold: 0.5, minRequests: 20,
      windowMs: 10000, openMs: 30000, maxOpenMs: 300000, halfOpenProbes: 5, halfOpenSuccesses: 3, networkAware: false },
    retry: { enabled: true, idempotentOnly: true, perTryTimeoutMs: 0, budgetRatio: 0.2, minRetriesPerSecond: 10,
      backoffMaxMs: 2500, on: { '5xx': { maxRetries: 2, backoffBaseMs: 250 }, 'grpc-unavailable': { maxRetries: 3, backoffBaseMs: 100 } } },
  }, null],
  ['partial row keeps its other default', with_('retry', { on: { reset: { maxRetries: 4 } } }), null],
  ['nulls mean default', { target: null, breaker: { openMs: null } }, null],
  ['status codes', with_('retry', { retriableStatusCodes: [503, 429], on: { 'retriable-status-codes': { maxRetries: 1 } } }), null],
  ['array policy', [], 'invalid policy: policy must be an object'],
  ['string policy', 'x', 'invalid policy: policy must be an object'],
  ['unknown top-level field', { ...base, breakers: {} }, 'invalid policy: breakers must not be present (unknown field)'],
  ['target not an object', { target: 3 }, 'invalid policy: target must be an object'],
  ['empty cluster', { target: { cluster: '' } }, 'invalid policy: target.cluster must be a non-empty string'],
  ['cluster not a string', { target: { cluster: 7 } }, 'invalid policy: target.cluster must be a string'],
  ['relative path template', { target: { pathTemplate: 'orders' } }, 'invalid policy: target.pathTemplate must be "*" or start with "/"'],
  ['perTenant not boolean', { target: { perTenant: 'yes' } }, 'invalid policy: target.perTenant must be a boolean'],
  ['unknown target field', { target: { tenant: 'a' } }, 'invalid policy: target.tenant must not be present (unknown field)'],
  ['error rate 0', with_('breaker', { errorRateThreshold: 0 }), 'invalid policy: breaker.errorRateThreshold must be in (0, 1]'],
  ['error rate above 1', with_('breaker', { errorRateThreshold: 1.5 }), 'invalid policy: breaker.errorRateThreshold must be in (0, 1]'],
  ['error rate 1 is allowed', with_('breaker', { errorRateThreshold: 1 }), null],
  ['error rate as string', with_('breaker', { errorRateThreshold: '0.3' }), 'invalid policy: breaker.errorRateThreshold must be in (0, 1]'],
  ['slow rate 0', with_('breaker', { slowCallRateThreshold: 0 }), 'invalid policy: breaker.slowCallRateThreshold must be in (0, 1]'],
  ['fractional slowCallMs', with_('breaker', { slowCallMs: 800.5 }), 'invalid policy: breaker.slowCallMs must be an integer in [1, 86400000]'],
  ['minRequests 0', with_('breaker', { minRequests: 0 }), 'invalid policy: breaker.minRequests must be an integer in [1, 1000000]'],
  ['window too short', with_('breaker', { windowMs: 999 }), 'invalid policy: breaker.windowMs must be an integer in [1000, 3600000]'],
  ['maxOpen below open', with_('breaker', { openMs: 5000, maxOpenMs: 4000 }), 'invalid policy: breaker.maxOpenMs must be ≥ breaker.openMs'],
  ['maxOpen below default open', with_('breaker', { maxOpenMs: 1000 }), 'invalid policy: breaker.maxOpenMs must be ≥ breaker.openMs'],
  ['successes above probes', with_('breaker', { halfOpenProbes: 2 }), 'invalid policy: breaker.halfOpenSuccesses must be ≤ breaker.halfOpenProbes'],
  ['probes 0', with_('breaker', { halfOpenProbes: 0 }), 'invalid policy: breaker.halfOpenProbes must be an integer in [1, 1000]'],
  ['enabled as number', with_('breaker', { enabled: 1 }), 'invalid policy: breaker.enabled must be a boolean'],
  ['networkAware on', with_('breaker', { networkAware: true }), null],
  ['networkAware as string', with_('breaker', { networkAware: 'yes' }), 'invalid policy: breaker.networkAware must be a boolean'],
  ['first error wins', with_('breaker', { errorRateThreshold: 2, minRequests: -1 }), 'invalid policy: breaker.errorRateThreshold must be in (0, 1]'],
  ['budget ratio 0 allowed', with_('retry', { budgetRatio: 0 }), null],
  ['budget ratio negative', with_('retry', { budgetRatio: -0.1 }), 'invalid policy: retry.budgetRatio must be in [0, 1]'],
  ['negative per-try timeout', with_('retry', { perTryTimeoutMs: -1 }), 'invalid policy: retry.perTryTimeoutMs must be an integer in [0, 86400000]'],
  ['minRetriesPerSecond fractional', with_('retry', { minRetriesPerSecond: 0.5 }), 'invalid policy: retry.minRetriesPerSecond must be an integer in [0, 100000]'],
  ['unknown failure kind', with_('retry', { on: { '503': { maxRetries: 1 } } }),
    'invalid policy: retry.on.503 must be a known failure kind (5xx, gateway-error, connect-failure, reset, retriable-4xx, retriable-status-codes, grpc-cancelled, grpc-deadline-exceeded, grpc-internal, grpc-resource-exhausted, grpc-unavailable)'],
  ['row not an object', with_('retry', { on: { '5xx': 2 } }), 'invalid policy: retry.on.5xx must be an object'],
  ['on not an object', with_('retry', { on: [] }), 'invalid policy: retry.on must be an object'],
  ['too many retries', with_('retry', { on: { 'grpc-unavailable': { maxRetries: 11 } } }), 'invalid policy: retry.on.grpc-unavailable.maxRetries must be an integer in [0, 10]'],
  ['unknown row field', with_('retry', { on: { '5xx': { retries: 1 } } }), 'invalid policy: retry.on.5xx.retries must not be present (unknown field)'],
  ['base above cap', with_('retry', { backoffMaxMs: 100, on: { '5xx': { backoffBaseMs: 200 } } }), 'invalid policy: retry.on.5xx.backoffBaseMs must be ≤ retry.backoffMaxMs'],
  ['default base above lowered cap', with_('retry', { backoffMaxMs: 200 }), 'invalid policy: retry.on.5xx.backoffBaseMs must be ≤ retry.backoffMaxMs'],
  ['status code out of range', with_('retry', { retriableStatusCodes: [503, 600] }), 'invalid policy: retry.retriableStatusCodes[1] must be an integer in [100, 599]'],
  ['status codes not an array', with_('retry', { retriableStatusCodes: 503 }), 'invalid policy: retry.retriableStatusCodes must be an array of at most 32 status codes'],
  ['status-code row without codes', with_('retry', { on: { 'retriable-status-codes': { maxRetries: 1 } } }),
    'invalid policy: retry.retriableStatusCodes must be non-empty when retry.on.retriable-status-codes.maxRetries > 0'],
];

const twins = suite('policy validation: AS parser and TS twin');

for (const [name, policy, expected] of cases) {
  twins(name, () => {
    const json = JSON.stringify(policy);
    const fromTs = tsCheck(JSON.parse(json));
    const fromAs = h.checkPolicy(json) as string;
    if (expected === null) {
      assert.ok(fromTs.startsWith('ok:'), fromTs);
    } else {
      assert.is(fromTs, expected);
    }
    // Identical messages, and identical defaulted values when valid.
    assert.is(fromAs, fromTs);
  });
}

twins('a valid policy is returned fully defaulted', () => {
  const p = validatePolicy({ breaker: { openMs: 5000 }, retry: { on: { reset: { maxRetries: 4 } } } });
  assert.is(p.breaker.openMs, 5000);
  assert.is(p.breaker.maxOpenMs, 300000);
  assert.is(p.breaker.errorRateThreshold, 0.3);
  assert.equal(p.retry.on.reset, { maxRetries: 4, backoffBaseMs: 25 });
  assert.equal(p.retry.on['5xx'], { maxRetries: 2, backoffBaseMs: 250 });
  assert.equal(p.retry.on['grpc-unavailable'], { maxRetries: 3, backoffBaseMs: 100 });
  assert.equal(p.target, { cluster: '*', pathTemplate: '*', perTenant: true }, 'tenant isolation unless turned off explicitly');
});

twins('defaults match the documented ones', () => {
  const d = defaultPolicy();
  assert.is(d.breaker.errorRateThreshold, 0.3);
  assert.is(d.breaker.slowCallMs, 800);
  assert.is(d.breaker.openMs, 30000);
  assert.equal(d.retry.on['connect-failure'].maxRetries, 1);
  // defaultPolicy() hands out fresh objects: mutating one must not leak into the next.
  d.retry.on['5xx'].maxRetries = 9;
  assert.is(defaultPolicy().retry.on['5xx'].maxRetries, 2);
});

twins('route back-off: slowest retried base, capped by backoffMaxMs, same in both', () => {
  const p = { retry: { on: { '5xx': { maxRetries: 0 }, 'gateway-error': { maxRetries: 0 } } } };
  const ts = routeBackOff(validatePolicy(p).retry);
  assert.equal(ts, { baseIntervalMs: 100, maxIntervalMs: 2500 });
  assert.is(h.backOffOf(JSON.stringify(p)), `${ts.baseIntervalMs},${ts.maxIntervalMs}`);
  assert.equal(routeBackOff(defaultPolicy().retry), { baseIntervalMs: 250, maxIntervalMs: 2500 });
});

twins('malformed JSON never reaches the AS policy parser', () => {
  assert.match(h.checkPolicy('{"breaker":') as string, /^json:/);
});

twins.run();
