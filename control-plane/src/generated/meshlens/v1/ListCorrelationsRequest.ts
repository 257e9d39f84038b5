// Original file: protos/meshlens/v1/admin.proto


/**
 * ListCorrelations input.
 */
export interface ListCorrelationsRequest {
}

/**
 * ListCorrelations input.
 */
export interface ListCorrelationsRequest__Output {
}
