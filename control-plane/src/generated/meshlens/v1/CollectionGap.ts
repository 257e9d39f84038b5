// Original file: protos/meshlens/v1/kernel.proto

import type { GapReason as _meshlens_v1_GapReason, GapReason__Output as _meshlens_v1_GapReason__Output } from '../../meshlens/v1/GapReason.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A span of time whose counts are missing or incomplete.
 */
export interface CollectionGap {
  /**
   * Why the gap happened.
   */
  'reason'?: (_meshlens_v1_GapReason);
  /**
   * Gap start, Unix epoch milliseconds.
   */
  'startUnixMs'?: (number | string | Long);
  /**
   * Gap end, Unix epoch milliseconds (when collection resumed).
   */
  'endUnixMs'?: (number | string | Long);
  /**
   * Human-readable detail (e.g. the loader's exit code or the rejected line's error).
   */
  'detail'?: (string);
}

/**
 * A span of time whose counts are missing or incomplete.
 */
export interface CollectionGap__Output {
  /**
   * Why the gap happened.
   */
  'reason': (_meshlens_v1_GapReason__Output);
  /**
   * Gap start, Unix epoch milliseconds.
   */
  'startUnixMs': (string);
  /**
   * Gap end, Unix epoch milliseconds (when collection resumed).
   */
  'endUnixMs': (string);
  /**
   * Human-readable detail (e.g. the loader's exit code or the rejected line's error).
   */
  'detail': (string);
}
