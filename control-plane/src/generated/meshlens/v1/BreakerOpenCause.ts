// Original file: protos/meshlens/v1/telemetry.proto

/**
 * Why a breaker scope opened.
 */
export const BreakerOpenCause = {
  /**
   * Never opened.
   */
  BREAKER_OPEN_CAUSE_UNSPECIFIED: 'BREAKER_OPEN_CAUSE_UNSPECIFIED',
  /**
   * The window's failure ratio reached errorRateThreshold.
   */
  BREAKER_OPEN_CAUSE_ERROR_RATE: 'BREAKER_OPEN_CAUSE_ERROR_RATE',
  /**
   * The window's slow-call ratio reached slowCallRateThreshold.
   */
  BREAKER_OPEN_CAUSE_SLOW_CALL_RATE: 'BREAKER_OPEN_CAUSE_SLOW_CALL_RATE',
  /**
   * A HalfOpen probe failed (or was slow).
   */
  BREAKER_OPEN_CAUSE_PROBE_FAILED: 'BREAKER_OPEN_CAUSE_PROBE_FAILED',
} as const;

/**
 * Why a breaker scope opened.
 */
export type BreakerOpenCause =
  /**
   * Never opened.
   */
  | 'BREAKER_OPEN_CAUSE_UNSPECIFIED'
  | 0
  /**
   * The window's failure ratio reached errorRateThreshold.
   */
  | 'BREAKER_OPEN_CAUSE_ERROR_RATE'
  | 1
  /**
   * The window's slow-call ratio reached slowCallRateThreshold.
   */
  | 'BREAKER_OPEN_CAUSE_SLOW_CALL_RATE'
  | 2
  /**
   * A HalfOpen probe failed (or was slow).
   */
  | 'BREAKER_OPEN_CAUSE_PROBE_FAILED'
  | 3

/**
 * Why a breaker scope opened.
 */
export type BreakerOpenCause__Output = typeof BreakerOpenCause[keyof typeof BreakerOpenCause]
