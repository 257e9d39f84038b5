// Original file: protos/meshlens/v1/admin.proto

import type { ConfirmSpec as _meshlens_v1_ConfirmSpec, ConfirmSpec__Output as _meshlens_v1_ConfirmSpec__Output } from '../../meshlens/v1/ConfirmSpec.ts';
import type { ConfirmationState as _meshlens_v1_ConfirmationState, ConfirmationState__Output as _meshlens_v1_ConfirmationState__Output } from '../../meshlens/v1/ConfirmationState.ts';
import type { ScopeComparison as _meshlens_v1_ScopeComparison, ScopeComparison__Output as _meshlens_v1_ScopeComparison__Output } from '../../meshlens/v1/ScopeComparison.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A commit-confirmed change.
 */
export interface Confirmation {
  /**
   * Id of the confirmation.
   */
  'id'?: (number | string | Long);
  /**
   * Policy id.
   */
  'policyId'?: (string);
  /**
   * Version under confirmation.
   */
  'toVersion'?: (number | string | Long);
  /**
   * Version restored on rollback; 0 when the change created the policy (rollback deletes it).
   */
  'restoreVersion'?: (number | string | Long);
  /**
   * Identity of the token that made the change.
   */
  'actor'?: (string);
  /**
   * When it was applied, Unix epoch milliseconds.
   */
  'appliedAtUnixMs'?: (number | string | Long);
  /**
   * End of its window, Unix epoch milliseconds.
   */
  'deadlineUnixMs'?: (number | string | Long);
  /**
   * Start of its baseline, Unix epoch milliseconds.
   */
  'baselineFromUnixMs'?: (number | string | Long);
  /**
   * Window and bounds with defaults applied.
   */
  'bounds'?: (_meshlens_v1_ConfirmSpec | null);
  /**
   * State.
   */
  'state'?: (_meshlens_v1_ConfirmationState);
  /**
   * When it was resolved, Unix epoch milliseconds; 0 while pending.
   */
  'resolvedAtUnixMs'?: (number | string | Long);
  /**
   * Why it was resolved so.
   */
  'reason'?: (string);
  /**
   * The affected scopes as judged at resolution.
   */
  'scopes'?: (_meshlens_v1_ScopeComparison)[];
}

/**
 * A commit-confirmed change.
 */
export interface Confirmation__Output {
  /**
   * Id of the confirmation.
   */
  'id': (string);
  /**
   * Policy id.
   */
  'policyId': (string);
  /**
   * Version under confirmation.
   */
  'toVersion': (string);
  /**
   * Version restored on rollback; 0 when the change created the policy (rollback deletes it).
   */
  'restoreVersion': (string);
  /**
   * Identity of the token that made the change.
   */
  'actor': (string);
  /**
   * When it was applied, Unix epoch milliseconds.
   */
  'appliedAtUnixMs': (string);
  /**
   * End of its window, Unix epoch milliseconds.
   */
  'deadlineUnixMs': (string);
  /**
   * Start of its baseline, Unix epoch milliseconds.
   */
  'baselineFromUnixMs': (string);
  /**
   * Window and bounds with defaults applied.
   */
  'bounds': (_meshlens_v1_ConfirmSpec__Output | null);
  /**
   * State.
   */
  'state': (_meshlens_v1_ConfirmationState__Output);
  /**
   * When it was resolved, Unix epoch milliseconds; 0 while pending.
   */
  'resolvedAtUnixMs': (string);
  /**
   * Why it was resolved so.
   */
  'reason': (string);
  /**
   * The affected scopes as judged at resolution.
   */
  'scopes': (_meshlens_v1_ScopeComparison__Output)[];
}
