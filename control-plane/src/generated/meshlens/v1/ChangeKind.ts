// Original file: protos/meshlens/v1/admin.proto

/**
 * Kind of a policy change.
 */
export const ChangeKind = {
  /**
   * Not set.
   */
  CHANGE_KIND_UNSPECIFIED: 'CHANGE_KIND_UNSPECIFIED',
  /**
   * First version of a policy id (or the first after a delete).
   */
  CHANGE_KIND_CREATE: 'CHANGE_KIND_CREATE',
  /**
   * Replacement of the current version.
   */
  CHANGE_KIND_UPDATE: 'CHANGE_KIND_UPDATE',
  /**
   * Deletion.
   */
  CHANGE_KIND_DELETE: 'CHANGE_KIND_DELETE',
  /**
   * Replacement with an earlier version's content.
   */
  CHANGE_KIND_ROLLBACK: 'CHANGE_KIND_ROLLBACK',
} as const;

/**
 * Kind of a policy change.
 */
export type ChangeKind =
  /**
   * Not set.
   */
  | 'CHANGE_KIND_UNSPECIFIED'
  | 0
  /**
   * First version of a policy id (or the first after a delete).
   */
  | 'CHANGE_KIND_CREATE'
  | 1
  /**
   * Replacement of the current version.
   */
  | 'CHANGE_KIND_UPDATE'
  | 2
  /**
   * Deletion.
   */
  | 'CHANGE_KIND_DELETE'
  | 3
  /**
   * Replacement with an earlier version's content.
   */
  | 'CHANGE_KIND_ROLLBACK'
  | 4

/**
 * Kind of a policy change.
 */
export type ChangeKind__Output = typeof ChangeKind[keyof typeof ChangeKind]
