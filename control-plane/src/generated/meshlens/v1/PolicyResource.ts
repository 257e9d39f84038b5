// Original file: protos/meshlens/v1/policy.proto

import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A stored policy as the control plane wraps it: { id, version, policy }.
 */
export interface PolicyResource {
  /**
   * Stable policy id chosen by the operator ([a-z0-9][a-z0-9._-]{0,62}).
   */
  'id'?: (string);
  /**
   * Version of this policy, starting at 1 and incremented by every change to it (including rollback).
   */
  'version'?: (number | string | Long);
  /**
   * The policy itself, complete (defaults applied).
   */
  'policy'?: (_meshlens_v1_Policy | null);
}

/**
 * A stored policy as the control plane wraps it: { id, version, policy }.
 */
export interface PolicyResource__Output {
  /**
   * Stable policy id chosen by the operator ([a-z0-9][a-z0-9._-]{0,62}).
   */
  'id': (string);
  /**
   * Version of this policy, starting at 1 and incremented by every change to it (including rollback).
   */
  'version': (string);
  /**
   * The policy itself, complete (defaults applied).
   */
  'policy': (_meshlens_v1_Policy__Output | null);
}
