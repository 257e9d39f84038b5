// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The share of one connection's window used by one (path template, tenant).
 */
export interface RouteShare {
  /**
   * Bounded path template.
   */
  'pathTemplate'?: (string);
  /**
   * Bounded tenant.
   */
  'tenant'?: (string);
  /**
   * Requests of this pair on the connection in the window.
   */
  'requests'?: (number | string | Long);
  /**
   * Of which failed.
   */
  'errors'?: (number | string | Long);
  /**
   * Retransmitted segments attributed to the pair (in proportion to its requests; fractional).
   */
  'retransSegs'?: (number | string);
  /**
   * Sent segments attributed to the pair.
   */
  'segsOut'?: (number | string);
}

/**
 * The share of one connection's window used by one (path template, tenant).
 */
export interface RouteShare__Output {
  /**
   * Bounded path template.
   */
  'pathTemplate': (string);
  /**
   * Bounded tenant.
   */
  'tenant': (string);
  /**
   * Requests of this pair on the connection in the window.
   */
  'requests': (string);
  /**
   * Of which failed.
   */
  'errors': (string);
  /**
   * Retransmitted segments attributed to the pair (in proportion to its requests; fractional).
   */
  'retransSegs': (number);
  /**
   * Sent segments attributed to the pair.
   */
  'segsOut': (number);
}
