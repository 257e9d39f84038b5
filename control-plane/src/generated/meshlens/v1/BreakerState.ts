// Original file: protos/meshlens/v1/policy.proto

/**
 * State of one circuit-breaker scope (cluster, or cluster × tenant). The same three words everywhere.
 */
export const BreakerState = {
  /**
   * Not set; never sent by a correct sender.
   */
  BREAKER_STATE_UNSPECIFIED: 'BREAKER_STATE_UNSPECIFIED',
  /**
   * Admits all requests.
   */
  BREAKER_STATE_CLOSED: 'BREAKER_STATE_CLOSED',
  /**
   * Rejects all requests (local 503 with `x-meshlens-breaker: open`).
   */
  BREAKER_STATE_OPEN: 'BREAKER_STATE_OPEN',
  /**
   * Admits up to half_open_probes requests; closes after half_open_successes successes, reopens on a failure.
   */
  BREAKER_STATE_HALF_OPEN: 'BREAKER_STATE_HALF_OPEN',
} as const;

/**
 * State of one circuit-breaker scope (cluster, or cluster × tenant). The same three words everywhere.
 */
export type BreakerState =
  /**
   * Not set; never sent by a correct sender.
   */
  | 'BREAKER_STATE_UNSPECIFIED'
  | 0
  /**
   * Admits all requests.
   */
  | 'BREAKER_STATE_CLOSED'
  | 1
  /**
   * Rejects all requests (local 503 with `x-meshlens-breaker: open`).
   */
  | 'BREAKER_STATE_OPEN'
  | 2
  /**
   * Admits up to half_open_probes requests; closes after half_open_successes successes, reopens on a failure.
   */
  | 'BREAKER_STATE_HALF_OPEN'
  | 3

/**
 * State of one circuit-breaker scope (cluster, or cluster × tenant). The same three words everywhere.
 */
export type BreakerState__Output = typeof BreakerState[keyof typeof BreakerState]
