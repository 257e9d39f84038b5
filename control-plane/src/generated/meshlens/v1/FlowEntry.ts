// Original file: protos/meshlens/v1/kernel.proto

import type { AddressFamily as _meshlens_v1_AddressFamily, AddressFamily__Output as _meshlens_v1_AddressFamily__Output } from '../../meshlens/v1/AddressFamily.ts';
import type { RetransmitEventsByCause as _meshlens_v1_RetransmitEventsByCause, RetransmitEventsByCause__Output as _meshlens_v1_RetransmitEventsByCause__Output } from '../../meshlens/v1/RetransmitEventsByCause.ts';
import type { FlowDirection as _meshlens_v1_FlowDirection, FlowDirection__Output as _meshlens_v1_FlowDirection__Output } from '../../meshlens/v1/FlowDirection.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Counters for one TCP flow over one interval. All counters are deltas for the interval unless stated otherwise.
 */
export interface FlowEntry {
  /**
   * Network namespace inode of the socket (as in /proc/<pid>/ns/net), distinguishing equal 4-tuples in different pods.
   */
  'netns'?: (number | string | Long);
  /**
   * Address family.
   */
  'family'?: (_meshlens_v1_AddressFamily);
  /**
   * Local IP address in text form ("10.0.0.1", "fd00::1").
   */
  'localAddress'?: (string);
  /**
   * Local TCP port.
   */
  'localPort'?: (number);
  /**
   * Remote IP address in text form.
   */
  'remoteAddress'?: (string);
  /**
   * Remote TCP port.
   */
  'remotePort'?: (number);
  /**
   * Retransmitted segments (sum of the GSO segment count of each retransmitted skb, as TcpRetransSegs counts).
   */
  'retransSegs'?: (number | string | Long);
  /**
   * Retransmit events (one per tcp_retransmit_skb call) by cause; their sum is the event count.
   */
  'retransEvents'?: (_meshlens_v1_RetransmitEventsByCause | null);
  /**
   * Segments sent on the flow during the interval (delta of tcp_sock.segs_out), the denominator of the retransmit ratio.
   */
  'segsOut'?: (number | string | Long);
  /**
   * Latest smoothed RTT of the flow in microseconds (gauge, tcp_sock.srtt_us >> 3); 0 when unknown.
   */
  'srttUs'?: (number);
  /**
   * True when the connection was established (opened) during this interval.
   */
  'opened'?: (boolean);
  /**
   * True when the connection closed during this interval.
   */
  'closed'?: (boolean);
  /**
   * Connection lifetime in microseconds from establishment to close; set only when closed is true.
   */
  'durationUs'?: (number | string | Long);
  /**
   * Which end opened the connection; tells which endpoint is the server.
   */
  'direction'?: (_meshlens_v1_FlowDirection);
}

/**
 * Counters for one TCP flow over one interval. All counters are deltas for the interval unless stated otherwise.
 */
export interface FlowEntry__Output {
  /**
   * Network namespace inode of the socket (as in /proc/<pid>/ns/net), distinguishing equal 4-tuples in different pods.
   */
  'netns': (string);
  /**
   * Address family.
   */
  'family': (_meshlens_v1_AddressFamily__Output);
  /**
   * Local IP address in text form ("10.0.0.1", "fd00::1").
   */
  'localAddress': (string);
  /**
   * Local TCP port.
   */
  'localPort': (number);
  /**
   * Remote IP address in text form.
   */
  'remoteAddress': (string);
  /**
   * Remote TCP port.
   */
  'remotePort': (number);
  /**
   * Retransmitted segments (sum of the GSO segment count of each retransmitted skb, as TcpRetransSegs counts).
   */
  'retransSegs': (string);
  /**
   * Retransmit events (one per tcp_retransmit_skb call) by cause; their sum is the event count.
   */
  'retransEvents': (_meshlens_v1_RetransmitEventsByCause__Output | null);
  /**
   * Segments sent on the flow during the interval (delta of tcp_sock.segs_out), the denominator of the retransmit ratio.
   */
  'segsOut': (string);
  /**
   * Latest smoothed RTT of the flow in microseconds (gauge, tcp_sock.srtt_us >> 3); 0 when unknown.
   */
  'srttUs': (number);
  /**
   * True when the connection was established (opened) during this interval.
   */
  'opened': (boolean);
  /**
   * True when the connection closed during this interval.
   */
  'closed': (boolean);
  /**
   * Connection lifetime in microseconds from establishment to close; set only when closed is true.
   */
  'durationUs': (string);
  /**
   * Which end opened the connection; tells which endpoint is the server.
   */
  'direction': (_meshlens_v1_FlowDirection__Output);
}
