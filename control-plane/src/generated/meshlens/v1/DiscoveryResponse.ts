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
  /**
   * The network-suspect set: upstream endpoints the control plane's correlator judges network-suspect (verdict
   * network-suspect or both), whose failures a network-aware policy's breaker does not count. Versioned on its own
   * (it changes with the correlation windows, not with policies; a response is sent when either version changes):
   * decimal, increasing across control-plane restarts; "" and no addresses while the control plane has no set yet.
   * Complete in every response that carries a version (state of the world).
   */
  'networkSuspectsVersion'?: (string);
  /**
   * Upstream addresses, "ip:port" as Envoy's upstream.address renders them; sorted; at most 1024 (endpoints with the
   * highest retransmit ratio first when more are suspect).
   */
  'networkSuspects'?: (string)[];
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
  /**
   * The network-suspect set: upstream endpoints the control plane's correlator judges network-suspect (verdict
   * network-suspect or both), whose failures a network-aware policy's breaker does not count. Versioned on its own
   * (it changes with the correlation windows, not with policies; a response is sent when either version changes):
   * decimal, increasing across control-plane restarts; "" and no addresses while the control plane has no set yet.
   * Complete in every response that carries a version (state of the world).
   */
  'networkSuspectsVersion': (string);
  /**
   * Upstream addresses, "ip:port" as Envoy's upstream.address renders them; sorted; at most 1024 (endpoints with the
   * highest retransmit ratio first when more are suspect).
   */
  'networkSuspects': (string)[];
}
