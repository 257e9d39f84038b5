// Original file: protos/meshlens/v1/admin.proto

import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { ConfirmSpec as _meshlens_v1_ConfirmSpec, ConfirmSpec__Output as _meshlens_v1_ConfirmSpec__Output } from '../../meshlens/v1/ConfirmSpec.ts';
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
  /**
   * Makes the change commit-confirmed: judged against the minutes before it and rolled back by the control plane if
   * an affected scope gets worse than the bounds within the window; confirmed otherwise.
   */
  'confirm'?: (_meshlens_v1_ConfirmSpec | null);
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
  /**
   * Makes the change commit-confirmed: judged against the minutes before it and rolled back by the control plane if
   * an affected scope gets worse than the bounds within the window; confirmed otherwise.
   */
  'confirm': (_meshlens_v1_ConfirmSpec__Output | null);
}
