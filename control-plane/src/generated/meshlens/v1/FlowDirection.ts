// Original file: protos/meshlens/v1/kernel.proto

/**
 * Which end opened a connection, as the collector saw it establish (Linkerd's convention for TCP metrics).
 */
export const FlowDirection = {
  /**
   * Unknown: the collector did not see the connection open (it predates the collector, or the source is `ss -ti`).
   */
  FLOW_DIRECTION_UNSPECIFIED: 'FLOW_DIRECTION_UNSPECIFIED',
  /**
   * This node connected out (SYN_SENT to ESTABLISHED, or a retransmitted SYN): the remote endpoint is the server.
   */
  FLOW_DIRECTION_OUTBOUND: 'FLOW_DIRECTION_OUTBOUND',
  /**
   * This node accepted the connection (SYN_RECV to ESTABLISHED, or a retransmitted SYN-ACK): the local endpoint is
   * the server.
   */
  FLOW_DIRECTION_INBOUND: 'FLOW_DIRECTION_INBOUND',
} as const;

/**
 * Which end opened a connection, as the collector saw it establish (Linkerd's convention for TCP metrics).
 */
export type FlowDirection =
  /**
   * Unknown: the collector did not see the connection open (it predates the collector, or the source is `ss -ti`).
   */
  | 'FLOW_DIRECTION_UNSPECIFIED'
  | 0
  /**
   * This node connected out (SYN_SENT to ESTABLISHED, or a retransmitted SYN): the remote endpoint is the server.
   */
  | 'FLOW_DIRECTION_OUTBOUND'
  | 1
  /**
   * This node accepted the connection (SYN_RECV to ESTABLISHED, or a retransmitted SYN-ACK): the local endpoint is
   * the server.
   */
  | 'FLOW_DIRECTION_INBOUND'
  | 2

/**
 * Which end opened a connection, as the collector saw it establish (Linkerd's convention for TCP metrics).
 */
export type FlowDirection__Output = typeof FlowDirection[keyof typeof FlowDirection]
