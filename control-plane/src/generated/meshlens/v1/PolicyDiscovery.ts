// Original file: protos/meshlens/v1/discovery.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DiscoveryRequest as _meshlens_v1_DiscoveryRequest, DiscoveryRequest__Output as _meshlens_v1_DiscoveryRequest__Output } from '../../meshlens/v1/DiscoveryRequest.ts';
import type { DiscoveryResponse as _meshlens_v1_DiscoveryResponse, DiscoveryResponse__Output as _meshlens_v1_DiscoveryResponse__Output } from '../../meshlens/v1/DiscoveryResponse.ts';

/**
 * Distributes policy snapshots to filter VMs.
 */
export interface PolicyDiscoveryClient extends grpc.Client {
  /**
   * Bidirectional state-of-the-world stream; see the protocol at the top of this file.
   */
  StreamPolicies(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryResponse__Output>;
  StreamPolicies(options?: grpc.CallOptions): grpc.ClientDuplexStream<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryResponse__Output>;
  /**
   * Bidirectional state-of-the-world stream; see the protocol at the top of this file.
   */
  streamPolicies(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryResponse__Output>;
  streamPolicies(options?: grpc.CallOptions): grpc.ClientDuplexStream<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryResponse__Output>;
  
}

/**
 * Distributes policy snapshots to filter VMs.
 */
export interface PolicyDiscoveryHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Bidirectional state-of-the-world stream; see the protocol at the top of this file.
   */
  StreamPolicies: grpc.handleBidiStreamingCall<_meshlens_v1_DiscoveryRequest__Output, _meshlens_v1_DiscoveryResponse>;
  
}

export interface PolicyDiscoveryDefinition extends grpc.ServiceDefinition {
  StreamPolicies: MethodDefinition<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryResponse, _meshlens_v1_DiscoveryRequest__Output, _meshlens_v1_DiscoveryResponse__Output>
}
