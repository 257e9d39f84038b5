// Original file: protos/meshlens/v1/kernel.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Retransmit events of one flow in the interval, split by the cause the socket state tells.
 */
export interface RetransmitEventsByCause {
  /**
   * Retransmission timeout (icsk_ca_state Loss, or the retransmit timer pending).
   */
  'rto'?: (number | string | Long);
  /**
   * Fast retransmit during recovery (icsk_ca_state Recovery / CWR / Disorder).
   */
  'fast'?: (number | string | Long);
  /**
   * Tail-loss probe (the loss-probe timer pending while retransmitting).
   */
  'tlp'?: (number | string | Long);
  /**
   * SYN retransmits (socket in SYN_SENT or SYN_RECV).
   */
  'syn'?: (number | string | Long);
  /**
   * Retransmits whose cause the socket state did not reveal.
   */
  'other'?: (number | string | Long);
}

/**
 * Retransmit events of one flow in the interval, split by the cause the socket state tells.
 */
export interface RetransmitEventsByCause__Output {
  /**
   * Retransmission timeout (icsk_ca_state Loss, or the retransmit timer pending).
   */
  'rto': (string);
  /**
   * Fast retransmit during recovery (icsk_ca_state Recovery / CWR / Disorder).
   */
  'fast': (string);
  /**
   * Tail-loss probe (the loss-probe timer pending while retransmitting).
   */
  'tlp': (string);
  /**
   * SYN retransmits (socket in SYN_SENT or SYN_RECV).
   */
  'syn': (string);
  /**
   * Retransmits whose cause the socket state did not reveal.
   */
  'other': (string);
}
