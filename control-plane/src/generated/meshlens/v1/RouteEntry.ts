// Original file: protos/meshlens/v1/telemetry.proto

import type { OutcomeCounters as _meshlens_v1_OutcomeCounters, OutcomeCounters__Output as _meshlens_v1_OutcomeCounters__Output } from '../../meshlens/v1/OutcomeCounters.ts';

/**
 * Outcomes of one (cluster, path template, tenant).
 */
export interface RouteEntry {
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Bounded path template ("/orders/{id}", or "~other" beyond the cap).
   */
  'pathTemplate'?: (string);
  /**
   * Bounded tenant ("unknown", "~other", or an allowed tenant).
   */
  'tenant'?: (string);
  /**
   * Outcome counters.
   */
  'counters'?: (_meshlens_v1_OutcomeCounters | null);
}

/**
 * Outcomes of one (cluster, path template, tenant).
 */
export interface RouteEntry__Output {
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Bounded path template ("/orders/{id}", or "~other" beyond the cap).
   */
  'pathTemplate': (string);
  /**
   * Bounded tenant ("unknown", "~other", or an allowed tenant).
   */
  'tenant': (string);
  /**
   * Outcome counters.
   */
  'counters': (_meshlens_v1_OutcomeCounters__Output | null);
}
