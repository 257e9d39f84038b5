// Original file: protos/meshlens/v1/admin.proto

import type { Correlation as _meshlens_v1_Correlation, Correlation__Output as _meshlens_v1_Correlation__Output } from '../../meshlens/v1/Correlation.ts';

/**
 * ListCorrelations output.
 */
export interface ListCorrelationsResponse {
  /**
   * Flows sorted by retrans_segs descending.
   */
  'correlations'?: (_meshlens_v1_Correlation)[];
}

/**
 * ListCorrelations output.
 */
export interface ListCorrelationsResponse__Output {
  /**
   * Flows sorted by retrans_segs descending.
   */
  'correlations': (_meshlens_v1_Correlation__Output)[];
}
