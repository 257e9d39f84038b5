// Original file: protos/meshlens/v1/admin.proto

import type { ChangeKind as _meshlens_v1_ChangeKind, ChangeKind__Output as _meshlens_v1_ChangeKind__Output } from '../../meshlens/v1/ChangeKind.ts';
import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from '../../meshlens/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One audited change.
 */
export interface HistoryEntry {
  /**
   * Policy version this change produced (for DELETE, the version deleted).
   */
  'version'?: (number | string | Long);
  /**
   * What happened.
   */
  'kind'?: (_meshlens_v1_ChangeKind);
  /**
   * Content after the change (absent for DELETE).
   */
  'policy'?: (_meshlens_v1_Policy | null);
  /**
   * Content before the change (absent for CREATE).
   */
  'previous'?: (_meshlens_v1_Policy | null);
  /**
   * Identity of the token that made the change.
   */
  'actor'?: (string);
  /**
   * Commit time, Unix epoch milliseconds.
   */
  'atUnixMs'?: (number | string | Long);
  /**
   * Snapshot version produced by the change.
   */
  'snapshotVersion'?: (number | string | Long);
  /**
   * For ROLLBACK, the version whose content was restored.
   */
  'rolledBackTo'?: (number | string | Long);
  /**
   * Why, when the writer said so (automatic rollbacks of commit-confirmed changes do); "" otherwise.
   */
  'reason'?: (string);
}

/**
 * One audited change.
 */
export interface HistoryEntry__Output {
  /**
   * Policy version this change produced (for DELETE, the version deleted).
   */
  'version': (string);
  /**
   * What happened.
   */
  'kind': (_meshlens_v1_ChangeKind__Output);
  /**
   * Content after the change (absent for DELETE).
   */
  'policy': (_meshlens_v1_Policy__Output | null);
  /**
   * Content before the change (absent for CREATE).
   */
  'previous': (_meshlens_v1_Policy__Output | null);
  /**
   * Identity of the token that made the change.
   */
  'actor': (string);
  /**
   * Commit time, Unix epoch milliseconds.
   */
  'atUnixMs': (string);
  /**
   * Snapshot version produced by the change.
   */
  'snapshotVersion': (string);
  /**
   * For ROLLBACK, the version whose content was restored.
   */
  'rolledBackTo': (string);
  /**
   * Why, when the writer said so (automatic rollbacks of commit-confirmed changes do); "" otherwise.
   */
  'reason': (string);
}
