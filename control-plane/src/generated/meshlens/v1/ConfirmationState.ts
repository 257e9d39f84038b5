// Original file: protos/meshlens/v1/admin.proto

/**
 * State of a commit-confirmed change.
 */
export const ConfirmationState = {
  /**
   * Not set.
   */
  CONFIRMATION_STATE_UNSPECIFIED: 'CONFIRMATION_STATE_UNSPECIFIED',
  /**
   * Inside its window, not yet judged worse.
   */
  CONFIRMATION_STATE_PENDING: 'CONFIRMATION_STATE_PENDING',
  /**
   * The window ended and no affected scope got worse.
   */
  CONFIRMATION_STATE_CONFIRMED: 'CONFIRMATION_STATE_CONFIRMED',
  /**
   * An affected scope got worse: the control plane restored the version before (or deleted a created policy).
   */
  CONFIRMATION_STATE_ROLLED_BACK: 'CONFIRMATION_STATE_ROLLED_BACK',
  /**
   * Another write to the policy came first; not judged.
   */
  CONFIRMATION_STATE_SUPERSEDED: 'CONFIRMATION_STATE_SUPERSEDED',
} as const;

/**
 * State of a commit-confirmed change.
 */
export type ConfirmationState =
  /**
   * Not set.
   */
  | 'CONFIRMATION_STATE_UNSPECIFIED'
  | 0
  /**
   * Inside its window, not yet judged worse.
   */
  | 'CONFIRMATION_STATE_PENDING'
  | 1
  /**
   * The window ended and no affected scope got worse.
   */
  | 'CONFIRMATION_STATE_CONFIRMED'
  | 2
  /**
   * An affected scope got worse: the control plane restored the version before (or deleted a created policy).
   */
  | 'CONFIRMATION_STATE_ROLLED_BACK'
  | 3
  /**
   * Another write to the policy came first; not judged.
   */
  | 'CONFIRMATION_STATE_SUPERSEDED'
  | 4

/**
 * State of a commit-confirmed change.
 */
export type ConfirmationState__Output = typeof ConfirmationState[keyof typeof ConfirmationState]
