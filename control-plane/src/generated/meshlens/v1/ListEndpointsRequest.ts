// Original file: protos/meshlens/v1/admin.proto


/**
 * ListEndpoints input.
 */
export interface ListEndpointsRequest {
}

/**
 * ListEndpoints input.
 */
export interface ListEndpointsRequest__Output {
}
