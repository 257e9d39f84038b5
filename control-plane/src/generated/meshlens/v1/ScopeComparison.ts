// Original file: protos/meshlens/v1/admin.proto

import type { ScopeStats as _meshlens_v1_ScopeStats, ScopeStats__Output as _meshlens_v1_ScopeStats__Output } from '../../meshlens/v1/ScopeStats.ts';

/**
 * One affected scope before and after a commit-confirmed change.
 */
export interface ScopeComparison {
  /**
   * Upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Tenant for per-tenant policies, "" otherwise.
   */
  'tenant'?: (string);
  /**
   * Baseline: the minutes before the change.
   */
  'before'?: (_meshlens_v1_ScopeStats | null);
  /**
   * The window after the change, so far.
   */
  'after'?: (_meshlens_v1_ScopeStats | null);
  /**
   * Whether it got worse than the bounds.
   */
  'worse'?: (boolean);
  /**
   * The verdict in words.
   */
  'why'?: (string);
}

/**
 * One affected scope before and after a commit-confirmed change.
 */
export interface ScopeComparison__Output {
  /**
   * Upstream cluster.
   */
  'cluster': (string);
  /**
   * Tenant for per-tenant policies, "" otherwise.
   */
  'tenant': (string);
  /**
   * Baseline: the minutes before the change.
   */
  'before': (_meshlens_v1_ScopeStats__Output | null);
  /**
   * The window after the change, so far.
   */
  'after': (_meshlens_v1_ScopeStats__Output | null);
  /**
   * Whether it got worse than the bounds.
   */
  'worse': (boolean);
  /**
   * The verdict in words.
   */
  'why': (string);
}
