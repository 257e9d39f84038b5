import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JitteredBackoff, RetryState, parseRetryHeaders } from '../../filter/host/sidecar/retry-state.ts';

const parsing = suite('retry headers');

parsing('no retry-on header means no retry state, even with x-envoy-max-retries', () => {
  assert.is(parseRetryHeaders([['x-envoy-max-retries', '3']]), undefined);
});

parsing('max retries default to 1 and the header overrides it', () => {
  assert.is(parseRetryHeaders([['x-envoy-retry-on', '5xx']])!.maxRetries, 1);
  assert.is(parseRetryHeaders([['x-envoy-retry-on', '5xx'], ['x-envoy-max-retries', '4']])!.maxRetries, 4);
  assert.is(parseRetryHeaders([['x-envoy-retry-on', '5xx'], ['x-envoy-max-retries', 'x']])!.maxRetries, 1);
});

parsing('unknown tokens are ignored and known ones kept', () => {
  const parsed = parseRetryHeaders([['x-envoy-retry-on', 'bogus, 5xx,connect-failure'], ['x-envoy-retry-grpc-on', 'unavailable,nope']])!;
  assert.equal([...parsed.retryOn].sort(), ['5xx', 'connect-failure']);
  assert.equal([...parsed.grpcRetryOn], ['unavailable']);
});

parsing.run();

const decisions = suite('retry decisions');

const stateFor = (headers: [string, string][]) => new RetryState(parseRetryHeaders(headers)!);

decisions('5xx retries any 5xx, gateway-error only 502/503/504', () => {
  const any5xx = stateFor([['x-envoy-retry-on', '5xx']]);
  const gateway = stateFor([['x-envoy-retry-on', 'gateway-error']]);
  assert.ok(any5xx.wouldRetryFromHeaders(500, []));
  assert.ok(any5xx.wouldRetryFromHeaders(599, []));
  assert.not.ok(any5xx.wouldRetryFromHeaders(409, []));
  assert.not.ok(gateway.wouldRetryFromHeaders(500, []));
  for (const code of [502, 503, 504]) assert.ok(gateway.wouldRetryFromHeaders(code, []));
});

decisions('retriable-4xx is 409 only; retriable-status-codes needs the code list', () => {
  const r4xx = stateFor([['x-envoy-retry-on', 'retriable-4xx']]);
  assert.ok(r4xx.wouldRetryFromHeaders(409, []));
  assert.not.ok(r4xx.wouldRetryFromHeaders(429, []));
  const codes = stateFor([['x-envoy-retry-on', 'retriable-status-codes'], ['x-envoy-retriable-status-codes', '418,429']]);
  assert.ok(codes.wouldRetryFromHeaders(418, []));
  assert.ok(codes.wouldRetryFromHeaders(429, []));
  assert.not.ok(codes.wouldRetryFromHeaders(500, []));
  assert.not.ok(stateFor([['x-envoy-retry-on', 'retriable-status-codes']]).wouldRetryFromHeaders(418, []));
});

decisions('x-envoy-ratelimited responses are retried only under envoy-ratelimited', () => {
  assert.not.ok(stateFor([['x-envoy-retry-on', '5xx']]).wouldRetryFromHeaders(503, [['x-envoy-ratelimited', 'true']]));
  assert.ok(stateFor([['x-envoy-retry-on', 'envoy-ratelimited']]).wouldRetryFromHeaders(429, [['x-envoy-ratelimited', 'true']]));
});

decisions('grpc-on maps each name to its status code', () => {
  const codes = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };
  for (const [name, code] of Object.entries(codes)) {
    const state = stateFor([['x-envoy-retry-grpc-on', name]]);
    assert.ok(state.wouldRetryFromHeaders(200, [['grpc-status', String(code)]]), name);
    assert.not.ok(state.wouldRetryFromHeaders(200, [['grpc-status', '0']]), `${name} vs OK`);
    assert.not.ok(state.wouldRetryFromHeaders(200, []), `${name} without grpc-status`);
  }
});

decisions('resets: connect-failure only for connection failures; reset, 5xx, gateway-error for every reset', () => {
  const connect = stateFor([['x-envoy-retry-on', 'connect-failure']]);
  assert.ok(connect.wouldRetryFromReset('remote connection failure'));
  assert.ok(connect.wouldRetryFromReset('connection timeout'));
  assert.not.ok(connect.wouldRetryFromReset('connection termination'));
  assert.not.ok(connect.wouldRetryFromReset('local reset'));
  for (const on of ['reset', '5xx', 'gateway-error']) {
    const state = stateFor([['x-envoy-retry-on', on]]);
    for (const reason of ['remote connection failure', 'connection termination', 'local reset'] as const) {
      assert.ok(state.wouldRetryFromReset(reason), `${on} ${reason}`);
    }
  }
  const refused = stateFor([['x-envoy-retry-on', 'refused-stream']]);
  assert.not.ok(refused.wouldRetryFromReset('connection termination'));
  assert.not.ok(refused.wouldRetryFromReset('remote reset'));
  assert.ok(refused.wouldRetryFromReset('remote refused stream reset'));
  assert.ok(connect.wouldRetryFromReset('connection timeout'));
  assert.not.ok(connect.wouldRetryFromReset('remote refused stream reset'));
});

decisions('shouldRetry consumes the budget then reports the limit', () => {
  const state = stateFor([['x-envoy-retry-on', '5xx'], ['x-envoy-max-retries', '2']]);
  assert.is(state.shouldRetry(false), 'no');
  assert.is(state.shouldRetry(true), 'yes');
  assert.is(state.shouldRetry(true), 'yes');
  assert.is(state.shouldRetry(true), 'limit-exceeded');
});

decisions('a full retry circuit breaker is an overflow, and the retry is still consumed', () => {
  const state = stateFor([['x-envoy-retry-on', '5xx'], ['x-envoy-max-retries', '1']]);
  assert.is(state.shouldRetry(true, () => false), 'overflow');
  assert.is(state.shouldRetry(true, () => true), 'limit-exceeded');
  assert.is(state.shouldRetry(false, () => false), 'no');
});

decisions.run();

const backoff = suite('jittered backoff');

backoff('random=0 never waits', () => {
  const b = new JitteredBackoff({ random: () => 0 });
  assert.equal([1, 2, 3, 4, 5].map(() => b.nextBackoffMs()), [0, 0, 0, 0, 0]);
});

backoff('random→1 gives the interval upper bounds: doubling from 25 ms, capped at 250 ms', () => {
  const b = new JitteredBackoff({ random: () => 0.999999 });
  assert.equal([1, 2, 3, 4, 5, 6].map(() => b.nextBackoffMs()), [24, 49, 99, 199, 249, 249]);
});

backoff('custom base and cap', () => {
  const b = new JitteredBackoff({ baseIntervalMs: 100, maxIntervalMs: 300, random: () => 0.5 });
  assert.equal([1, 2, 3, 4].map(() => b.nextBackoffMs()), [50, 100, 150, 150]);
  assert.throws(() => new JitteredBackoff({ baseIntervalMs: 0 }), /invalid backoff: baseIntervalMs must be > 0/);
});

backoff.run();
