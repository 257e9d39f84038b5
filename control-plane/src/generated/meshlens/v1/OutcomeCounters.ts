// Original file: protos/meshlens/v1/telemetry.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Outcome counters of one key over the report window.
 * Duration histogram upper bounds in milliseconds (Envoy's default buckets, cumulative-free: bucket i counts calls
 * with bounds[i-1] < duration <= bounds[i]; the last entry counts everything above the last bound):
 * 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000.
 */
export interface OutcomeCounters {
  /**
   * Requests completed (on_log) in the window, excluding local breaker rejections.
   */
  'requests'?: (number);
  /**
   * Requests that failed (5xx, gRPC UNAVAILABLE/INTERNAL/DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED/CANCELLED, resets).
   */
  'errors'?: (number);
  /**
   * Requests whose duration was at least the policy's slow_call_ms.
   */
  'slowCalls'?: (number);
  /**
   * Sum of request durations in milliseconds.
   */
  'durationMsSum'?: (number | string | Long);
  /**
   * Duration histogram, per the bounds above: up to 20 entries, trailing zero buckets may be omitted (packed).
   */
  'durationBuckets'?: (number)[];
  /**
   * Retries performed by Envoy for these requests (upstream.request_attempt_count - 1, summed).
   */
  'retries'?: (number);
  /**
   * Requests rejected locally by an Open or HalfOpen breaker.
   */
  'breakerRejections'?: (number);
  /**
   * Of the errors and slow calls, those served by a network-suspect endpoint under a network-aware policy
   * (BreakerPolicy.network_aware), which its breaker did not count: their cause is the network (cause
   * "network-suspect"), not the application.
   */
  'networkSuspectFailures'?: (number);
}

/**
 * Outcome counters of one key over the report window.
 * Duration histogram upper bounds in milliseconds (Envoy's default buckets, cumulative-free: bucket i counts calls
 * with bounds[i-1] < duration <= bounds[i]; the last entry counts everything above the last bound):
 * 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000.
 */
export interface OutcomeCounters__Output {
  /**
   * Requests completed (on_log) in the window, excluding local breaker rejections.
   */
  'requests': (number);
  /**
   * Requests that failed (5xx, gRPC UNAVAILABLE/INTERNAL/DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED/CANCELLED, resets).
   */
  'errors': (number);
  /**
   * Requests whose duration was at least the policy's slow_call_ms.
   */
  'slowCalls': (number);
  /**
   * Sum of request durations in milliseconds.
   */
  'durationMsSum': (string);
  /**
   * Duration histogram, per the bounds above: up to 20 entries, trailing zero buckets may be omitted (packed).
   */
  'durationBuckets': (number)[];
  /**
   * Retries performed by Envoy for these requests (upstream.request_attempt_count - 1, summed).
   */
  'retries': (number);
  /**
   * Requests rejected locally by an Open or HalfOpen breaker.
   */
  'breakerRejections': (number);
  /**
   * Of the errors and slow calls, those served by a network-suspect endpoint under a network-aware policy
   * (BreakerPolicy.network_aware), which its breaker did not count: their cause is the network (cause
   * "network-suspect"), not the application.
   */
  'networkSuspectFailures': (number);
}
