// Original file: protos/meshlens/v1/admin.proto

import type { EndpointStatus as _meshlens_v1_EndpointStatus, EndpointStatus__Output as _meshlens_v1_EndpointStatus__Output } from '../../meshlens/v1/EndpointStatus.ts';

/**
 * ListEndpoints output.
 */
export interface ListEndpointsResponse {
  /**
   * Endpoints sorted by cluster then endpoint.
   */
  'endpoints'?: (_meshlens_v1_EndpointStatus)[];
}

/**
 * ListEndpoints output.
 */
export interface ListEndpointsResponse__Output {
  /**
   * Endpoints sorted by cluster then endpoint.
   */
  'endpoints': (_meshlens_v1_EndpointStatus__Output)[];
}
