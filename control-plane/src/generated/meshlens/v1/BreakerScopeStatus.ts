// Original file: protos/meshlens/v1/admin.proto

import type { BreakerState as _meshlens_v1_BreakerState, BreakerState__Output as _meshlens_v1_BreakerState__Output } from '../../meshlens/v1/BreakerState.ts';
import type { BreakerNodeCounts as _meshlens_v1_BreakerNodeCounts, BreakerNodeCounts__Output as _meshlens_v1_BreakerNodeCounts__Output } from '../../meshlens/v1/BreakerNodeCounts.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One breaker scope (cluster, tenant, policy) over every node reporting it.
 */
export interface BreakerScopeStatus {
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Tenant; "" for a cluster-wide scope.
   */
  'tenant'?: (string);
  /**
   * The worst state over the nodes: Open > HalfOpen > Closed.
   */
  'state'?: (_meshlens_v1_BreakerState);
  /**
   * Id of the governing policy ("" for a filter's default policy).
   */
  'policyId'?: (string);
  /**
   * Nodes per state.
   */
  'nodes'?: (_meshlens_v1_BreakerNodeCounts | null);
  /**
   * Last transition on any node, Unix epoch milliseconds.
   */
  'sinceUnixMs'?: (number | string | Long);
  /**
   * Why the worst node is in that state ("error ratio 0.45 (9 of 20 requests in the breaker window)"; "" if Closed).
   */
  'reason'?: (string);
}

/**
 * One breaker scope (cluster, tenant, policy) over every node reporting it.
 */
export interface BreakerScopeStatus__Output {
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Tenant; "" for a cluster-wide scope.
   */
  'tenant': (string);
  /**
   * The worst state over the nodes: Open > HalfOpen > Closed.
   */
  'state': (_meshlens_v1_BreakerState__Output);
  /**
   * Id of the governing policy ("" for a filter's default policy).
   */
  'policyId': (string);
  /**
   * Nodes per state.
   */
  'nodes': (_meshlens_v1_BreakerNodeCounts__Output | null);
  /**
   * Last transition on any node, Unix epoch milliseconds.
   */
  'sinceUnixMs': (string);
  /**
   * Why the worst node is in that state ("error ratio 0.45 (9 of 20 requests in the breaker window)"; "" if Closed).
   */
  'reason': (string);
}
