// Original file: protos/meshlens/v1/admin.proto

import type { FlowDirection as _meshlens_v1_FlowDirection, FlowDirection__Output as _meshlens_v1_FlowDirection__Output } from '../../meshlens/v1/FlowDirection.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Kernel counters of one flow joined to the request outcomes reported on the same connection.
 */
export interface Correlation {
  /**
   * Local "ip:port" of the connection (the filter's upstream.local_address).
   */
  'localAddress'?: (string);
  /**
   * Remote "ip:port" (the filter's upstream.address).
   */
  'remoteAddress'?: (string);
  /**
   * Upstream cluster as the filter reported it ("" if no filter reported the connection).
   */
  'cluster'?: (string);
  /**
   * Retransmitted segments in the latest kernel interval.
   */
  'retransSegs'?: (number | string | Long);
  /**
   * Segments sent in the latest kernel interval.
   */
  'segsOut'?: (number | string | Long);
  /**
   * Requests on the connection in the latest filter window.
   */
  'requests'?: (number | string | Long);
  /**
   * Of which failed.
   */
  'errors'?: (number | string | Long);
  /**
   * Which end opened the connection, as the kernel saw it on the node that reported the flow.
   */
  'direction'?: (_meshlens_v1_FlowDirection);
}

/**
 * Kernel counters of one flow joined to the request outcomes reported on the same connection.
 */
export interface Correlation__Output {
  /**
   * Local "ip:port" of the connection (the filter's upstream.local_address).
   */
  'localAddress': (string);
  /**
   * Remote "ip:port" (the filter's upstream.address).
   */
  'remoteAddress': (string);
  /**
   * Upstream cluster as the filter reported it ("" if no filter reported the connection).
   */
  'cluster': (string);
  /**
   * Retransmitted segments in the latest kernel interval.
   */
  'retransSegs': (string);
  /**
   * Segments sent in the latest kernel interval.
   */
  'segsOut': (string);
  /**
   * Requests on the connection in the latest filter window.
   */
  'requests': (string);
  /**
   * Of which failed.
   */
  'errors': (string);
  /**
   * Which end opened the connection, as the kernel saw it on the node that reported the flow.
   */
  'direction': (_meshlens_v1_FlowDirection__Output);
}
