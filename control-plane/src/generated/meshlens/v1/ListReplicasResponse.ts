// Original file: protos/meshlens/v1/admin.proto

import type { ReplicaSummary as _meshlens_v1_ReplicaSummary, ReplicaSummary__Output as _meshlens_v1_ReplicaSummary__Output } from '../../meshlens/v1/ReplicaSummary.ts';

/**
 * ListReplicas output.
 */
export interface ListReplicasResponse {
  /**
   * Every live replica, sorted by replica.
   */
  'replicas'?: (_meshlens_v1_ReplicaSummary)[];
}

/**
 * ListReplicas output.
 */
export interface ListReplicasResponse__Output {
  /**
   * Every live replica, sorted by replica.
   */
  'replicas': (_meshlens_v1_ReplicaSummary__Output)[];
}
