// Original file: protos/meshlens/v1/telemetry.proto


/**
 * Requests of one (path template, tenant) on one upstream connection: the weights by which the control plane splits
 * the connection's kernel counters (retransmitted and sent segments) between the routes and tenants that used it.
 */
export interface ConnectionRouteShare {
  /**
   * Bounded path template ("~other" also for pairs beyond the filter's per-connection cap).
   */
  'pathTemplate'?: (string);
  /**
   * Bounded tenant ("~other" also for pairs beyond the filter's per-connection cap).
   */
  'tenant'?: (string);
  /**
   * Requests of the pair completed on the connection in the window.
   */
  'requests'?: (number);
  /**
   * Of which failed.
   */
  'errors'?: (number);
}

/**
 * Requests of one (path template, tenant) on one upstream connection: the weights by which the control plane splits
 * the connection's kernel counters (retransmitted and sent segments) between the routes and tenants that used it.
 */
export interface ConnectionRouteShare__Output {
  /**
   * Bounded path template ("~other" also for pairs beyond the filter's per-connection cap).
   */
  'pathTemplate': (string);
  /**
   * Bounded tenant ("~other" also for pairs beyond the filter's per-connection cap).
   */
  'tenant': (string);
  /**
   * Requests of the pair completed on the connection in the window.
   */
  'requests': (number);
  /**
   * Of which failed.
   */
  'errors': (number);
}
