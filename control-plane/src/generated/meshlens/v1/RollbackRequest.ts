// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Rollback input.
 */
export interface RollbackRequest {
  /**
   * Policy id.
   */
  'id'?: (string);
  /**
   * Earlier version whose content becomes current.
   */
  'toVersion'?: (number | string | Long);
  /**
   * Version being replaced (as for SetPolicy).
   */
  'expectedVersion'?: (number | string | Long);
}

/**
 * Rollback input.
 */
export interface RollbackRequest__Output {
  /**
   * Policy id.
   */
  'id': (string);
  /**
   * Earlier version whose content becomes current.
   */
  'toVersion': (string);
  /**
   * Version being replaced (as for SetPolicy).
   */
  'expectedVersion': (string);
}
