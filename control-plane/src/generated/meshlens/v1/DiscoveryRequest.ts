// Original file: protos/meshlens/v1/discovery.proto

import type { Node as _meshlens_v1_Node, Node__Output as _meshlens_v1_Node__Output } from '../../meshlens/v1/Node.ts';
import type { ErrorDetail as _meshlens_v1_ErrorDetail, ErrorDetail__Output as _meshlens_v1_ErrorDetail__Output } from '../../meshlens/v1/ErrorDetail.ts';

/**
 * Filter → control plane: subscription, ACK or NACK.
 */
export interface DiscoveryRequest {
  /**
   * Snapshot version the filter enforces after handling the response named by response_nonce ("" if none yet).
   */
  'versionInfo'?: (string);
  /**
   * The proxy; required on the first request of a stream, ignored afterwards.
   */
  'node'?: (_meshlens_v1_Node | null);
  /**
   * Nonce of the response being answered; "" on the first request.
   */
  'responseNonce'?: (string);
  /**
   * Set only on a NACK: why the response was rejected.
   */
  'errorDetail'?: (_meshlens_v1_ErrorDetail | null);
  /**
   * Version of the network-suspect set the filter applies after handling the response ("" if none yet); sent on
   * every request, the first included (a proxy keeps its set across reconnects). Rollout status shows it per row.
   */
  'networkSuspectsVersion'?: (string);
}

/**
 * Filter → control plane: subscription, ACK or NACK.
 */
export interface DiscoveryRequest__Output {
  /**
   * Snapshot version the filter enforces after handling the response named by response_nonce ("" if none yet).
   */
  'versionInfo': (string);
  /**
   * The proxy; required on the first request of a stream, ignored afterwards.
   */
  'node': (_meshlens_v1_Node__Output | null);
  /**
   * Nonce of the response being answered; "" on the first request.
   */
  'responseNonce': (string);
  /**
   * Set only on a NACK: why the response was rejected.
   */
  'errorDetail': (_meshlens_v1_ErrorDetail__Output | null);
  /**
   * Version of the network-suspect set the filter applies after handling the response ("" if none yet); sent on
   * every request, the first included (a proxy keeps its set across reconnects). Rollout status shows it per row.
   */
  'networkSuspectsVersion': (string);
}
