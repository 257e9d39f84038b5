// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * DeletePolicy output.
 */
export interface DeletePolicyResponse {
  /**
   * Snapshot version without the policy.
   */
  'snapshotVersion'?: (number | string | Long);
}

/**
 * DeletePolicy output.
 */
export interface DeletePolicyResponse__Output {
  /**
   * Snapshot version without the policy.
   */
  'snapshotVersion': (string);
}
