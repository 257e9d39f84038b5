// Original file: protos/meshlens/v1/admin.proto

import type { PolicyRecord as _meshlens_v1_PolicyRecord, PolicyRecord__Output as _meshlens_v1_PolicyRecord__Output } from '../../meshlens/v1/PolicyRecord.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * ListPolicies output.
 */
export interface ListPoliciesResponse {
  /**
   * Live policies sorted by id.
   */
  'policies'?: (_meshlens_v1_PolicyRecord)[];
  /**
   * Current snapshot version.
   */
  'snapshotVersion'?: (number | string | Long);
}

/**
 * ListPolicies output.
 */
export interface ListPoliciesResponse__Output {
  /**
   * Live policies sorted by id.
   */
  'policies': (_meshlens_v1_PolicyRecord__Output)[];
  /**
   * Current snapshot version.
   */
  'snapshotVersion': (string);
}
