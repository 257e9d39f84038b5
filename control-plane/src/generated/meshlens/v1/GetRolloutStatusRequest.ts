// Original file: protos/meshlens/v1/admin.proto


/**
 * GetRolloutStatus input.
 */
export interface GetRolloutStatusRequest {
}

/**
 * GetRolloutStatus input.
 */
export interface GetRolloutStatusRequest__Output {
}
