// Original file: protos/meshlens/v1/policy.proto

import type { RetryRule as _meshlens_v1_RetryRule, RetryRule__Output as _meshlens_v1_RetryRule__Output } from '../../meshlens/v1/RetryRule.ts';

/**
 * Retry decisions made in the filter under a retry budget.
 */
export interface RetryPolicy {
  /**
   * When false the filter never sets retry headers (decision DISABLED).
   */
  'enabled'?: (boolean);
  /**
   * When true only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) are retried.
   */
  'idempotentOnly'?: (boolean);
  /**
   * Per-try timeout in milliseconds (x-envoy-upstream-rq-per-try-timeout-ms); 0 means none.
   */
  'perTryTimeoutMs'?: (number);
  /**
   * Retries may be at most this fraction of requests over the window, in [0, 1].
   */
  'budgetRatio'?: (number | string);
  /**
   * Retries per second always allowed regardless of budget_ratio (the budget's floor).
   */
  'minRetriesPerSecond'?: (number);
  /**
   * Cap of the backoff in milliseconds.
   */
  'backoffMaxMs'?: (number);
  /**
   * Rules by failure kind: "5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx",
   * "retriable-status-codes", "grpc-cancelled", "grpc-deadline-exceeded", "grpc-internal", "grpc-resource-exhausted",
   * "grpc-unavailable". Encoded as repeated entries {1: key string, 2: RetryRule}, as every proto3 map; the
   * control plane pushes every kind, in this order.
   */
  'on'?: ({[key: string]: _meshlens_v1_RetryRule});
  /**
   * HTTP status codes retried under "retriable-status-codes" (x-envoy-retriable-status-codes), at most 32, each in
   * [100, 599]. Packed varints as every proto3 repeated scalar; decoders must also accept the unpacked form.
   */
  'retriableStatusCodes'?: (number)[];
  '_enabled'?: "enabled";
  '_idempotentOnly'?: "idempotentOnly";
  '_perTryTimeoutMs'?: "perTryTimeoutMs";
  '_budgetRatio'?: "budgetRatio";
  '_minRetriesPerSecond'?: "minRetriesPerSecond";
  '_backoffMaxMs'?: "backoffMaxMs";
}

/**
 * Retry decisions made in the filter under a retry budget.
 */
export interface RetryPolicy__Output {
  /**
   * When false the filter never sets retry headers (decision DISABLED).
   */
  'enabled'?: (boolean);
  /**
   * When true only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) are retried.
   */
  'idempotentOnly'?: (boolean);
  /**
   * Per-try timeout in milliseconds (x-envoy-upstream-rq-per-try-timeout-ms); 0 means none.
   */
  'perTryTimeoutMs'?: (number);
  /**
   * Retries may be at most this fraction of requests over the window, in [0, 1].
   */
  'budgetRatio'?: (number);
  /**
   * Retries per second always allowed regardless of budget_ratio (the budget's floor).
   */
  'minRetriesPerSecond'?: (number);
  /**
   * Cap of the backoff in milliseconds.
   */
  'backoffMaxMs'?: (number);
  /**
   * Rules by failure kind: "5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx",
   * "retriable-status-codes", "grpc-cancelled", "grpc-deadline-exceeded", "grpc-internal", "grpc-resource-exhausted",
   * "grpc-unavailable". Encoded as repeated entries {1: key string, 2: RetryRule}, as every proto3 map; the
   * control plane pushes every kind, in this order.
   */
  'on': ({[key: string]: _meshlens_v1_RetryRule__Output});
  /**
   * HTTP status codes retried under "retriable-status-codes" (x-envoy-retriable-status-codes), at most 32, each in
   * [100, 599]. Packed varints as every proto3 repeated scalar; decoders must also accept the unpacked form.
   */
  'retriableStatusCodes': (number)[];
  '_enabled'?: "enabled";
  '_idempotentOnly'?: "idempotentOnly";
  '_perTryTimeoutMs'?: "perTryTimeoutMs";
  '_budgetRatio'?: "budgetRatio";
  '_minRetriesPerSecond'?: "minRetriesPerSecond";
  '_backoffMaxMs'?: "backoffMaxMs";
}
