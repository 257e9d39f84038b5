// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * DeletePolicy input.
 */
export interface DeletePolicyRequest {
  /**
   * Policy id.
   */
  'id'?: (string);
  /**
   * Version being deleted; a mismatch fails with FAILED_PRECONDITION.
   */
  'expectedVersion'?: (number | string | Long);
}

/**
 * DeletePolicy input.
 */
export interface DeletePolicyRequest__Output {
  /**
   * Policy id.
   */
  'id': (string);
  /**
   * Version being deleted; a mismatch fails with FAILED_PRECONDITION.
   */
  'expectedVersion': (string);
}
