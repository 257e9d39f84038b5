// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Signals of an endpoint over one window, or their baseline.
 */
export interface EndpointSignals {
  /**
   * Requests (baseline: windows that fed the outcome averages).
   */
  'requests'?: (number | string | Long);
  /**
   * Failed requests.
   */
  'errors'?: (number | string | Long);
  /**
   * Retransmitted segments.
   */
  'retransSegs'?: (number | string | Long);
  /**
   * Sent segments (baseline: windows that fed the kernel averages).
   */
  'segsOut'?: (number | string | Long);
  /**
   * Retransmitted / sent segments.
   */
  'retransRatio'?: (number | string);
  /**
   * Smoothed RTT in microseconds.
   */
  'srttUs'?: (number | string);
  /**
   * Failed / requests.
   */
  'errorRatio'?: (number | string);
  /**
   * Slow calls (the policy's slowCallMs) / requests.
   */
  'slowCallRatio'?: (number | string);
  /**
   * Requests slower than tail_ms / requests.
   */
  'latencyTailRatio'?: (number | string);
  /**
   * Mean request duration in milliseconds.
   */
  'meanLatencyMs'?: (number | string);
  /**
   * Threshold of the latency tail (4 × baseline mean latency, at least 150 ms).
   */
  'tailMs'?: (number | string);
  /**
   * Retransmitted segments per request (exact per window, unlike sent segments, which the collector samples only on
   * retransmits and state changes).
   */
  'retransPerRequest'?: (number | string);
}

/**
 * Signals of an endpoint over one window, or their baseline.
 */
export interface EndpointSignals__Output {
  /**
   * Requests (baseline: windows that fed the outcome averages).
   */
  'requests': (string);
  /**
   * Failed requests.
   */
  'errors': (string);
  /**
   * Retransmitted segments.
   */
  'retransSegs': (string);
  /**
   * Sent segments (baseline: windows that fed the kernel averages).
   */
  'segsOut': (string);
  /**
   * Retransmitted / sent segments.
   */
  'retransRatio': (number);
  /**
   * Smoothed RTT in microseconds.
   */
  'srttUs': (number);
  /**
   * Failed / requests.
   */
  'errorRatio': (number);
  /**
   * Slow calls (the policy's slowCallMs) / requests.
   */
  'slowCallRatio': (number);
  /**
   * Requests slower than tail_ms / requests.
   */
  'latencyTailRatio': (number);
  /**
   * Mean request duration in milliseconds.
   */
  'meanLatencyMs': (number);
  /**
   * Threshold of the latency tail (4 × baseline mean latency, at least 150 ms).
   */
  'tailMs': (number);
  /**
   * Retransmitted segments per request (exact per window, unlike sent segments, which the collector samples only on
   * retransmits and state changes).
   */
  'retransPerRequest': (number);
}
