// Original file: protos/meshlens/v1/admin.proto


/**
 * GetHistory input.
 */
export interface GetHistoryRequest {
  /**
   * Policy id.
   */
  'id'?: (string);
}

/**
 * GetHistory input.
 */
export interface GetHistoryRequest__Output {
  /**
   * Policy id.
   */
  'id': (string);
}
