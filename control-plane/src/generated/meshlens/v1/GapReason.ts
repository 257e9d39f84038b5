// Original file: protos/meshlens/v1/kernel.proto

/**
 * Why a collection gap happened (an interval whose counts are missing or incomplete).
 */
export const GapReason = {
  /**
   * Not set.
   */
  GAP_REASON_UNSPECIFIED: 'GAP_REASON_UNSPECIFIED',
  /**
   * The loader process exited or crashed; counts between its last report and its restart are lost.
   */
  GAP_REASON_LOADER_EXITED: 'GAP_REASON_LOADER_EXITED',
  /**
   * The loader printed a line the agent could not parse or validate; that interval was discarded.
   */
  GAP_REASON_BAD_OUTPUT: 'GAP_REASON_BAD_OUTPUT',
  /**
   * The agent could not deliver earlier reports to the control plane and dropped them.
   */
  GAP_REASON_REPORT_DROPPED: 'GAP_REASON_REPORT_DROPPED',
  /**
   * The source switched (e.g. BPF unavailable, fell back to `ss -ti`).
   */
  GAP_REASON_SOURCE_CHANGED: 'GAP_REASON_SOURCE_CHANGED',
} as const;

/**
 * Why a collection gap happened (an interval whose counts are missing or incomplete).
 */
export type GapReason =
  /**
   * Not set.
   */
  | 'GAP_REASON_UNSPECIFIED'
  | 0
  /**
   * The loader process exited or crashed; counts between its last report and its restart are lost.
   */
  | 'GAP_REASON_LOADER_EXITED'
  | 1
  /**
   * The loader printed a line the agent could not parse or validate; that interval was discarded.
   */
  | 'GAP_REASON_BAD_OUTPUT'
  | 2
  /**
   * The agent could not deliver earlier reports to the control plane and dropped them.
   */
  | 'GAP_REASON_REPORT_DROPPED'
  | 3
  /**
   * The source switched (e.g. BPF unavailable, fell back to `ss -ti`).
   */
  | 'GAP_REASON_SOURCE_CHANGED'
  | 4

/**
 * Why a collection gap happened (an interval whose counts are missing or incomplete).
 */
export type GapReason__Output = typeof GapReason[keyof typeof GapReason]
