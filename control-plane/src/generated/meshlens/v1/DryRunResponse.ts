// Original file: protos/meshlens/v1/admin.proto

import type { DryRunScope as _meshlens_v1_DryRunScope, DryRunScope__Output as _meshlens_v1_DryRunScope__Output } from '../../meshlens/v1/DryRunScope.ts';
import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * DryRun output.
 */
export interface DryRunResponse {
  /**
   * Affected scopes sorted by cluster then tenant.
   */
  'scopes'?: (_meshlens_v1_DryRunScope)[];
  /**
   * Replay start, Unix epoch milliseconds.
   */
  'fromUnixMs'?: (number | string | Long);
  /**
   * Replay end, Unix epoch milliseconds.
   */
  'toUnixMs'?: (number | string | Long);
  /**
   * The proposed policy with defaults applied.
   */
  'policy'?: (_meshlens_v1_Policy | null);
}

/**
 * DryRun output.
 */
export interface DryRunResponse__Output {
  /**
   * Affected scopes sorted by cluster then tenant.
   */
  'scopes': (_meshlens_v1_DryRunScope__Output)[];
  /**
   * Replay start, Unix epoch milliseconds.
   */
  'fromUnixMs': (string);
  /**
   * Replay end, Unix epoch milliseconds.
   */
  'toUnixMs': (string);
  /**
   * The proposed policy with defaults applied.
   */
  'policy': (_meshlens_v1_Policy__Output | null);
}
