// Original file: protos/meshlens/v1/admin.proto

import type { EndpointVerdict as _meshlens_v1_EndpointVerdict, EndpointVerdict__Output as _meshlens_v1_EndpointVerdict__Output } from '../../meshlens/v1/EndpointVerdict.ts';
import type { EndpointSignals as _meshlens_v1_EndpointSignals, EndpointSignals__Output as _meshlens_v1_EndpointSignals__Output } from '../../meshlens/v1/EndpointSignals.ts';
import type { VerdictChange as _meshlens_v1_VerdictChange, VerdictChange__Output as _meshlens_v1_VerdictChange__Output } from '../../meshlens/v1/VerdictChange.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One upstream endpoint (cluster, remote ip:port) as the correlation sees it.
 */
export interface EndpointStatus {
  /**
   * Envoy upstream cluster.
   */
  'cluster'?: (string);
  /**
   * Remote "ip:port" (the filter's upstream.address).
   */
  'endpoint'?: (string);
  /**
   * Current verdict (after hysteresis).
   */
  'verdict'?: (_meshlens_v1_EndpointVerdict);
  /**
   * End of the last window evaluated for the endpoint, Unix epoch milliseconds.
   */
  'windowEndUnixMs'?: (number | string | Long);
  /**
   * Signals of that window.
   */
  'signals'?: (_meshlens_v1_EndpointSignals | null);
  /**
   * The endpoint's baseline (EWMA of windows where nothing departed).
   */
  'baseline'?: (_meshlens_v1_EndpointSignals | null);
  /**
   * Recent verdict changes, oldest first.
   */
  'history'?: (_meshlens_v1_VerdictChange)[];
}

/**
 * One upstream endpoint (cluster, remote ip:port) as the correlation sees it.
 */
export interface EndpointStatus__Output {
  /**
   * Envoy upstream cluster.
   */
  'cluster': (string);
  /**
   * Remote "ip:port" (the filter's upstream.address).
   */
  'endpoint': (string);
  /**
   * Current verdict (after hysteresis).
   */
  'verdict': (_meshlens_v1_EndpointVerdict__Output);
  /**
   * End of the last window evaluated for the endpoint, Unix epoch milliseconds.
   */
  'windowEndUnixMs': (string);
  /**
   * Signals of that window.
   */
  'signals': (_meshlens_v1_EndpointSignals__Output | null);
  /**
   * The endpoint's baseline (EWMA of windows where nothing departed).
   */
  'baseline': (_meshlens_v1_EndpointSignals__Output | null);
  /**
   * Recent verdict changes, oldest first.
   */
  'history': (_meshlens_v1_VerdictChange__Output)[];
}
