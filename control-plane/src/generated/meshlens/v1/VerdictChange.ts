// Original file: protos/meshlens/v1/admin.proto

import type { EndpointVerdict as _meshlens_v1_EndpointVerdict, EndpointVerdict__Output as _meshlens_v1_EndpointVerdict__Output } from '../../meshlens/v1/EndpointVerdict.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A verdict change.
 */
export interface VerdictChange {
  /**
   * End of the window the change happened in, Unix epoch milliseconds.
   */
  'windowEndUnixMs'?: (number | string | Long);
  /**
   * Previous verdict.
   */
  'from'?: (_meshlens_v1_EndpointVerdict);
  /**
   * New verdict.
   */
  'to'?: (_meshlens_v1_EndpointVerdict);
  /**
   * The signals that departed, against their baselines.
   */
  'reason'?: (string);
}

/**
 * A verdict change.
 */
export interface VerdictChange__Output {
  /**
   * End of the window the change happened in, Unix epoch milliseconds.
   */
  'windowEndUnixMs': (string);
  /**
   * Previous verdict.
   */
  'from': (_meshlens_v1_EndpointVerdict__Output);
  /**
   * New verdict.
   */
  'to': (_meshlens_v1_EndpointVerdict__Output);
  /**
   * The signals that departed, against their baselines.
   */
  'reason': (string);
}
