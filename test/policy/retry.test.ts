// Retry budget and retry decisions (filter/assembly/policy/retry-budget.ts, retry-decision.ts) through the AS
// harness: budget arithmetic, the decision order, and the exact Envoy headers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadHarness } from './load-harness.ts';

const h = await loadHarness();
const CLOSED = 0, OPEN = 1, HALF_OPEN = 2;

const budget = suite('retry budget');

budget('ratio of requests over the window, with a floor of minRetriesPerSecond × window seconds', () => {
  const p = JSON.stringify({ breaker: { windowMs: 10000 }, retry: { budgetRatio: 0.2, minRetriesPerSecond: 10 } });
  assert.is(h.budgetRemaining(p, 0, 0), 100, 'floor: 10/s × 10 s');
  assert.is(h.budgetRemaining(p, 400, 0), 100, '20 % of 400 = 80 is below the floor');
  assert.is(h.budgetRemaining(p, 1000, 0), 200);
  assert.is(h.budgetRemaining(p, 1000, 150), 50);
  assert.is(h.budgetRemaining(p, 1000, 200), 0);
  assert.is(h.budgetRemaining(p, 1000, 250), 0, 'never negative');
});

budget('a zero floor leaves only the ratio', () => {
  const p = JSON.stringify({ retry: { budgetRatio: 0.1, minRetriesPerSecond: 0 } });
  assert.is(h.budgetRemaining(p, 0, 0), 0);
  assert.is(h.budgetRemaining(p, 99, 0), 9);
});

budget.run();

const decide = suite('retry decision');
const defaults = '{}';
const lines = (s: string) => s.split('\n');

decide('idempotent HTTP request under defaults: every HTTP kind, the largest row as max retries', () => {
  assert.equal(lines(h.decide(defaults, 'GET', 'text/html', CLOSED, 100)), [
    'granted', 'x-envoy-retry-on: 5xx,gateway-error,connect-failure,reset', 'x-envoy-max-retries: 2',
  ]);
});

decide('gRPC request with idempotentOnly: connect-failure and UNAVAILABLE (3 retries), as Istio retries for every method', () => {
  assert.equal(lines(h.decide(defaults, 'POST', 'application/grpc', CLOSED, 100)), [
    'granted', 'x-envoy-retry-on: connect-failure', 'x-envoy-retry-grpc-on: unavailable', 'x-envoy-max-retries: 3',
  ]);
  // The other gRPC rows stay behind idempotentOnly: the server may have processed the call.
  const allGrpcRows = JSON.stringify({ retry: { on: {
    'grpc-cancelled': { maxRetries: 1 }, 'grpc-deadline-exceeded': { maxRetries: 1 }, 'grpc-internal': { maxRetries: 4 },
    'grpc-resource-exhausted': { maxRetries: 1 } } } });
  assert.equal(lines(h.decide(allGrpcRows, 'POST', 'application/grpc', CLOSED, 100)), [
    'granted', 'x-envoy-retry-on: connect-failure', 'x-envoy-retry-grpc-on: unavailable', 'x-envoy-max-retries: 3',
  ]);
});

decide('gRPC UNAVAILABLE alone still grants a non-idempotent gRPC call; HTTP 5xx/reset rows do not apply to it', () => {
  const p = JSON.stringify({ retry: { on: { 'connect-failure': { maxRetries: 0 } } } });
  assert.equal(lines(h.decide(p, 'POST', 'application/grpc', CLOSED, 100)), [
    'granted', 'x-envoy-retry-grpc-on: unavailable', 'x-envoy-max-retries: 3',
  ]);
  // A non-gRPC POST never gets gRPC rows: with connect-failure off nothing applies.
  assert.is(h.decide(p, 'POST', 'application/json', CLOSED, 100), 'not_idempotent\nx-envoy-max-retries: 0');
});

decide('gRPC request of a policy that allows non-idempotent retries gets x-envoy-retry-grpc-on', () => {
  const p = JSON.stringify({ retry: { idempotentOnly: false, perTryTimeoutMs: 1500 } });
  assert.equal(lines(h.decide(p, 'POST', 'application/grpc+proto', CLOSED, 100)), [
    'granted', 'x-envoy-retry-on: 5xx,gateway-error,connect-failure,reset', 'x-envoy-retry-grpc-on: unavailable',
    'x-envoy-max-retries: 3', 'x-envoy-upstream-rq-per-try-timeout-ms: 1500',
  ]);
});

decide('POST without a connect-failure row is not idempotent', () => {
  const p = JSON.stringify({ retry: { on: { 'connect-failure': { maxRetries: 0 } } } });
  assert.is(h.decide(p, 'POST', 'application/json', CLOSED, 100), 'not_idempotent\nx-envoy-max-retries: 0');
  assert.is(h.decide(p, 'PATCH', '', CLOSED, 100), 'not_idempotent\nx-envoy-max-retries: 0');
  assert.match(h.decide(p, 'PUT', '', CLOSED, 100), /^granted/);
  assert.match(h.decide(p, 'DELETE', '', CLOSED, 100), /^granted/);
});

decide('no retries while the scope is Open or HalfOpen, even by a route retry policy (max-retries 0 overrides it)', () => {
  assert.is(h.decide(defaults, 'GET', '', OPEN, 100), 'breaker_open\nx-envoy-max-retries: 0');
  assert.is(h.decide(defaults, 'GET', '', HALF_OPEN, 100), 'breaker_open\nx-envoy-max-retries: 0');
});

decide('an exhausted budget refuses; a nearly exhausted one caps max retries', () => {
  assert.is(h.decide(defaults, 'GET', '', CLOSED, 0), 'budget_exhausted\nx-envoy-max-retries: 0');
  assert.equal(lines(h.decide(defaults, 'GET', '', CLOSED, 1))[2], 'x-envoy-max-retries: 1');
});

decide('disabled retries, or a table of zeros, decide Disabled before anything else and leave the route alone', () => {
  assert.is(h.decide(JSON.stringify({ retry: { enabled: false } }), 'GET', '', OPEN, 0), 'disabled');
  const zeros = Object.fromEntries(['5xx', 'gateway-error', 'connect-failure', 'reset', 'grpc-unavailable']
    .map((k) => [k, { maxRetries: 0 }]));
  assert.is(h.decide(JSON.stringify({ retry: { on: zeros } }), 'GET', '', CLOSED, 100), 'disabled');
});

decide('retriable status codes are passed on with their own header', () => {
  const p = JSON.stringify({ retry: { retriableStatusCodes: [503, 429], on: { 'retriable-status-codes': { maxRetries: 3 } } } });
  assert.equal(lines(h.decide(p, 'GET', '', CLOSED, 100)), [
    'granted', 'x-envoy-retry-on: 5xx,gateway-error,connect-failure,reset,retriable-status-codes',
    'x-envoy-max-retries: 3', 'x-envoy-retriable-status-codes: 503,429',
  ]);
});

decide('gRPC is recognised the way Envoy does', () => {
  assert.ok(h.grpcContentType('application/grpc'));
  assert.ok(h.grpcContentType('application/grpc+proto'));
  assert.ok(h.grpcContentType('application/grpc;charset=utf-8'));
  assert.ok(h.grpcContentType('Application/GRPC'));
  assert.not.ok(h.grpcContentType('application/grpc-web'));
  assert.not.ok(h.grpcContentType('application/json'));
  assert.not.ok(h.grpcContentType(''));
});

decide.run();
