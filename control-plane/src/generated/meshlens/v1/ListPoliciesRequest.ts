// Original file: protos/meshlens/v1/admin.proto


/**
 * ListPolicies input.
 */
export interface ListPoliciesRequest {
}

/**
 * ListPolicies input.
 */
export interface ListPoliciesRequest__Output {
}
