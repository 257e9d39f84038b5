// Original file: protos/meshlens/v1/discovery.proto

import type { PolicyResource as _meshlens_v1_PolicyResource, PolicyResource__Output as _meshlens_v1_PolicyResource__Output } from '../../meshlens/v1/PolicyResource.ts';

/**
 * Control plane → filter: a complete snapshot of every policy.
 */
export interface DiscoveryResponse {
  /**
   * Snapshot version (decimal integer as a string, e.g. "42").
   */
  'versionInfo'?: (string);
  /**
   * Every policy in the snapshot, sorted by id; a policy missing here was deleted.
   */
  'resources'?: (_meshlens_v1_PolicyResource)[];
  /**
   * Unique per response on the stream; the answering request echoes it in response_nonce.
   */
  'nonce'?: (string);
}

/**
 * Control plane → filter: a complete snapshot of every policy.
 */
export interface DiscoveryResponse__Output {
  /**
   * Snapshot version (decimal integer as a string, e.g. "42").
   */
  'versionInfo': (string);
  /**
   * Every policy in the snapshot, sorted by id; a policy missing here was deleted.
   */
  'resources': (_meshlens_v1_PolicyResource__Output)[];
  /**
   * Unique per response on the stream; the answering request echoes it in response_nonce.
   */
  'nonce': (string);
}
