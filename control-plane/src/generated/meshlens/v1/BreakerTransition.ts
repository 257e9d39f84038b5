// Original file: protos/meshlens/v1/admin.proto

import type { BreakerState as _meshlens_v1_BreakerState, BreakerState__Output as _meshlens_v1_BreakerState__Output } from '../../meshlens/v1/BreakerState.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One state change of a breaker scope on one node.
 */
export interface BreakerTransition {
  /**
   * When the node's breaker entered `to`, Unix epoch milliseconds.
   */
  'atUnixMs'?: (number | string | Long);
  /**
   * Node.id of the reporting proxy.
   */
  'node'?: (string);
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Tenant; "" for a cluster-wide scope.
   */
  'tenant'?: (string);
  /**
   * Previous state.
   */
  'from'?: (_meshlens_v1_BreakerState);
  /**
   * New state.
   */
  'to'?: (_meshlens_v1_BreakerState);
}

/**
 * One state change of a breaker scope on one node.
 */
export interface BreakerTransition__Output {
  /**
   * When the node's breaker entered `to`, Unix epoch milliseconds.
   */
  'atUnixMs': (string);
  /**
   * Node.id of the reporting proxy.
   */
  'node': (string);
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Tenant; "" for a cluster-wide scope.
   */
  'tenant': (string);
  /**
   * Previous state.
   */
  'from': (_meshlens_v1_BreakerState__Output);
  /**
   * New state.
   */
  'to': (_meshlens_v1_BreakerState__Output);
}
