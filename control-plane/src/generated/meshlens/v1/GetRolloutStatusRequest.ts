// Original file: protos/meshlens/v1/admin.proto


/**
 * GetRolloutStatus input: one page of the rows (HTTP: GET /v1/rollout?pageSize=N&pageToken=T).
 */
export interface GetRolloutStatusRequest {
  /**
   * Rows per page, 1..1000; 0 means the default (500).
   */
  'pageSize'?: (number);
  /**
   * next_page_token of the previous page; "" for the first.
   */
  'pageToken'?: (string);
}

/**
 * GetRolloutStatus input: one page of the rows (HTTP: GET /v1/rollout?pageSize=N&pageToken=T).
 */
export interface GetRolloutStatusRequest__Output {
  /**
   * Rows per page, 1..1000; 0 means the default (500).
   */
  'pageSize': (number);
  /**
   * next_page_token of the previous page; "" for the first.
   */
  'pageToken': (string);
}
