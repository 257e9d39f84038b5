// Original file: protos/meshlens/v1/admin.proto

import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';

/**
 * DryRun input.
 */
export interface DryRunRequest {
  /**
   * Proposed policy; absent fields take the defaults.
   */
  'policy'?: (_meshlens_v1_Policy | null);
  /**
   * How far back to replay reported telemetry, in minutes; 0 means 5.
   */
  'windowMinutes'?: (number);
}

/**
 * DryRun input.
 */
export interface DryRunRequest__Output {
  /**
   * Proposed policy; absent fields take the defaults.
   */
  'policy': (_meshlens_v1_Policy__Output | null);
  /**
   * How far back to replay reported telemetry, in minutes; 0 means 5.
   */
  'windowMinutes': (number);
}
