// Original file: protos/meshlens/v1/policy.proto

import type { PolicyTarget as _meshlens_v1_PolicyTarget, PolicyTarget__Output as _meshlens_v1_PolicyTarget__Output } from '../../meshlens/v1/PolicyTarget.ts';
import type { BreakerPolicy as _meshlens_v1_BreakerPolicy, BreakerPolicy__Output as _meshlens_v1_BreakerPolicy__Output } from '../../meshlens/v1/BreakerPolicy.ts';
import type { RetryPolicy as _meshlens_v1_RetryPolicy, RetryPolicy__Output as _meshlens_v1_RetryPolicy__Output } from '../../meshlens/v1/RetryPolicy.ts';

/**
 * One resilience policy (the JSON model's { target, breaker, retry }).
 */
export interface Policy {
  /**
   * Traffic the policy applies to.
   */
  'target'?: (_meshlens_v1_PolicyTarget | null);
  /**
   * Circuit-breaker settings.
   */
  'breaker'?: (_meshlens_v1_BreakerPolicy | null);
  /**
   * Retry settings.
   */
  'retry'?: (_meshlens_v1_RetryPolicy | null);
}

/**
 * One resilience policy (the JSON model's { target, breaker, retry }).
 */
export interface Policy__Output {
  /**
   * Traffic the policy applies to.
   */
  'target': (_meshlens_v1_PolicyTarget__Output | null);
  /**
   * Circuit-breaker settings.
   */
  'breaker': (_meshlens_v1_BreakerPolicy__Output | null);
  /**
   * Retry settings.
   */
  'retry': (_meshlens_v1_RetryPolicy__Output | null);
}
