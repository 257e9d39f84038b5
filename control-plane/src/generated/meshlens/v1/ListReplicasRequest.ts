// Original file: protos/meshlens/v1/admin.proto


/**
 * ListReplicas input.
 */
export interface ListReplicasRequest {
}

/**
 * ListReplicas input.
 */
export interface ListReplicasRequest__Output {
}
