// Original file: protos/meshlens/v1/admin.proto

import type { Confirmation as _meshlens_v1_Confirmation, Confirmation__Output as _meshlens_v1_Confirmation__Output } from '../../meshlens/v1/Confirmation.ts';

/**
 * ListConfirmations output.
 */
export interface ListConfirmationsResponse {
  /**
   * The confirmations.
   */
  'confirmations'?: (_meshlens_v1_Confirmation)[];
}

/**
 * ListConfirmations output.
 */
export interface ListConfirmationsResponse__Output {
  /**
   * The confirmations.
   */
  'confirmations': (_meshlens_v1_Confirmation__Output)[];
}
