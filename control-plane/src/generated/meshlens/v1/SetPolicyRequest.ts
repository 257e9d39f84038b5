// Original file: protos/meshlens/v1/admin.proto

import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * SetPolicy input.
 */
export interface SetPolicyRequest {
  /**
   * Policy id.
   */
  'id'?: (string);
  /**
   * Version being replaced; 0 means "must not exist yet". A mismatch fails with FAILED_PRECONDITION.
   */
  'expectedVersion'?: (number | string | Long);
  /**
   * New content; absent fields take the defaults.
   */
  'policy'?: (_meshlens_v1_Policy | null);
}

/**
 * SetPolicy input.
 */
export interface SetPolicyRequest__Output {
  /**
   * Policy id.
   */
  'id': (string);
  /**
   * Version being replaced; 0 means "must not exist yet". A mismatch fails with FAILED_PRECONDITION.
   */
  'expectedVersion': (string);
  /**
   * New content; absent fields take the defaults.
   */
  'policy': (_meshlens_v1_Policy__Output | null);
}
