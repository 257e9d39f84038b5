// Every Envoy configuration fragment meshlens ships, checked against Envoy's own API protos.
import { ISTIO_VERSIONS, istioBootstrapStatsTags } from '../../filter/host/index.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnvoyConfigChecker } from './envoy-proto.ts';
import {
  meshExtraStatTags,
  WASM_TYPE_URL,
  envoyFilterPluginConfigText,
  filterStatsTags,
  find,
  istioExtraStatTagSpecifier,
  overlayResources,
  readResource,
  type Resource,
} from './manifests.ts';

const checker = new EnvoyConfigChecker();
const HTTP_FILTER = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter';
const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const STATS_CONFIG = 'envoy.config.metrics.v3.StatsConfig';
const ROUTE = 'envoy.config.route.v3.Route';

const validHttpFilter = () => ({
  name: 'meshlens',
  typed_config: {
    '@type': WASM_TYPE_URL,
    config: {
      name: 'meshlens',
      root_id: 'meshlens',
      vm_config: { vm_id: 'meshlens', runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: '/x.wasm' } } },
      configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{}' },
      fail_open: false,
    },
  },
});

const checkerSuite = suite('EnvoyConfigChecker (strictness)');

checkerSuite('accepts a well-formed Wasm HttpFilter, in snake_case and in lowerCamel JSON names', () => {
  assert.equal(checker.check(HTTP_FILTER, validHttpFilter()), []);
  const camel = validHttpFilter() as unknown as { typedConfig: unknown; typed_config?: unknown };
  camel.typedConfig = camel.typed_config;
  delete camel.typed_config;
  assert.equal(checker.check(HTTP_FILTER, camel), []);
});

checkerSuite('rejects a misspelt field deep inside the typed_config', () => {
  const value = validHttpFilter();
  (value.typed_config.config as Record<string, unknown>).root_idd = 'meshlens';
  const errors = checker.check(HTTP_FILTER, value);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /root_idd: unknown field in envoy\.extensions\.wasm\.v3\.PluginConfig/);
});

checkerSuite('rejects wrong scalar types, bad enums and bad durations', () => {
  const value = validHttpFilter();
  (value.typed_config.config as Record<string, unknown>).fail_open = 'false';
  assert.match(checker.check(HTTP_FILTER, value).join('\n'), /fail_open: bool must be true or false/);
  const cluster = { name: 'c', type: 'STRICTDNS', connect_timeout: '1000ms' };
  const errors = checker.check(CLUSTER, cluster).join('\n');
  assert.match(errors, /"STRICTDNS" is not a value of enum envoy\.config\.cluster\.v3\.Cluster\.DiscoveryType/);
  assert.match(errors, /connect_timeout: Duration must be a string like "1\.5s"/);
});

checkerSuite('resolves Any by @type and rejects unknown types and fields of the packed message', () => {
  const unknownType = { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasmm' } };
  assert.match(checker.check(HTTP_FILTER, unknownType).join('\n'), /unknown @type envoy\.extensions\.filters\.http\.wasm\.v3\.Wasmm/);
  const strayField = { name: 'x', typed_config: { '@type': WASM_TYPE_URL, confg: {} } };
  assert.match(checker.check(HTTP_FILTER, strayField).join('\n'), /confg: unknown field in envoy\.extensions\.filters\.http\.wasm\.v3\.Wasm/);
  const wrapper = validHttpFilter();
  (wrapper.typed_config.config.configuration as Record<string, unknown>).value = 42;
  assert.match(checker.check(HTTP_FILTER, wrapper).join('\n'), /configuration\.value: string must be a string/);
});

checkerSuite('enforces oneofs and protoc-gen-validate rules Envoy applies on load', () => {
  const both = validHttpFilter();
  (both.typed_config.config.vm_config.code as Record<string, unknown>).remote = { http_uri: { uri: 'https://x', cluster: 'c', timeout: '1s' }, sha256: 'ab' };
  assert.match(checker.check(HTTP_FILTER, both).join('\n'), /oneof specifier .* has several members set \(local, remote\)/);
  const noName = validHttpFilter() as Partial<ReturnType<typeof validHttpFilter>>;
  delete noName.name;
  assert.match(checker.check(HTTP_FILTER, noName).join('\n'), /\.name: required \(string\.min_len 1\)/);
  const tagWithoutValue = { stats_tags: [{ tag_name: 'tenant' }] };
  assert.equal(checker.check(STATS_CONFIG, tagWithoutValue), []);
  const badTag = { stats_tags: [{ tag_name: 'tenant', regex: 'x', fixed_value: 'y' }] };
  assert.match(checker.check(STATS_CONFIG, badTag).join('\n'), /oneof tag_value/);
});

checkerSuite.run();

const shipped = suite('shipped Envoy fragments');
const envoyFilters = [...overlayResources('envoyfilter'), ...overlayResources('wasmplugin')]
  .filter((r, i, all) => r.resource.kind === 'EnvoyFilter' && all.findIndex((o) => o.file === r.file) === i);

function patchesOf(filter: Resource, applyTo: string): Resource[] {
  return filter.spec.configPatches.filter((p: Resource) => p.applyTo === applyTo);
}

/** An outbound route as Istio generates it, for MERGE patches to land on (Envoy validates the merged result). */
const istioOutboundRoute = () => ({
  name: 'default',
  match: { prefix: '/' },
  route: {
    cluster: 'outbound|8080||orders.default.svc.cluster.local',
    timeout: '0s',
    retry_policy: {
      retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      num_retries: 2,
      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
      host_selection_retry_max_attempts: '5',
    },
    max_grpc_timeout: '0s',
  },
  decorator: { operation: 'orders.default.svc.cluster.local:8080/*' },
});

/** Protobuf merge semantics Istio's MERGE uses: messages merge field by field, scalars replace, lists append. */
function protoMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(target) && Array.isArray(patch)) return [...target, ...patch];
  if (target && patch && typeof target === 'object' && typeof patch === 'object' && !Array.isArray(patch)) {
    const out: Record<string, unknown> = { ...(target as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) out[k] = k in out ? protoMerge(out[k], v) : v;
    return out;
  }
  return patch;
}

shipped('every EnvoyFilter patch value is a valid Envoy message for what it patches', () => {
  const typeFor: Record<string, string> = { HTTP_FILTER, CLUSTER, HTTP_ROUTE: ROUTE };
  const mergeBase: Record<string, () => unknown> = { HTTP_ROUTE: istioOutboundRoute };
  let checked = 0;
  for (const { file, resource } of envoyFilters) {
    for (const [i, patch] of (resource.spec.configPatches as Resource[]).entries()) {
      const type = typeFor[patch.applyTo as string];
      assert.ok(type, `${file} patch ${i}: applyTo ${patch.applyTo} has no checker mapping`);
      let value = patch.patch.value;
      if (patch.patch.operation === 'MERGE') {
        assert.ok(mergeBase[patch.applyTo], `${file} patch ${i}: no base to MERGE ${patch.applyTo} into`);
        value = protoMerge(mergeBase[patch.applyTo](), value);
      }
      assert.equal(checker.check(type, value), [], `${file} patch ${i}`);
      checked++;
    }
  }
  assert.ok(checked >= 3, `expected the filter, cluster and route patches, checked ${checked}`);
});

shipped('the Wasm filter goes before the router on outbound listeners with the agreed identity', () => {
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter');
  const [patch] = patchesOf(filter, 'HTTP_FILTER');
  assert.is(patch.match.context, 'SIDECAR_OUTBOUND');
  assert.is(patch.match.listener.filterChain.filter.name, 'envoy.filters.network.http_connection_manager');
  assert.is(patch.match.listener.filterChain.filter.subFilter.name, 'envoy.filters.http.router');
  assert.is(patch.patch.operation, 'INSERT_BEFORE');
  const wasm = patch.patch.value.typed_config;
  assert.is(wasm['@type'], WASM_TYPE_URL);
  assert.is(wasm.config.root_id, 'meshlens');
  assert.is(wasm.config.vm_config.vm_id, 'meshlens');
  assert.is(wasm.config.vm_config.runtime, 'envoy.wasm.runtime.v8');
  assert.is(wasm.config.failure_policy, 'FAIL_RELOAD');
  assert.ok(JSON.parse(envoyFilterPluginConfigText()), 'configuration StringValue holds JSON');
  // The VM environment the filter reads its token from (controlPlane.tokenEnv) is checked by the proto too.
  assert.equal(wasm.config.vm_config.environment_variables.host_env_keys, [JSON.parse(envoyFilterPluginConfigText()).controlPlane.tokenEnv]);
  const misspelt = structuredClone(patch.patch.value);
  misspelt.typed_config.config.vm_config.environment_variables = { host_env_key: ['MESHLENS_PROXY_TOKEN'] };
  assert.match(checker.check(HTTP_FILTER, misspelt).join('\n'), /host_env_key: unknown field in envoy\.extensions\.wasm\.v3\.EnvironmentVariables/);
});

shipped('the control-plane cluster is HTTP/2, and is the cluster the plugin config dials', () => {
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-control-plane-cluster');
  const [patch] = patchesOf(filter, 'CLUSTER');
  assert.is(patch.patch.operation, 'ADD');
  const cluster = patch.patch.value;
  const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.ok(options.explicit_http_config.http2_protocol_options, 'gRPC needs http2_protocol_options');
  const address = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  assert.is(address.port_value, 18000);
  const service = find(overlayResources('envoyfilter'), 'Service', 'meshlens-control-plane');
  assert.is(address.address, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
  assert.is(JSON.parse(envoyFilterPluginConfigText()).controlPlane.cluster, cluster.name);
});

shipped('the control-plane cluster\'s Istio mTLS transport socket is checked field by field (negative)', () => {
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-control-plane-cluster');
  const [patch] = patchesOf(filter, 'CLUSTER');
  const misspelt = structuredClone(patch.patch.value);
  const validation = misspelt.transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context;
  validation.match_subject_alt_name = validation.match_subject_alt_names;
  delete validation.match_subject_alt_names;
  assert.match(checker.check(CLUSTER, misspelt).join('\n'), /match_subject_alt_name: unknown field in envoy\.extensions\.transport_sockets\.tls\.v3\.CertificateValidationContext/);
  const badVersion = structuredClone(patch.patch.value);
  badVersion.transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version = 'TLS1_2';
  assert.match(checker.check(CLUSTER, badVersion).join('\n'), /"TLS1_2" is not a value of enum/);
});

/**
 * The ECDS resource istiod renders from a WasmPlugin (pilot/pkg/model/extensions.go buildPluginConfig and
 * buildVMConfig, Istio 1.28.10): remote code (istio-agent swaps in the downloaded file), StringValue(JSON) config,
 * the pull policy and resource version as key_values (names: pkg/model/wasm.go), vmConfig.env HOST entries as
 * host_env_keys, and for proxies >= 1.25 failStrategy as failure_policy
 * (FAIL_OPEN → FAIL_OPEN, FAIL_CLOSE → FAIL_CLOSED, FAIL_RELOAD → FAIL_RELOAD), fail_open for older ones.
 */
function renderWasmPlugin(plugin: Resource, proxyMinor: number): Resource {
  const name = `${plugin.metadata.namespace}.${plugin.metadata.name}`;
  const failure: Record<string, unknown> =
    proxyMinor >= 25
      ? plugin.spec.failStrategy === undefined ? {} : { failure_policy: { FAIL_OPEN: 'FAIL_OPEN', FAIL_CLOSE: 'FAIL_CLOSED', FAIL_RELOAD: 'FAIL_RELOAD' }[plugin.spec.failStrategy as string] }
      : { fail_open: plugin.spec.failStrategy === 'FAIL_OPEN' };
  const env = plugin.spec.vmConfig?.env ?? [];
  return {
    name,
    typed_config: {
      '@type': WASM_TYPE_URL,
      config: {
        name,
        root_id: plugin.spec.pluginName,
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(plugin.spec.pluginConfig) },
        vm_config: {
          runtime: 'envoy.wasm.runtime.v8',
          code: { remote: { http_uri: { uri: plugin.spec.url, cluster: '_', timeout: '30s' }, sha256: plugin.spec.sha256 } },
          environment_variables: {
            key_values: { ISTIO_META_WASM_IMAGE_PULL_POLICY: plugin.spec.imagePullPolicy, ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: '1' },
            host_env_keys: env.filter((e: Resource) => e.valueFrom === 'HOST').map((e: Resource) => e.name),
          },
        },
        ...failure,
      },
    },
  } as unknown as Resource;
}

shipped('the WasmPlugin, rendered into the ECDS resource Istio pushes, is a valid Envoy extension config', () => {
  const plugin = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens');
  const rendered = renderWasmPlugin(plugin, 28);
  assert.equal(checker.check('envoy.config.core.v3.TypedExtensionConfig', rendered), []);
  const [httpFilter] = patchesOf(find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter'), 'HTTP_FILTER');
  const envoyFilterConfig = httpFilter.patch.value.typed_config.config;
  assert.is(rendered.typed_config.config.root_id, envoyFilterConfig.root_id, 'same root context');
  assert.is(rendered.typed_config.config.failure_policy, 'FAIL_RELOAD');
  assert.is(rendered.typed_config.config.failure_policy, envoyFilterConfig.failure_policy, 'same failure policy');
  assert.equal(rendered.typed_config.config.vm_config.environment_variables.host_env_keys, envoyFilterConfig.vm_config.environment_variables.host_env_keys, 'same VM env');
  // Istio 1.24-1.26's overlay: FAIL_CLOSE → FAIL_CLOSED on 1.25/1.26 proxies, fail_open false on 1.24 proxies.
  const old = find(overlayResources('wasmplugin-istio-1.24'), 'WasmPlugin', 'meshlens');
  assert.is(renderWasmPlugin(old, 26).typed_config.config.failure_policy, 'FAIL_CLOSED');
  assert.is(renderWasmPlugin(old, 24).typed_config.config.fail_open, false);
  assert.equal(checker.check('envoy.config.core.v3.TypedExtensionConfig', renderWasmPlugin(old, 26)), []);
});

shipped('failure_policy is checked against Envoy 1.33+ PluginConfig: enum values and reload_config (negative)', () => {
  const [patch] = patchesOf(find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter'), 'HTTP_FILTER');
  const value = structuredClone(patch.patch.value);
  value.typed_config.config.failure_policy = 'FAIL_RESTART';
  assert.match(checker.check(HTTP_FILTER, value).join('\n'), /"FAIL_RESTART" is not a value of enum envoy\.extensions\.wasm\.v3\.FailurePolicy/);
  value.typed_config.config.failure_policy = 'FAIL_RELOAD';
  value.typed_config.config.reload_config = { backoff: { base_interval: '1s', max_interval: '10s' } };
  assert.equal(checker.check(HTTP_FILTER, value), []);
  value.typed_config.config.reload_config = { backof: {} };
  assert.match(checker.check(HTTP_FILTER, value).join('\n'), /backof: unknown field in envoy\.extensions\.wasm\.v3\.ReloadConfig/);
});

shipped('route retry backoff is the default policy collapsed by policy-model routeBackOff()', async () => {
  const { routeBackOff, validatePolicy } = await import('../../control-plane/src/policy-model.ts');
  const policy = validatePolicy(JSON.parse(envoyFilterPluginConfigText()).defaultPolicy);
  const { baseIntervalMs, maxIntervalMs } = routeBackOff(policy.retry);
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-route-retry-backoff');
  const [patch] = patchesOf(filter, 'HTTP_ROUTE');
  assert.is(patch.match.context, 'SIDECAR_OUTBOUND');
  assert.is(patch.patch.operation, 'MERGE');
  const backOff = patch.patch.value.route.retry_policy.retry_back_off;
  assert.is(backOff.base_interval, `${baseIntervalMs / 1000}s`);
  assert.is(backOff.max_interval, `${maxIntervalMs / 1000}s`);
  const misspelt = { route: { retry_policy: { retry_backoff: backOff } } };
  assert.match(checker.check(ROUTE, misspelt).join('\n'), /retry_backoff: unknown field in envoy\.config\.route\.v3\.RetryPolicy/);
});

shipped('the bootstrap stats_tags of every supported Istio with the shipped extraStatTags are valid and cover every filter tag', () => {
  const extra = meshExtraStatTags();
  assert.equal(extra, filterStatsTags().map((t) => t.tag), 'extraStatTags list exactly the tags the filter encodes, in order');
  assert.ok(extra.includes('response_code'), 'Istio >= 1.18 declares no response_code=.= specifier of its own (istio/istio#44154)');
  for (const istio of ISTIO_VERSIONS) {
    const stats_tags = istioBootstrapStatsTags(istio, extra).map(({ tag, regex }) => ({ tag_name: tag, regex }));
    assert.equal(checker.check(STATS_CONFIG, { use_all_default_tags: false, stats_tags }), [], `Istio ${istio}`);
    for (const { tag, regex } of filterStatsTags()) {
      assert.ok(stats_tags.some((t) => t.tag_name === tag && t.regex === regex), `Istio ${istio}: filter tag ${tag} with ${regex}`);
      assert.is(istioExtraStatTagSpecifier(tag).regex, regex, `regex for ${tag}`);
    }
  }
});

shipped('the host-side stats_tags in filter/stats-tags.json are valid Envoy TagSpecifiers', () => {
  const stats_tags = filterStatsTags().map(({ tag, regex }) => ({ tag_name: tag, regex }));
  assert.ok(stats_tags.length >= 5);
  assert.equal(checker.check(STATS_CONFIG, { stats_tags }), []);
});

shipped('proxyStatsMatcher becomes a valid StatsMatcher that admits meshlens stats and nothing else', () => {
  const mesh = readResource('istio/mesh/istio-operator.yaml');
  const regexps: string[] = mesh.spec.meshConfig.defaultConfig.proxyStatsMatcher.inclusionRegexps;
  const matcher = { inclusion_list: { patterns: regexps.map((regex) => ({ safe_regex: { regex } })) } };
  assert.equal(checker.check('envoy.config.metrics.v3.StatsMatcher', matcher), []);
  // Envoy's safe_regex matches the whole stat name.
  const admitted = (name: string) => regexps.some((r) => new RegExp(`^(?:${r})$`).test(name));
  const encoded = 'wasmcustom.upstream_cluster=.=outbound|8080||orders.default.svc.cluster.local;.;tenant=.=acme;.;meshlens_breaker_rejected_total';
  assert.ok(admitted(encoded));
  assert.ok(admitted('wasmcustom.meshlens_request_duration_milliseconds'));
  assert.not.ok(admitted('cluster.outbound|8080||orders.default.svc.cluster.local.upstream_rq_total'));
  assert.not.ok(admitted('wasmcustom.other_plugin_total'));
});

shipped.run();
