// Original file: protos/meshlens/v1/admin.proto

import type { BreakerScopeStatus as _meshlens_v1_BreakerScopeStatus, BreakerScopeStatus__Output as _meshlens_v1_BreakerScopeStatus__Output } from '../../meshlens/v1/BreakerScopeStatus.ts';
import type { BreakerTransition as _meshlens_v1_BreakerTransition, BreakerTransition__Output as _meshlens_v1_BreakerTransition__Output } from '../../meshlens/v1/BreakerTransition.ts';

/**
 * ListBreakers output.
 */
export interface ListBreakersResponse {
  /**
   * Scopes, worst state first, then by cluster, tenant and policy.
   */
  'breakers'?: (_meshlens_v1_BreakerScopeStatus)[];
  /**
   * Recent transitions, newest first (at most 500; at most 16 kept per node and scope).
   */
  'transitions'?: (_meshlens_v1_BreakerTransition)[];
}

/**
 * ListBreakers output.
 */
export interface ListBreakersResponse__Output {
  /**
   * Scopes, worst state first, then by cluster, tenant and policy.
   */
  'breakers': (_meshlens_v1_BreakerScopeStatus__Output)[];
  /**
   * Recent transitions, newest first (at most 500; at most 16 kept per node and scope).
   */
  'transitions': (_meshlens_v1_BreakerTransition__Output)[];
}
