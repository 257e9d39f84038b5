// Original file: protos/meshlens/v1/kernel.proto

import type { IdentitySource as _meshlens_v1_IdentitySource, IdentitySource__Output as _meshlens_v1_IdentitySource__Output } from '../../meshlens/v1/IdentitySource.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * The proxy living in one network namespace of the node: the join key from kernel flows (netns, 4-tuple) to the
 * filter's reports (node.id, upstream.local_address, upstream.address).
 */
export interface NetnsIdentity {
  /**
   * Network namespace inode (as FlowEntry.netns).
   */
  'netns'?: (number | string | Long);
  /**
   * The proxy's node id, equal to the Node.id its filter VMs report (discovery.proto).
   */
  'proxyId'?: (string);
  /**
   * Where the agent found it.
   */
  'source'?: (_meshlens_v1_IdentitySource);
}

/**
 * The proxy living in one network namespace of the node: the join key from kernel flows (netns, 4-tuple) to the
 * filter's reports (node.id, upstream.local_address, upstream.address).
 */
export interface NetnsIdentity__Output {
  /**
   * Network namespace inode (as FlowEntry.netns).
   */
  'netns': (string);
  /**
   * The proxy's node id, equal to the Node.id its filter VMs report (discovery.proto).
   */
  'proxyId': (string);
  /**
   * Where the agent found it.
   */
  'source': (_meshlens_v1_IdentitySource__Output);
}
