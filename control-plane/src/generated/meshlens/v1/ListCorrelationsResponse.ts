// Original file: protos/meshlens/v1/admin.proto

import type { Correlation as _meshlens_v1_Correlation, Correlation__Output as _meshlens_v1_Correlation__Output } from '../../meshlens/v1/Correlation.ts';
import type { RouteRetransmits as _meshlens_v1_RouteRetransmits, RouteRetransmits__Output as _meshlens_v1_RouteRetransmits__Output } from '../../meshlens/v1/RouteRetransmits.ts';
import type { BreakerScopeStatus as _meshlens_v1_BreakerScopeStatus, BreakerScopeStatus__Output as _meshlens_v1_BreakerScopeStatus__Output } from '../../meshlens/v1/BreakerScopeStatus.ts';

/**
 * ListCorrelations output.
 */
export interface ListCorrelationsResponse {
  /**
   * Joined flows of the recent evaluated windows, newest window first, within a window by retrans_segs descending.
   */
  'correlations'?: (_meshlens_v1_Correlation)[];
  /**
   * Per-route attribution of the same windows, newest window first.
   */
  'routes'?: (_meshlens_v1_RouteRetransmits)[];
  /**
   * Breakers of the clusters above that are not Closed.
   */
  'breakers'?: (_meshlens_v1_BreakerScopeStatus)[];
}

/**
 * ListCorrelations output.
 */
export interface ListCorrelationsResponse__Output {
  /**
   * Joined flows of the recent evaluated windows, newest window first, within a window by retrans_segs descending.
   */
  'correlations': (_meshlens_v1_Correlation__Output)[];
  /**
   * Per-route attribution of the same windows, newest window first.
   */
  'routes': (_meshlens_v1_RouteRetransmits__Output)[];
  /**
   * Breakers of the clusters above that are not Closed.
   */
  'breakers': (_meshlens_v1_BreakerScopeStatus__Output)[];
}
