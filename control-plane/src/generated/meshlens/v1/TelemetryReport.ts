// Original file: protos/meshlens/v1/telemetry.proto

import type { Node as _meshlens_v1_Node, Node__Output as _meshlens_v1_Node__Output } from '../../meshlens/v1/Node.ts';
import type { ConnectionEntry as _meshlens_v1_ConnectionEntry, ConnectionEntry__Output as _meshlens_v1_ConnectionEntry__Output } from '../../meshlens/v1/ConnectionEntry.ts';
import type { RouteEntry as _meshlens_v1_RouteEntry, RouteEntry__Output as _meshlens_v1_RouteEntry__Output } from '../../meshlens/v1/RouteEntry.ts';
import type { BreakerEntry as _meshlens_v1_BreakerEntry, BreakerEntry__Output as _meshlens_v1_BreakerEntry__Output } from '../../meshlens/v1/BreakerEntry.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One report from one proxy (its VMs' windows concatenated: repeated entries may repeat a key, and add up).
 */
export interface TelemetryReport {
  /**
   * The reporting proxy (same identity as on its discovery stream).
   */
  'node'?: (_meshlens_v1_Node | null);
  /**
   * Snapshot version (DiscoveryResponse.version_info) the VM enforced at window end; "" if only the default.
   */
  'policyVersion'?: (string);
  /**
   * Window start, Unix epoch milliseconds.
   */
  'windowStartUnixMs'?: (number | string | Long);
  /**
   * Window end, Unix epoch milliseconds.
   */
  'windowEndUnixMs'?: (number | string | Long);
  /**
   * Outcomes per upstream connection.
   */
  'connections'?: (_meshlens_v1_ConnectionEntry)[];
  /**
   * Outcomes per (cluster, path template, tenant).
   */
  'routes'?: (_meshlens_v1_RouteEntry)[];
  /**
   * Breaker scopes known to the VM that are not Closed, changed state since the VM's previous report, or carried
   * traffic within their breaker window (at most the filter's scope cap, 2048). Breaker state is process-wide (shared
   * by the proxy's VMs), so a scope may repeat in one report, once per VM that saw it; `transitions` counts each
   * VM's own window.
   */
  'breakers'?: (_meshlens_v1_BreakerEntry)[];
}

/**
 * One report from one proxy (its VMs' windows concatenated: repeated entries may repeat a key, and add up).
 */
export interface TelemetryReport__Output {
  /**
   * The reporting proxy (same identity as on its discovery stream).
   */
  'node': (_meshlens_v1_Node__Output | null);
  /**
   * Snapshot version (DiscoveryResponse.version_info) the VM enforced at window end; "" if only the default.
   */
  'policyVersion': (string);
  /**
   * Window start, Unix epoch milliseconds.
   */
  'windowStartUnixMs': (string);
  /**
   * Window end, Unix epoch milliseconds.
   */
  'windowEndUnixMs': (string);
  /**
   * Outcomes per upstream connection.
   */
  'connections': (_meshlens_v1_ConnectionEntry__Output)[];
  /**
   * Outcomes per (cluster, path template, tenant).
   */
  'routes': (_meshlens_v1_RouteEntry__Output)[];
  /**
   * Breaker scopes known to the VM that are not Closed, changed state since the VM's previous report, or carried
   * traffic within their breaker window (at most the filter's scope cap, 2048). Breaker state is process-wide (shared
   * by the proxy's VMs), so a scope may repeat in one report, once per VM that saw it; `transitions` counts each
   * VM's own window.
   */
  'breakers': (_meshlens_v1_BreakerEntry__Output)[];
}
