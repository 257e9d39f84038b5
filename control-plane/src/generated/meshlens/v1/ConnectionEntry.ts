// Original file: protos/meshlens/v1/telemetry.proto

import type { OutcomeCounters as _meshlens_v1_OutcomeCounters, OutcomeCounters__Output as _meshlens_v1_OutcomeCounters__Output } from '../../meshlens/v1/OutcomeCounters.ts';
import type { ConnectionRouteShare as _meshlens_v1_ConnectionRouteShare, ConnectionRouteShare__Output as _meshlens_v1_ConnectionRouteShare__Output } from '../../meshlens/v1/ConnectionRouteShare.ts';

/**
 * Outcomes of requests that travelled on one upstream connection.
 */
export interface ConnectionEntry {
  /**
   * upstream.local_address, "ip:port" (IPv6 as "[ip]:port").
   */
  'localAddress'?: (string);
  /**
   * upstream.address, "ip:port".
   */
  'remoteAddress'?: (string);
  /**
   * Envoy upstream cluster of the connection.
   */
  'cluster'?: (string);
  /**
   * Outcome counters of the requests carried.
   */
  'counters'?: (_meshlens_v1_OutcomeCounters | null);
  /**
   * The same requests by (path template, tenant); their requests add up to counters.requests. At most 16 entries:
   * pairs beyond that are summed under ("~other", "~other"). Empty from filters that do not report it.
   */
  'routes'?: (_meshlens_v1_ConnectionRouteShare)[];
}

/**
 * Outcomes of requests that travelled on one upstream connection.
 */
export interface ConnectionEntry__Output {
  /**
   * upstream.local_address, "ip:port" (IPv6 as "[ip]:port").
   */
  'localAddress': (string);
  /**
   * upstream.address, "ip:port".
   */
  'remoteAddress': (string);
  /**
   * Envoy upstream cluster of the connection.
   */
  'cluster': (string);
  /**
   * Outcome counters of the requests carried.
   */
  'counters': (_meshlens_v1_OutcomeCounters__Output | null);
  /**
   * The same requests by (path template, tenant); their requests add up to counters.requests. At most 16 entries:
   * pairs beyond that are summed under ("~other", "~other"). Empty from filters that do not report it.
   */
  'routes': (_meshlens_v1_ConnectionRouteShare__Output)[];
}
