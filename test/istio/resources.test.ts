// istio/ as a deployable kustomize tree: Istio resources valid against Istio's CRD schemas, every file listed,
// overlays render, and the Kubernetes workloads carry the ports, probes and privileges the design calls for.
import { readFileSync, readdirSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { parseEndpoints } from '../../control-plane/src/etcd-client.ts';
import { isIstioResource, schemaErrors, unknownFieldErrors } from './istio-schema.ts';
import {
  ISTIO_DIR,
  OVERLAYS,
  REPO_ROOT,
  allYamlFiles,
  envoyFilterPluginConfigText,
  everyResource,
  find,
  kubectlMissing,
  kustomizeBuild,
  overlayResources,
  readKustomization,
  readResource,
  wasmPluginConfigText,
  type Resource,
} from './manifests.ts';

const schema = suite('Istio resources against the CRD schemas');

schema('every shipped Istio resource passes its CRD validator and uses only fields the CRD defines', () => {
  const istio = everyResource().filter(isIstioResource);
  const kinds = new Set(istio.map((r) => r.kind));
  for (const kind of ['EnvoyFilter', 'WasmPlugin', 'IstioOperator']) assert.ok(kinds.has(kind), `${kind} shipped`);
  const unknown = unknownFieldErrors(istio);
  istio.forEach((r, i) => {
    assert.equal(schemaErrors(r), [], `${r.kind}/${r.metadata.name}`);
    assert.equal(unknown[i], [], `${r.kind}/${r.metadata.name}`);
  });
});

schema('a wrong enum value and a misspelt field are both rejected (negative)', () => {
  const plugin = structuredClone(find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens'));
  plugin.spec.phase = 'BEFORE_ROUTER';
  assert.match(schemaErrors(plugin).join('\n'), /\/spec\/phase must be equal to one of the allowed values/);
  const filter = structuredClone(find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter'));
  filter.spec.configPatches[0].match.contxt = filter.spec.configPatches[0].match.context;
  delete filter.spec.configPatches[0].match.context;
  const misspelt = structuredClone(find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens'));
  misspelt.spec.failStrategey = 'FAIL_OPEN';
  const [filterErrors, pluginErrors] = unknownFieldErrors([filter, misspelt]);
  assert.match(filterErrors.join('\n'), /'"contxt"' does not exist/);
  assert.match(pluginErrors.join('\n'), /'"failStrategey"' does not exist/);
  const wrongType = structuredClone(find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens'));
  wrongType.spec.priority = 'high';
  assert.ok(schemaErrors(wrongType).length > 0, 'priority must be an integer');
});

schema('mesh config keys are the ProxyConfig fields Istio defines (its IstioOperator CRD has no schema)', () => {
  const config = readResource('istio/mesh/istio-operator.yaml').spec.meshConfig.defaultConfig;
  // istio/api mesh/v1alpha1/proxy.proto: ProxyConfig.extra_stat_tags, .proxy_stats_matcher{inclusion_prefixes,…}
  for (const key of Object.keys(config)) assert.ok(['extraStatTags', 'proxyStatsMatcher'].includes(key), key);
  for (const key of Object.keys(config.proxyStatsMatcher)) {
    assert.ok(['inclusionPrefixes', 'inclusionSuffixes', 'inclusionRegexps'].includes(key), key);
  }
  assert.ok(config.extraStatTags.every((t: unknown) => typeof t === 'string' && /^[a-z_]+$/.test(t)));
});

schema('the proxy token travels Secret → istio-proxy env (injection template) → VM env → filter, under one name', () => {
  const name = JSON.parse(envoyFilterPluginConfigText()).controlPlane.tokenEnv;
  assert.is(name, 'MESHLENS_PROXY_TOKEN');
  assert.not.ok('token' in JSON.parse(envoyFilterPluginConfigText()).controlPlane, 'no secret inside the EnvoyFilter');
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter');
  const patch = filter.spec.configPatches.find((p: Resource) => p.applyTo === 'HTTP_FILTER');
  assert.equal(patch.patch.value.typed_config.config.vm_config.environment_variables, { host_env_keys: [name] });
  const plugin = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens');
  assert.equal(plugin.spec.vmConfig, { env: [{ name, valueFrom: 'HOST' }] });
  // Istio custom injection templates are Pod patches merged with the `sidecar` template, as YAML text; how they
  // merge in both pod shapes is test/istio/injection.test.ts.
  const templates = readResource('istio/mesh/istio-operator.yaml').spec.values.sidecarInjectorWebhook.templates;
  const [proxy] = parse(templates['meshlens-token']).spec.containers;
  assert.is(proxy.name, 'istio-proxy');
  assert.equal(proxy.env, [{ name, valueFrom: { secretKeyRef: { name: 'meshlens-proxy-token', key: 'token' } } }]);
});

schema('a WasmPlugin vmConfig.env with an unknown valueFrom is rejected (negative)', () => {
  const plugin = structuredClone(find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens'));
  plugin.spec.vmConfig.env[0].valueFrom = 'SECRET';
  assert.match(schemaErrors(plugin).join('\n'), /\/spec\/vmConfig\/env\/0\/valueFrom must be equal to one of the allowed values/);
});

schema('both delivery variants hand the filter the same plugin configuration', () => {
  assert.equal(JSON.parse(wasmPluginConfigText()), JSON.parse(envoyFilterPluginConfigText()));
  const plugin = find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens');
  assert.is(plugin.spec.pluginName, 'meshlens', 'pluginName becomes root_id');
  // A trapped VM is reloaded instead of failing its worker until the pod restarts (Envoy failure_policy).
  assert.is(plugin.spec.failStrategy, 'FAIL_RELOAD');
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter');
  const wasm = filter.spec.configPatches.find((p: Resource) => p.applyTo === 'HTTP_FILTER').patch.value.typed_config.config;
  assert.is(wasm.failure_policy, 'FAIL_RELOAD', 'same failure policy in the EnvoyFilter variant');
  assert.not.ok('fail_open' in wasm, 'Envoy refuses fail_open together with failure_policy');
  // Istio 1.24-1.26 have no FAIL_RELOAD in the WasmPlugin CRD: their overlay changes that one field, nothing else.
  const old = find(overlayResources('wasmplugin-istio-1.24'), 'WasmPlugin', 'meshlens');
  assert.is(old.spec.failStrategy, 'FAIL_CLOSE');
  assert.equal({ ...old.spec, failStrategy: 'FAIL_RELOAD' }, plugin.spec);
  assert.match(plugin.spec.url, /^oci:\/\//);
  assert.match(plugin.spec.sha256, /^[0-9a-f]{64}$/);
  assert.equal(plugin.spec.match, [{ mode: 'CLIENT' }], 'outbound, like the EnvoyFilter variant');
  assert.is(plugin.spec.selector.matchLabels['meshlens.io/filter'], 'enabled');
});

schema.run();

const structure = suite('kustomize structure');

function kustomizationDirs(dir = ISTIO_DIR): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.name === 'kustomization.yaml')) out.push(dir);
  for (const e of entries) if (e.isDirectory()) out.push(...kustomizationDirs(join(dir, e.name)));
  return out;
}

structure('every YAML file in a kustomization directory is listed, and every listed file exists', () => {
  const dirs = kustomizationDirs();
  assert.equal(dirs.map((d) => relative(ISTIO_DIR, d)).sort(), ['base', ...OVERLAYS.map((o) => `overlays/${o}`)].sort());
  for (const dir of dirs) {
    const listed = (readKustomization(dir).resources ?? []).filter((r) => !r.startsWith('..'));
    const present = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    assert.equal([...listed].sort(), present.sort(), relative(REPO_ROOT, dir));
  }
});

structure('one resource per file, unique kind/namespace/name across each overlay', () => {
  for (const overlay of OVERLAYS) {
    const files = overlayResources(overlay);
    const keys = files.map(({ resource: r }) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`);
    assert.is(new Set(keys).size, keys.length, overlay);
  }
  // Every manifest under istio/, listed in a kustomization or not (the IstioOperator), is one named resource.
  for (const path of allYamlFiles().filter((f) => !f.endsWith('kustomization.yaml'))) {
    const docs = parseAllDocuments(readFileSync(path, 'utf8'));
    assert.is(docs.length, 1, relative(REPO_ROOT, path));
    const r = docs[0].toJS() as Resource;
    assert.ok(r.apiVersion && r.kind && r.metadata?.name, `${relative(REPO_ROOT, path)} is a named resource`);
  }
});

const kubectl = kubectlMissing();
needs(kubectl, structure)('kubectl kustomize renders each overlay to exactly the resources the files hold', () => {
  for (const overlay of OVERLAYS) {
    const rendered = kustomizeBuild(join(ISTIO_DIR, 'overlays', overlay));
    const expected = overlayResources(overlay).map(({ resource: r }) => `${r.kind}/${r.metadata.name}`).sort();
    assert.equal(rendered.map((r) => `${r.kind}/${r.metadata.name}`).sort(), expected, overlay);
    // Same content as the test helper's reading (its patches included), apart from the label kustomize adds.
    for (const { resource } of overlayResources(overlay)) {
      const out = structuredClone(rendered.find((r) => r.kind === resource.kind && r.metadata.name === resource.metadata.name)!);
      const labels = out.metadata.labels ?? {};
      delete labels['app.kubernetes.io/part-of'];
      if (Object.keys(labels).length === 0) delete out.metadata.labels;
      assert.equal(out, resource, `${overlay}: ${resource.kind}/${resource.metadata.name}`);
    }
    for (const r of rendered) assert.is(r.metadata.labels?.['app.kubernetes.io/part-of'], 'meshlens', `${r.kind}/${r.metadata.name}`);
    const selector = rendered.find((r) => r.kind === 'Deployment')!.spec.selector.matchLabels;
    assert.not.ok('app.kubernetes.io/part-of' in selector, 'common labels must not change immutable selectors');
  }
});

structure.run();

const workloads = suite('workloads');
const base = overlayResources('envoyfilter');

workloads('control plane: gRPC 18000 and HTTP 18080 end to end, probes on the HTTP port, in the mesh', () => {
  const deployment = find(base, 'Deployment', 'meshlens-control-plane');
  const service = find(base, 'Service', 'meshlens-control-plane');
  const pod = deployment.spec.template;
  const [container] = pod.spec.containers;
  const ports = Object.fromEntries(container.ports.map((p: Resource) => [p.name, p.containerPort]));
  assert.equal(ports, { grpc: 18000, http: 18080 });
  assert.equal(service.spec.ports.map((p: Resource) => [p.name, p.port, p.targetPort]), [['grpc', 18000, 'grpc'], ['http', 18080, 'http']]);
  for (const [k, v] of Object.entries(service.spec.selector)) assert.is(pod.metadata.labels[k], v, 'service selects the pods');
  assert.is(container.readinessProbe.httpGet.path, '/readyz');
  assert.is(container.livenessProbe.httpGet.path, '/healthz');
  assert.is(pod.metadata.annotations['sidecar.istio.io/inject'], undefined, 'injected as its namespace says');
  assert.is(container.securityContext.allowPrivilegeEscalation, false);
  // `meshlens serve` flags (control-plane/src/cli.ts) agree with the ports and put the store on the volume.
  const flag = (name: string) => container.args[container.args.indexOf(`--${name}`) + 1];
  assert.is(container.args[0], 'serve');
  assert.is(Number(flag('grpc-port')), ports.grpc);
  assert.is(Number(flag('http-port')), ports.http);
  assert.is(flag('host'), '0.0.0.0', 'reachable from other pods');
  const dataMount = container.volumeMounts.find((m: Resource) => flag('data-dir').startsWith(`${m.mountPath}/`));
  const claim = pod.spec.volumes.find((v: Resource) => v.name === dataMount?.name)?.persistentVolumeClaim?.claimName;
  assert.is(claim, find(base, 'PersistentVolumeClaim', 'meshlens-control-plane-data').metadata.name, 'store on the persistent volume');
});

workloads('node agent: only CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE and the /proc reads of netns identities; BTF read-only; host PIDs, not host network', () => {
  const daemonset = find(base, 'DaemonSet', 'meshlens-node-agent');
  const pod = daemonset.spec.template.spec;
  const [container] = pod.containers;
  assert.is(container.securityContext.privileged, false);
  assert.equal(container.securityContext.capabilities.drop, ['ALL']);
  assert.equal([...container.securityContext.capabilities.add].sort(), ['BPF', 'DAC_READ_SEARCH', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE']);
  // netns → proxy identity (bpf/agent/netns-identity.ts) scans /proc for the processes living in each namespace
  assert.is(pod.hostPID, true);
  assert.not.ok(container.args.includes('--proc-root'), 'the host PID namespace\'s /proc is the container\'s own');
  assert.is(pod.hostNetwork, false);
  const btf = container.volumeMounts.find((m: Resource) => m.mountPath === '/sys/kernel/btf');
  assert.ok(btf?.readOnly, 'BTF mounted read-only');
  assert.is(pod.volumes.find((v: Resource) => v.name === btf.name).hostPath.path, '/sys/kernel/btf');
  assert.ok(container.ports.some((p: Resource) => p.containerPort === 9102), 'metrics on :9102');
  assert.is(pod.automountServiceAccountToken, false);
  // bpf/agent/main.ts flags: reports to the control plane's gRPC port through its Service.
  const controlPlane = container.args[container.args.indexOf('--control-plane') + 1];
  const service = find(base, 'Service', 'meshlens-control-plane');
  const grpcPort = service.spec.ports.find((p: Resource) => p.name === 'grpc').port;
  assert.is(controlPlane, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${grpcPort}`);
  assert.not.ok(container.args.includes('--netns'), 'all network namespaces, not just the agent pod\'s');
  assert.ok(container.env.some((e: Resource) => e.name === 'NODE_NAME' && e.valueFrom.fieldRef.fieldPath === 'spec.nodeName'));
  // the control plane refuses reports without the proxy token: --token-file names the key of the Secret the
  // filter's proxies read too, mounted read-only
  const tokenFile: string = container.args[container.args.indexOf('--token-file') + 1];
  const mount = container.volumeMounts.find((m: Resource) => tokenFile.startsWith(`${m.mountPath}/`));
  assert.ok(mount?.readOnly, `--token-file ${tokenFile} is on a read-only mount`);
  const secret = pod.volumes.find((v: Resource) => v.name === mount.name).secret;
  assert.is(secret.secretName, 'meshlens-proxy-token');
  assert.equal(secret.items, [{ key: 'token', path: tokenFile.slice(mount.mountPath.length + 1) }]);
});

workloads('replicated: 3 control-plane replicas on the 3-member etcd StatefulSet, PDBs, readiness waiting for the store', () => {
  const replicated = overlayResources('replicated');
  const deployment = find(replicated, 'Deployment', 'meshlens-control-plane');
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const flag = (name: string) => container.args[container.args.indexOf(`--${name}`) + 1];
  assert.is(deployment.spec.replicas, 3);
  assert.is(deployment.spec.strategy.type, 'RollingUpdate');
  assert.is(flag('store'), 'etcd');
  assert.is(container.readinessProbe.httpGet.path, '/readyz', 'not ready until etcd answers (server.ts waitForStore)');
  // --etcd-endpoints names each StatefulSet member through the headless Service, on its client port.
  const etcd = find(replicated, 'StatefulSet', 'meshlens-etcd');
  const service = find(replicated, 'Service', 'meshlens-etcd');
  assert.is(service.spec.clusterIP, 'None');
  assert.is(etcd.spec.serviceName, service.metadata.name);
  assert.is(etcd.spec.podManagementPolicy, 'Parallel', 'members must start together to form the initial cluster');
  const client = service.spec.ports.find((p: Resource) => p.name === 'client').port;
  const peer = service.spec.ports.find((p: Resource) => p.name === 'peer').port;
  const members = Array.from({ length: etcd.spec.replicas }, (_, i) => `${etcd.metadata.name}-${i}.${service.metadata.name}.${etcd.metadata.namespace}.svc`);
  assert.equal(parseEndpoints(flag('etcd-endpoints')), members.map((m) => `${m}:${client}`));
  const etcdArgs: string[] = etcd.spec.template.spec.containers[0].command;
  assert.ok(etcdArgs.includes(`--initial-cluster=${members.map((m, i) => `${etcd.metadata.name}-${i}=http://${m}:${peer}`).join(',')}`), 'initial cluster = the members');
  for (const [name, selector] of [['meshlens-control-plane', deployment.spec.selector.matchLabels], ['meshlens-etcd', etcd.spec.selector.matchLabels]] as const) {
    const pdb = find(replicated, 'PodDisruptionBudget', name);
    assert.equal(pdb.spec.selector.matchLabels, selector, `${name} PDB selects its pods`);
  }
  assert.is(find(replicated, 'PodDisruptionBudget', 'meshlens-etcd').spec.minAvailable, 2, 'quorum of 3 kept');
  // Tokens: copied from the Secret by the init container into the data directory the serve flags name.
  const [init] = pod.initContainers;
  assert.match(init.command.join(' '), new RegExp(`cp \\S+ ${flag('data-dir')}/tokens\\.json`));
  assert.is(pod.volumes.find((v: Resource) => v.name === 'tokens').secret.secretName, 'meshlens-control-plane-tokens');
  assert.not.ok(pod.volumes.some((v: Resource) => v.persistentVolumeClaim), 'no shared volume between replicas');
  // Telemetry forwarding: each replica advertises its pod IP (downward API) on the gRPC port, and dials its peers with
  // the headless peers Service as :authority, whose ORIGINAL_DST cluster Istio gives ISTIO_MUTUAL (STRICT admits it).
  const grpcPort = container.ports.find((p: Resource) => p.name === 'grpc').containerPort;
  assert.is(flag('advertise-address'), `$(POD_IP):${grpcPort}`);
  assert.equal(container.env.find((e: Resource) => e.name === 'POD_IP').valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
  const peers = find(replicated, 'Service', 'meshlens-control-plane-peers');
  assert.is(peers.spec.clusterIP, 'None');
  assert.equal(peers.spec.selector, deployment.spec.selector.matchLabels);
  assert.equal(peers.spec.ports.map((p: Resource) => [p.port, p.targetPort, p.appProtocol]), [[grpcPort, 'grpc', 'grpc']]);
  assert.is(flag('peer-authority'), `${peers.metadata.name}.${peers.metadata.namespace}.svc.cluster.local:${grpcPort}`);
});

workloads('control plane under STRICT mesh mTLS, and every client of it a mesh peer that checks its identity', () => {
  const namespace = find(base, 'Namespace', 'meshlens-system');
  const deployment = find(base, 'Deployment', 'meshlens-control-plane');
  const service = find(base, 'Service', 'meshlens-control-plane');
  // Injection is decided per namespace first: a namespace labelled `disabled` keeps every pod out of the mesh.
  assert.is(namespace.metadata.labels?.['istio-injection'], 'enabled');
  for (const workload of [deployment, find(base, 'DaemonSet', 'meshlens-node-agent')]) {
    assert.is(workload.metadata.namespace, namespace.metadata.name);
    assert.is(workload.spec.template.metadata.annotations?.['sidecar.istio.io/inject'], undefined, `${workload.metadata.name} is injected`);
    assert.is(workload.spec.template.metadata.labels?.['sidecar.istio.io/inject'], undefined, `${workload.metadata.name} is injected`);
  }
  // STRICT on every port of exactly the control plane's pods (no port-level exception, e.g. a plaintext admin port).
  const peer = find(base, 'PeerAuthentication', 'meshlens-control-plane');
  assert.is(peer.metadata.namespace, deployment.metadata.namespace);
  assert.is(peer.spec.mtls.mode, 'STRICT');
  assert.is(peer.spec.portLevelMtls, undefined);
  const labels = deployment.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(peer.spec.selector.matchLabels)) assert.is(labels[k], v, `selector ${k} matches the control plane's pods`);
  assert.not.ok(Object.entries(peer.spec.selector.matchLabels).every(([k, v]) => find(base, 'DaemonSet', 'meshlens-node-agent').spec.template.metadata.labels[k] === v), 'the node agent is not selected');
  // The filters' cluster originates Istio mTLS and trusts only the control plane's SPIFFE identity (the identity
  // Istio issues is spiffe://<trust domain>/ns/<namespace>/sa/<service account>).
  const filter = find(base, 'EnvoyFilter', 'meshlens-control-plane-cluster');
  const cluster = filter.spec.configPatches.find((p: Resource) => p.applyTo === 'CLUSTER').patch.value;
  const tls = cluster.transport_socket.typed_config;
  assert.is(tls['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
  const common = tls.common_tls_context;
  assert.equal(common.combined_validation_context.default_validation_context.match_subject_alt_names,
    [{ exact: `spiffe://cluster.local/ns/${deployment.metadata.namespace}/sa/${deployment.spec.template.spec.serviceAccountName}` }]);
  assert.equal(find(base, 'ServiceAccount', deployment.spec.template.spec.serviceAccountName).metadata.namespace, deployment.metadata.namespace);
  // istio-agent's SDS resource names and cluster (istio/istio pkg/model/authentication.go, 1.24.6 and 1.28.10).
  const sds = [common.tls_certificate_sds_secret_configs[0], common.combined_validation_context.validation_context_sds_secret_config];
  assert.equal(sds.map((c: Resource) => c.name), ['default', 'ROOTCA']);
  for (const c of sds) assert.equal(c.sds_config.api_config_source.grpc_services, [{ envoy_grpc: { cluster_name: 'sds-grpc' } }]);
  assert.equal(common.alpn_protocols, ['istio', 'h2']);
  const grpcPort = service.spec.ports.find((p: Resource) => p.name === 'grpc').port;
  assert.is(tls.sni, `outbound_.${grpcPort}_._.${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`, 'SNI as Istio names the service');
  // The filter names this cluster, whose name is a valid :authority (Envoy sends the bare cluster name as one).
  assert.is(JSON.parse(envoyFilterPluginConfigText()).controlPlane.cluster, cluster.name);
  assert.match(cluster.name, /^[A-Za-z0-9.\-_~]+$/);
});

workloads.run();
