// Original file: protos/meshlens/v1/admin.proto

import type { HistoryEntry as _meshlens_v1_HistoryEntry, HistoryEntry__Output as _meshlens_v1_HistoryEntry__Output } from '../../meshlens/v1/HistoryEntry.ts';

/**
 * GetHistory output.
 */
export interface GetHistoryResponse {
  /**
   * Changes newest first.
   */
  'entries'?: (_meshlens_v1_HistoryEntry)[];
}

/**
 * GetHistory output.
 */
export interface GetHistoryResponse__Output {
  /**
   * Changes newest first.
   */
  'entries': (_meshlens_v1_HistoryEntry__Output)[];
}
