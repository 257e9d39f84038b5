// Original file: protos/meshlens/v1/admin.proto


/**
 * ListConfirmations input.
 */
export interface ListConfirmationsRequest {
  /**
   * Also the resolved ones (newest first); otherwise only the pending ones (oldest first).
   */
  'all'?: (boolean);
}

/**
 * ListConfirmations input.
 */
export interface ListConfirmationsRequest__Output {
  /**
   * Also the resolved ones (newest first); otherwise only the pending ones (oldest first).
   */
  'all': (boolean);
}
