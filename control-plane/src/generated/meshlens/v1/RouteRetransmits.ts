// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Retransmits of one (cluster, path template, tenant) over one window, summed over the connections it used.
 */
export interface RouteRetransmits {
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Bounded path template.
   */
  'pathTemplate'?: (string);
  /**
   * Bounded tenant.
   */
  'tenant'?: (string);
  /**
   * Requests in the window.
   */
  'requests'?: (number | string | Long);
  /**
   * Attributed retransmitted segments.
   */
  'retransSegs'?: (number | string);
  /**
   * Attributed sent segments.
   */
  'segsOut'?: (number | string);
  /**
   * End of the window, Unix epoch milliseconds.
   */
  'windowEndUnixMs'?: (number | string | Long);
}

/**
 * Retransmits of one (cluster, path template, tenant) over one window, summed over the connections it used.
 */
export interface RouteRetransmits__Output {
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Bounded path template.
   */
  'pathTemplate': (string);
  /**
   * Bounded tenant.
   */
  'tenant': (string);
  /**
   * Requests in the window.
   */
  'requests': (string);
  /**
   * Attributed retransmitted segments.
   */
  'retransSegs': (number);
  /**
   * Attributed sent segments.
   */
  'segsOut': (number);
  /**
   * End of the window, Unix epoch milliseconds.
   */
  'windowEndUnixMs': (string);
}
