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
   * This page of the proxies (or VMs) connected or disconnected for less than the grace (10 min), sorted by node_id
   * then worker.
   */
  'nodes'?: (_meshlens_v1_NodeRollout)[];
  /**
   * How many connected rows have acknowledged the current snapshot.
   */
  'converged'?: (number);
  /**
   * How many rows are connected.
   */
  'connected'?: (number);
  /**
   * Rows over all pages (converged and connected count all of them too).
   */
  'total'?: (number);
  /**
   * Token of the next page; "" on the last page.
   */
  'nextPageToken'?: (string);
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
   * This page of the proxies (or VMs) connected or disconnected for less than the grace (10 min), sorted by node_id
   * then worker.
   */
  'nodes': (_meshlens_v1_NodeRollout__Output)[];
  /**
   * How many connected rows have acknowledged the current snapshot.
   */
  'converged': (number);
  /**
   * How many rows are connected.
   */
  'connected': (number);
  /**
   * Rows over all pages (converged and connected count all of them too).
   */
  'total': (number);
  /**
   * Token of the next page; "" on the last page.
   */
  'nextPageToken': (string);
  /**
   * Current network-suspect set version ("" if none yet).
   */
  'suspectsVersion': (string);
}
