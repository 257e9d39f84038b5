// Original file: protos/meshlens/v1/admin.proto

/**
 * Verdict about one upstream endpoint.
 */
export const EndpointVerdict = {
  /**
   * Not set.
   */
  ENDPOINT_VERDICT_UNSPECIFIED: 'ENDPOINT_VERDICT_UNSPECIFIED',
  /**
   * Nothing departs from the endpoint's baseline.
   */
  ENDPOINT_VERDICT_HEALTHY: 'ENDPOINT_VERDICT_HEALTHY',
  /**
   * The retransmit ratio (or RTT) departs from baseline while latency rises.
   */
  ENDPOINT_VERDICT_NETWORK_SUSPECT: 'ENDPOINT_VERDICT_NETWORK_SUSPECT',
  /**
   * Errors or latency rise while retransmits stay at baseline.
   */
  ENDPOINT_VERDICT_APP_FAILING: 'ENDPOINT_VERDICT_APP_FAILING',
  /**
   * Retransmits depart and errors rise.
   */
  ENDPOINT_VERDICT_BOTH: 'ENDPOINT_VERDICT_BOTH',
  /**
   * No kernel data joined for the endpoint.
   */
  ENDPOINT_VERDICT_UNKNOWN: 'ENDPOINT_VERDICT_UNKNOWN',
} as const;

/**
 * Verdict about one upstream endpoint.
 */
export type EndpointVerdict =
  /**
   * Not set.
   */
  | 'ENDPOINT_VERDICT_UNSPECIFIED'
  | 0
  /**
   * Nothing departs from the endpoint's baseline.
   */
  | 'ENDPOINT_VERDICT_HEALTHY'
  | 1
  /**
   * The retransmit ratio (or RTT) departs from baseline while latency rises.
   */
  | 'ENDPOINT_VERDICT_NETWORK_SUSPECT'
  | 2
  /**
   * Errors or latency rise while retransmits stay at baseline.
   */
  | 'ENDPOINT_VERDICT_APP_FAILING'
  | 3
  /**
   * Retransmits depart and errors rise.
   */
  | 'ENDPOINT_VERDICT_BOTH'
  | 4
  /**
   * No kernel data joined for the endpoint.
   */
  | 'ENDPOINT_VERDICT_UNKNOWN'
  | 5

/**
 * Verdict about one upstream endpoint.
 */
export type EndpointVerdict__Output = typeof EndpointVerdict[keyof typeof EndpointVerdict]
