// Original file: protos/meshlens/v1/admin.proto

import type { NodeRollout as _meshlens_v1_NodeRollout, NodeRollout__Output as _meshlens_v1_NodeRollout__Output } from '../../meshlens/v1/NodeRollout.ts';

/**
 * GetRolloutStatus output.
 */
export interface RolloutStatus {
  /**
   * Current snapshot version.
   */
  'snapshotVersion'?: (string);
  /**
   * Filter VMs known since start (and persisted ones from earlier runs), sorted by node_id then worker.
   */
  'nodes'?: (_meshlens_v1_NodeRollout)[];
  /**
   * How many connected VMs have acknowledged the current snapshot.
   */
  'converged'?: (number);
  /**
   * How many VMs are connected.
   */
  'connected'?: (number);
  /**
   * Current network-suspect set version ("" if none yet).
   */
  'suspectsVersion'?: (string);
}

/**
 * GetRolloutStatus output.
 */
export interface RolloutStatus__Output {
  /**
   * Current snapshot version.
   */
  'snapshotVersion': (string);
  /**
   * Filter VMs known since start (and persisted ones from earlier runs), sorted by node_id then worker.
   */
  'nodes': (_meshlens_v1_NodeRollout__Output)[];
  /**
   * How many connected VMs have acknowledged the current snapshot.
   */
  'converged': (number);
  /**
   * How many VMs are connected.
   */
  'connected': (number);
  /**
   * Current network-suspect set version ("" if none yet).
   */
  'suspectsVersion': (string);
}
