// Original file: protos/meshlens/v1/discovery.proto


/**
 * Why a response was rejected (a small stand-in for google.rpc.Status).
 */
export interface ErrorDetail {
  /**
   * gRPC status code; 3 (INVALID_ARGUMENT) for a policy the filter refuses.
   */
  'code'?: (number);
  /**
   * Human-readable reason, "invalid policy: <field> must <rule>" for validation failures.
   */
  'message'?: (string);
}

/**
 * Why a response was rejected (a small stand-in for google.rpc.Status).
 */
export interface ErrorDetail__Output {
  /**
   * gRPC status code; 3 (INVALID_ARGUMENT) for a policy the filter refuses.
   */
  'code': (number);
  /**
   * Human-readable reason, "invalid policy: <field> must <rule>" for validation failures.
   */
  'message': (string);
}
