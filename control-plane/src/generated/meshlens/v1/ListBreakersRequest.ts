// Original file: protos/meshlens/v1/admin.proto


/**
 * ListBreakers input.
 */
export interface ListBreakersRequest {
}

/**
 * ListBreakers input.
 */
export interface ListBreakersRequest__Output {
}
