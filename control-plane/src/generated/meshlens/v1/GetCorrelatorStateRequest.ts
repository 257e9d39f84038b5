// Original file: protos/meshlens/v1/admin.proto


/**
 * GetCorrelatorState input.
 */
export interface GetCorrelatorStateRequest {
}

/**
 * GetCorrelatorState input.
 */
export interface GetCorrelatorStateRequest__Output {
}
