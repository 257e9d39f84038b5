// Original file: protos/meshlens/v1/telemetry.proto

import type { BreakerState as _meshlens_v1_BreakerState, BreakerState__Output as _meshlens_v1_BreakerState__Output } from '../../meshlens/v1/BreakerState.ts';
import type { BreakerOpenCause as _meshlens_v1_BreakerOpenCause, BreakerOpenCause__Output as _meshlens_v1_BreakerOpenCause__Output } from '../../meshlens/v1/BreakerOpenCause.ts';
import type { Long } from '@grpc/proto-loader';

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
   * Id of the policy governing the scope ("" for the plugin config's default policy).
   */
  'policyId'?: (string);
  /**
   * Path template of the governing policy's target ("*" for every path): part of the scope's identity.
   */
  'pathTemplate'?: (string);
  /**
   * When the scope entered its current state (its last transition), Unix epoch milliseconds; 0 if it never changed.
   */
  'sinceUnixMs'?: (number | string | Long);
  /**
   * While Open: when it lets the first HalfOpen probes through, Unix epoch milliseconds.
   */
  'openUntilUnixMs'?: (number | string | Long);
  /**
   * Why the scope last opened (kept after it closes, until it opens again).
   */
  'openCause'?: (_meshlens_v1_BreakerOpenCause);
  /**
   * The breaker window that tripped it (open_cause ERROR_RATE or SLOW_CALL_RATE): requests counted,
   */
  'tripRequests'?: (number);
  /**
   * of which failed,
   */
  'tripFailures'?: (number);
  /**
   * and of which slow.
   */
  'tripSlowCalls'?: (number);
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
   * Id of the policy governing the scope ("" for the plugin config's default policy).
   */
  'policyId': (string);
  /**
   * Path template of the governing policy's target ("*" for every path): part of the scope's identity.
   */
  'pathTemplate': (string);
  /**
   * When the scope entered its current state (its last transition), Unix epoch milliseconds; 0 if it never changed.
   */
  'sinceUnixMs': (string);
  /**
   * While Open: when it lets the first HalfOpen probes through, Unix epoch milliseconds.
   */
  'openUntilUnixMs': (string);
  /**
   * Why the scope last opened (kept after it closes, until it opens again).
   */
  'openCause': (_meshlens_v1_BreakerOpenCause__Output);
  /**
   * The breaker window that tripped it (open_cause ERROR_RATE or SLOW_CALL_RATE): requests counted,
   */
  'tripRequests': (number);
  /**
   * of which failed,
   */
  'tripFailures': (number);
  /**
   * and of which slow.
   */
  'tripSlowCalls': (number);
}
