// Original file: protos/meshlens/v1/admin.proto

import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { Confirmation as _meshlens_v1_Confirmation, Confirmation__Output as _meshlens_v1_Confirmation__Output } from '../../meshlens/v1/Confirmation.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A stored policy version.
 */
export interface PolicyRecord {
  /**
   * Policy id.
   */
  'id'?: (string);
  /**
   * Version of the policy (1, 2, ...).
   */
  'version'?: (number | string | Long);
  /**
   * The policy, complete (defaults applied).
   */
  'policy'?: (_meshlens_v1_Policy | null);
  /**
   * Identity of the token that wrote this version.
   */
  'updatedBy'?: (string);
  /**
   * Commit time, Unix epoch milliseconds.
   */
  'updatedAtUnixMs'?: (number | string | Long);
  /**
   * Snapshot version that first contained this change.
   */
  'snapshotVersion'?: (number | string | Long);
  /**
   * Set by SetPolicy with `confirm`: the pending confirmation of this version.
   */
  'confirmation'?: (_meshlens_v1_Confirmation | null);
}

/**
 * A stored policy version.
 */
export interface PolicyRecord__Output {
  /**
   * Policy id.
   */
  'id': (string);
  /**
   * Version of the policy (1, 2, ...).
   */
  'version': (string);
  /**
   * The policy, complete (defaults applied).
   */
  'policy': (_meshlens_v1_Policy__Output | null);
  /**
   * Identity of the token that wrote this version.
   */
  'updatedBy': (string);
  /**
   * Commit time, Unix epoch milliseconds.
   */
  'updatedAtUnixMs': (string);
  /**
   * Snapshot version that first contained this change.
   */
  'snapshotVersion': (string);
  /**
   * Set by SetPolicy with `confirm`: the pending confirmation of this version.
   */
  'confirmation': (_meshlens_v1_Confirmation__Output | null);
}
