// Original file: protos/meshlens/v1/admin.proto

import type { BreakerState as _meshlens_v1_BreakerState, BreakerState__Output as _meshlens_v1_BreakerState__Output } from '../../meshlens/v1/BreakerState.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * What the proposed breaker would have done to one scope.
 */
export interface DryRunScope {
  /**
   * Upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Tenant for per-tenant policies, "" otherwise.
   */
  'tenant'?: (string);
  /**
   * Requests replayed.
   */
  'requests'?: (number | string | Long);
  /**
   * Of which failed.
   */
  'errors'?: (number | string | Long);
  /**
   * Of which slow.
   */
  'slowCalls'?: (number | string | Long);
  /**
   * Transitions the breaker would have made.
   */
  'transitions'?: (number);
  /**
   * Time of the first trip (Closed → Open), Unix epoch milliseconds; 0 if it never tripped.
   */
  'firstTripUnixMs'?: (number | string | Long);
  /**
   * Requests the breaker would have rejected (approximated per report window).
   */
  'wouldReject'?: (number | string | Long);
  /**
   * State at the end of the replay.
   */
  'finalState'?: (_meshlens_v1_BreakerState);
}

/**
 * What the proposed breaker would have done to one scope.
 */
export interface DryRunScope__Output {
  /**
   * Upstream cluster.
   */
  'cluster': (string);
  /**
   * Tenant for per-tenant policies, "" otherwise.
   */
  'tenant': (string);
  /**
   * Requests replayed.
   */
  'requests': (string);
  /**
   * Of which failed.
   */
  'errors': (string);
  /**
   * Of which slow.
   */
  'slowCalls': (string);
  /**
   * Transitions the breaker would have made.
   */
  'transitions': (number);
  /**
   * Time of the first trip (Closed → Open), Unix epoch milliseconds; 0 if it never tripped.
   */
  'firstTripUnixMs': (string);
  /**
   * Requests the breaker would have rejected (approximated per report window).
   */
  'wouldReject': (string);
  /**
   * State at the end of the replay.
   */
  'finalState': (_meshlens_v1_BreakerState__Output);
}
