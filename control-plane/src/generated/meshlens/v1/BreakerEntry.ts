// Original file: protos/meshlens/v1/telemetry.proto

import type { BreakerState as _meshlens_v1_BreakerState, BreakerState__Output as _meshlens_v1_BreakerState__Output } from '../../meshlens/v1/BreakerState.ts';

/**
 * State of one breaker scope at window end.
 */
export interface BreakerEntry {
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Tenant for per-tenant scopes; "" for a cluster-wide scope.
   */
  'tenant'?: (string);
  /**
   * State at window end.
   */
  'state'?: (_meshlens_v1_BreakerState);
  /**
   * Transitions made during the window.
   */
  'transitions'?: (number);
  /**
   * Id of the policy governing the scope.
   */
  'policyId'?: (string);
}

/**
 * State of one breaker scope at window end.
 */
export interface BreakerEntry__Output {
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Tenant for per-tenant scopes; "" for a cluster-wide scope.
   */
  'tenant': (string);
  /**
   * State at window end.
   */
  'state': (_meshlens_v1_BreakerState__Output);
  /**
   * Transitions made during the window.
   */
  'transitions': (number);
  /**
   * Id of the policy governing the scope.
   */
  'policyId': (string);
}
