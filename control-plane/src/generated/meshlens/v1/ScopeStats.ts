// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Outcomes of one scope over a period.
 */
export interface ScopeStats {
  /**
   * Requests.
   */
  'requests'?: (number | string | Long);
  /**
   * Of which failed.
   */
  'errors'?: (number | string | Long);
  /**
   * errors / requests.
   */
  'errorRatio'?: (number | string);
  /**
   * p99 latency in milliseconds from the reported histograms (valid when has_p99).
   */
  'p99Ms'?: (number | string);
  /**
   * Whether there were samples for a p99.
   */
  'hasP99'?: (boolean);
}

/**
 * Outcomes of one scope over a period.
 */
export interface ScopeStats__Output {
  /**
   * Requests.
   */
  'requests': (string);
  /**
   * Of which failed.
   */
  'errors': (string);
  /**
   * errors / requests.
   */
  'errorRatio': (number);
  /**
   * p99 latency in milliseconds from the reported histograms (valid when has_p99).
   */
  'p99Ms': (number);
  /**
   * Whether there were samples for a p99.
   */
  'hasP99': (boolean);
}
