// Original file: protos/meshlens/v1/policy.proto

/**
 * Outcome of the filter's retry decision for one request (label `decision` of meshlens_retry_decisions_total).
 */
export const RetryDecision = {
  /**
   * Not set.
   */
  RETRY_DECISION_UNSPECIFIED: 'RETRY_DECISION_UNSPECIFIED',
  /**
   * Retry headers were set; the budget allowed it.
   */
  RETRY_DECISION_GRANTED: 'RETRY_DECISION_GRANTED',
  /**
   * Retries withheld because the retry budget was spent.
   */
  RETRY_DECISION_BUDGET_EXHAUSTED: 'RETRY_DECISION_BUDGET_EXHAUSTED',
  /**
   * Retries withheld because the scope's breaker is Open or HalfOpen.
   */
  RETRY_DECISION_BREAKER_OPEN: 'RETRY_DECISION_BREAKER_OPEN',
  /**
   * Retries withheld because the method is not idempotent and the policy requires idempotent_only.
   */
  RETRY_DECISION_NOT_IDEMPOTENT: 'RETRY_DECISION_NOT_IDEMPOTENT',
  /**
   * Retries disabled by the policy.
   */
  RETRY_DECISION_DISABLED: 'RETRY_DECISION_DISABLED',
} as const;

/**
 * Outcome of the filter's retry decision for one request (label `decision` of meshlens_retry_decisions_total).
 */
export type RetryDecision =
  /**
   * Not set.
   */
  | 'RETRY_DECISION_UNSPECIFIED'
  | 0
  /**
   * Retry headers were set; the budget allowed it.
   */
  | 'RETRY_DECISION_GRANTED'
  | 1
  /**
   * Retries withheld because the retry budget was spent.
   */
  | 'RETRY_DECISION_BUDGET_EXHAUSTED'
  | 2
  /**
   * Retries withheld because the scope's breaker is Open or HalfOpen.
   */
  | 'RETRY_DECISION_BREAKER_OPEN'
  | 3
  /**
   * Retries withheld because the method is not idempotent and the policy requires idempotent_only.
   */
  | 'RETRY_DECISION_NOT_IDEMPOTENT'
  | 4
  /**
   * Retries disabled by the policy.
   */
  | 'RETRY_DECISION_DISABLED'
  | 5

/**
 * Outcome of the filter's retry decision for one request (label `decision` of meshlens_retry_decisions_total).
 */
export type RetryDecision__Output = typeof RetryDecision[keyof typeof RetryDecision]
