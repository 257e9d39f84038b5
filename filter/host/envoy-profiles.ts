// The Envoy (and Istio) versions the host impersonates. A profile decides what differs between them for a Wasm
// filter: which top-level property names get_property still answers, and which bootstrap stats_tags Istio gives
// Envoy (istio-stat-tags.ts). Everything else the host does is common to all of them.
//
// Which Envoy each Istio minor ships: istio/proxy's release-1.x branch follows Envoy's release/vX branch through the
// automator job `UPDATE_BRANCH=release/vX scripts/update_envoy.sh` (istio/test-infra prow/config/jobs/proxy-1.24.yaml
// … proxy-1.27.yaml before their removal, prow/gcp/config/jobs/proxy-1.28.yaml): 1.24 → release/v1.32,
// 1.25 → v1.33, 1.26 → v1.34, 1.27 → v1.35, 1.28 → v1.36.
//
// Legacy property names: Envoy ≤ 1.32's Wasm Context::findValue (source/extensions/common/wasm/context.cc) kept its
// own PROPERTY_TOKENS NODE, LISTENER_DIRECTION, LISTENER_METADATA, CLUSTER_NAME, CLUSTER_METADATA, ROUTE_NAME,
// ROUTE_METADATA, UPSTREAM_HOST_METADATA beside the `xds` attributes (deprecated in 1.29). envoyproxy/envoy#36619
// ("wasm: remove redundant xds attributes", changelogs/1.33.0.yaml: "Remove previously deprecated xDS attributes from
// get_property, use xds attributes instead") cut PROPERTY_TOKENS down to PLUGIN_NAME, PLUGIN_ROOT_ID, PLUGIN_VM_ID,
// CONNECTION_ID (context.cc as of v1.36.x); everything else goes to the expression StreamActivation (request,
// response, connection, upstream, source, destination, metadata, filter_state, upstream_filter_state, xds). So from
// 1.33 on the eight names below fall through to the filter-state lookup (`wasm.<name>`) and answer NotFound;
// plugin_name, plugin_root_id, plugin_vm_id, connection_id and filter_state are answered by every supported version.
import { ISTIO_VERSIONS, type IstioVersion } from './istio-stat-tags.ts';

export const LEGACY_PROPERTY_NAMES = [
  'node', 'cluster_name', 'cluster_metadata', 'listener_direction', 'listener_metadata', 'route_name',
  'route_metadata', 'upstream_host_metadata',
] as const;

export interface EnvoyProfile {
  /** Envoy minor, e.g. '1.36'. */
  envoy: string;
  /** The Istio minor that ships it; selects Istio's bootstrap stats_tags. */
  istio: IstioVersion;
  /** Whether get_property still answers LEGACY_PROPERTY_NAMES at the top level (Envoy ≤ 1.32). */
  legacyProperties: boolean;
}

export const ENVOY_PROFILES: readonly EnvoyProfile[] = [
  { envoy: '1.32', istio: '1.24', legacyProperties: true },
  { envoy: '1.33', istio: '1.25', legacyProperties: false },
  { envoy: '1.34', istio: '1.26', legacyProperties: false },
  { envoy: '1.35', istio: '1.27', legacyProperties: false },
  { envoy: '1.36', istio: '1.28', legacyProperties: false },
];

/** The Envoy of the newest supported Istio. */
export const DEFAULT_PROFILE: EnvoyProfile = ENVOY_PROFILES[ENVOY_PROFILES.length - 1];
/** The oldest supported version, the last one with the legacy property names. */
export const OLDEST_PROFILE: EnvoyProfile = ENVOY_PROFILES[0];

/** A profile by Envoy minor ('1.33') or Istio minor ('istio-1.25'). */
export function envoyProfile(name: string): EnvoyProfile {
  const istio = /^istio-(\d+\.\d+)$/.exec(name);
  const found = istio
    ? ENVOY_PROFILES.find((p) => p.istio === istio[1])
    : ENVOY_PROFILES.find((p) => p.envoy === name);
  if (found === undefined) {
    throw new Error(`invalid Envoy profile: ${JSON.stringify(name)} must be one of ${ENVOY_PROFILES.map((p) => p.envoy).join(', ')}` +
      ` or istio-${ISTIO_VERSIONS.join(', istio-')}`);
  }
  return found;
}
