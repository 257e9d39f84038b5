// Original file: protos/meshlens/v1/admin.proto


/**
 * GetPolicy input.
 */
export interface GetPolicyRequest {
  /**
   * Policy id.
   */
  'id'?: (string);
}

/**
 * GetPolicy input.
 */
export interface GetPolicyRequest__Output {
  /**
   * Policy id.
   */
  'id': (string);
}
