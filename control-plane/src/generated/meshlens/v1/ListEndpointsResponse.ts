// Original file: protos/meshlens/v1/admin.proto

import type { EndpointStatus as _meshlens_v1_EndpointStatus, EndpointStatus__Output as _meshlens_v1_EndpointStatus__Output } from '../../meshlens/v1/EndpointStatus.ts';
import type { BreakerScopeStatus as _meshlens_v1_BreakerScopeStatus, BreakerScopeStatus__Output as _meshlens_v1_BreakerScopeStatus__Output } from '../../meshlens/v1/BreakerScopeStatus.ts';

/**
 * ListEndpoints output.
 */
export interface ListEndpointsResponse {
  /**
   * Endpoints sorted by cluster then endpoint.
   */
  'endpoints'?: (_meshlens_v1_EndpointStatus)[];
  /**
   * Breakers of the endpoints' clusters that are not Closed.
   */
  'breakers'?: (_meshlens_v1_BreakerScopeStatus)[];
}

/**
 * ListEndpoints output.
 */
export interface ListEndpointsResponse__Output {
  /**
   * Endpoints sorted by cluster then endpoint.
   */
  'endpoints': (_meshlens_v1_EndpointStatus__Output)[];
  /**
   * Breakers of the endpoints' clusters that are not Closed.
   */
  'breakers': (_meshlens_v1_BreakerScopeStatus__Output)[];
}
