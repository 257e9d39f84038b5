// Original file: protos/meshlens/v1/policy.proto


/**
 * Retry settings for one failure kind.
 */
export interface RetryRule {
  /**
   * Retries allowed for this failure kind (x-envoy-max-retries); 0 means none.
   */
  'maxRetries'?: (number);
  /**
   * Base of Envoy's jittered exponential backoff in milliseconds.
   */
  'backoffBaseMs'?: (number);
  '_maxRetries'?: "maxRetries";
  '_backoffBaseMs'?: "backoffBaseMs";
}

/**
 * Retry settings for one failure kind.
 */
export interface RetryRule__Output {
  /**
   * Retries allowed for this failure kind (x-envoy-max-retries); 0 means none.
   */
  'maxRetries'?: (number);
  /**
   * Base of Envoy's jittered exponential backoff in milliseconds.
   */
  'backoffBaseMs'?: (number);
  '_maxRetries'?: "maxRetries";
  '_backoffBaseMs'?: "backoffBaseMs";
}
