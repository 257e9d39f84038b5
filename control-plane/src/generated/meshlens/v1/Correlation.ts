// Original file: protos/meshlens/v1/admin.proto

import type { FlowDirection as _meshlens_v1_FlowDirection, FlowDirection__Output as _meshlens_v1_FlowDirection__Output } from '../../meshlens/v1/FlowDirection.ts';
import type { RouteShare as _meshlens_v1_RouteShare, RouteShare__Output as _meshlens_v1_RouteShare__Output } from '../../meshlens/v1/RouteShare.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Kernel counters of one flow joined to the request outcomes reported on the same connection in one window.
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
   * Upstream cluster as the filter reported it ("" if no filter reported the connection in any kept window).
   */
  'cluster'?: (string);
  /**
   * Retransmitted segments in the window.
   */
  'retransSegs'?: (number | string | Long);
  /**
   * Segments sent in the window.
   */
  'segsOut'?: (number | string | Long);
  /**
   * Requests on the connection in the window.
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
  /**
   * Node agent that reported the flow.
   */
  'nodeName'?: (string);
  /**
   * Network namespace inode of the socket.
   */
  'netns'?: (number | string | Long);
  /**
   * Proxy identity living in that namespace, as the agent resolved it ("" unknown: the flow joins nothing).
   */
  'proxyId'?: (string);
  /**
   * End of the window, Unix epoch milliseconds.
   */
  'windowEndUnixMs'?: (number | string | Long);
  /**
   * Latest smoothed RTT in microseconds; 0 unknown.
   */
  'srttUs'?: (number);
  /**
   * The connection's segments split between the routes and tenants that used it.
   */
  'routes'?: (_meshlens_v1_RouteShare)[];
}

/**
 * Kernel counters of one flow joined to the request outcomes reported on the same connection in one window.
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
   * Upstream cluster as the filter reported it ("" if no filter reported the connection in any kept window).
   */
  'cluster': (string);
  /**
   * Retransmitted segments in the window.
   */
  'retransSegs': (string);
  /**
   * Segments sent in the window.
   */
  'segsOut': (string);
  /**
   * Requests on the connection in the window.
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
  /**
   * Node agent that reported the flow.
   */
  'nodeName': (string);
  /**
   * Network namespace inode of the socket.
   */
  'netns': (string);
  /**
   * Proxy identity living in that namespace, as the agent resolved it ("" unknown: the flow joins nothing).
   */
  'proxyId': (string);
  /**
   * End of the window, Unix epoch milliseconds.
   */
  'windowEndUnixMs': (string);
  /**
   * Latest smoothed RTT in microseconds; 0 unknown.
   */
  'srttUs': (number);
  /**
   * The connection's segments split between the routes and tenants that used it.
   */
  'routes': (_meshlens_v1_RouteShare__Output)[];
}
