// Original file: protos/meshlens/v1/admin.proto


/**
 * How many reporting nodes (proxies) see a breaker scope in each state.
 */
export interface BreakerNodeCounts {
  /**
   * Nodes reporting Closed.
   */
  'closed'?: (number);
  /**
   * Nodes reporting Open.
   */
  'open'?: (number);
  /**
   * Nodes reporting HalfOpen.
   */
  'halfOpen'?: (number);
}

/**
 * How many reporting nodes (proxies) see a breaker scope in each state.
 */
export interface BreakerNodeCounts__Output {
  /**
   * Nodes reporting Closed.
   */
  'closed': (number);
  /**
   * Nodes reporting Open.
   */
  'open': (number);
  /**
   * Nodes reporting HalfOpen.
   */
  'halfOpen': (number);
}
