// The Prometheus side of istio/: scrape jobs and rules accepted by promtool, alert rules behaving as intended on
// synthetic series (promtool test rules), and Grafana queries that parse and only use the design's metrics/labels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { needs } from '../support/skip.ts';
import { prometheusMissing, promtool } from '../support/prometheus.ts';
import { REPO_ROOT, find, overlayResources } from './manifests.ts';
import { MESHLENS_METRICS, baseMetric, componentMetricNames } from './meshlens-metrics.ts';
import { Registry } from 'prom-client';
import { createMetrics } from '../../control-plane/src/metrics.ts';

const missing = prometheusMissing();
const scratch = mkdtempSync(join(tmpdir(), 'meshlens-promcfg-'));
const resources = overlayResources('envoyfilter');
const rulesText: string = find(resources, 'ConfigMap', 'meshlens-prometheus-rules').data['meshlens.rules.yml'];
const scrapeText: string = find(resources, 'ConfigMap', 'meshlens-prometheus-scrape').data['meshlens-scrape-configs.yml'];
const dashboardText: string = find(resources, 'ConfigMap', 'meshlens-grafana-dashboard').data['meshlens-overview.json'];
const rulesFile = join(scratch, 'meshlens.rules.yml');
writeFileSync(rulesFile, rulesText);

const check = suite('promtool on shipped config');

// Debian builds Prometheus without Kubernetes service discovery, so its promtool cannot parse
// kubernetes_sd_configs: those blocks are checked here against the upstream field set, the rest by promtool.
const KUBERNETES_SD_ROLES = ['node', 'service', 'pod', 'endpoints', 'endpointslice', 'ingress'];
function withoutKubernetesSd(jobs: Record<string, unknown>[]): Record<string, unknown>[] {
  return jobs.map(({ kubernetes_sd_configs: sd, ...job }) => {
    for (const block of sd as Record<string, unknown>[]) {
      for (const key of Object.keys(block)) assert.ok(['role', 'namespaces', 'selectors', 'api_server', 'attach_metadata'].includes(key), `kubernetes_sd_configs.${key}`);
      assert.ok(KUBERNETES_SD_ROLES.includes(block.role as string), `role ${block.role}`);
    }
    return { ...job, static_configs: [{ targets: ['127.0.0.1:9'] }] };
  });
}

needs(missing, check)('promtool check config accepts the scrape jobs together with the rules', () => {
  const configFile = join(scratch, 'prometheus.yml');
  const jobs = parse(scrapeText) as Record<string, unknown>[];
  assert.equal(jobs.map((j) => j.job_name), ['meshlens-envoy', 'meshlens-control-plane', 'meshlens-node-agent']);
  writeFileSync(configFile, stringify({ global: { scrape_interval: '15s' }, rule_files: [rulesFile], scrape_configs: jobs }));
  let result = promtool(['check', 'config', configFile]);
  if (/field kubernetes_sd_configs not found/.test(result.output)) {
    writeFileSync(configFile, stringify({ global: { scrape_interval: '15s' }, rule_files: [rulesFile], scrape_configs: withoutKubernetesSd(jobs) }));
    result = promtool(['check', 'config', configFile]);
  }
  assert.is(result.status, 0, result.output);
  assert.match(result.output, /SUCCESS: \d+ rules found/);
});

needs(missing, check)('promtool check config rejects a broken job (negative)', () => {
  const broken = parse(scrapeText);
  broken[0].relabel_configs[0].action = 'keepp';
  const configFile = join(scratch, 'broken.yml');
  writeFileSync(configFile, stringify({ scrape_configs: withoutKubernetesSd(broken) }));
  assert.match(promtool(['check', 'config', configFile]).output, /unknown relabel action "keepp"/);
  assert.is.not(promtool(['check', 'config', configFile]).status, 0);
});

needs(missing, check)('promtool check rules accepts every recording and alerting rule', () => {
  const result = promtool(['check', 'rules', rulesFile]);
  assert.is(result.status, 0, result.output);
  const count = parse(rulesText).groups.reduce((n: number, g: { rules: unknown[] }) => n + g.rules.length, 0);
  assert.match(result.output, new RegExp(`SUCCESS: ${count} rules found`));
});

needs(missing, check)('alerts fire on synthetic series exactly when they should (promtool test rules)', () => {
  const cluster = 'outbound|8080||orders.default.svc.cluster.local';
  // The labels every meshlens series carries besides its own (meshlens-metrics.ts ISTIO_JOIN_LABELS).
  const shared = 'reporter="source",source_workload="checkout",source_workload_namespace="shop",' +
    'destination_service="orders.default.svc.cluster.local",destination_service_name="orders",destination_service_namespace="default"';
  const grouped = { source_workload_namespace: 'shop', source_workload: 'checkout', destination_service: 'orders.default.svc.cluster.local' };
  const testFile = join(scratch, 'meshlens.rules.test.yml');
  writeFileSync(testFile, stringify({
    rule_files: [rulesFile],
    evaluation_interval: '30s',
    tests: [{
      interval: '30s',
      input_series: [
        // acme is being rejected at 2 req/s for 5 minutes; globex had rejections long ago, none now.
        { series: `meshlens_breaker_rejected_total{${shared},upstream_cluster="${cluster}",tenant="acme"}`, values: '0+60x20' },
        { series: `meshlens_breaker_rejected_total{${shared},upstream_cluster="${cluster}",tenant="globex"}`, values: '7x20' },
        { series: `meshlens_breaker_transitions_total{${shared},upstream_cluster="${cluster}",tenant="acme",to_state="Open"}`, values: '0 1 1 2 2 3 3 3 3 3 3' },
        { series: `meshlens_breaker_transitions_total{${shared},upstream_cluster="${cluster}",tenant="globex",to_state="Open"}`, values: '0 1 1 1 1 1 1 1 1 1 1' },
        { series: 'meshlens_cp_nacks_total{reason="invalid policy"}', values: '0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1' },
        { series: `meshlens_requests_total{${shared},upstream_cluster="${cluster}",tenant="acme",path="/orders/{id}",method="GET",response_code="200"}`, values: '0+90x20' },
        { series: `meshlens_requests_total{${shared},upstream_cluster="${cluster}",tenant="acme",path="/orders/{id}",method="GET",response_code="503"}`, values: '0+30x20' },
      ],
      promql_expr_test: [{
        expr: 'upstream_cluster_tenant:meshlens_request_errors:ratio_rate1m',
        eval_time: '5m',
        exp_samples: [{
          labels: 'upstream_cluster_tenant:meshlens_request_errors:ratio_rate1m{source_workload_namespace="shop",source_workload="checkout",' +
            `destination_service="orders.default.svc.cluster.local",upstream_cluster="${cluster}",tenant="acme"}`,
          value: 0.25,
        }],
      }],
      alert_rule_test: [
        {
          alertname: 'MeshlensBreakerOpen',
          eval_time: '5m',
          exp_alerts: [{
            exp_labels: { severity: 'warning', ...grouped, upstream_cluster: cluster, tenant: 'acme' },
            exp_annotations: {
              summary: `meshlens breaker Open for ${cluster} (tenant acme) in shop/checkout`,
              description: `The proxy is rejecting 2 req/s to ${cluster} for tenant acme with 503 x-meshlens-breaker: open.`,
            },
          }],
        },
        // `for: 1m` — not yet firing 30 s after rejections start.
        { alertname: 'MeshlensBreakerOpen', eval_time: '30s', exp_alerts: [] },
        { alertname: 'MeshlensBreakerFlapping', eval_time: '5m', exp_alerts: [{
          exp_labels: { severity: 'warning', ...grouped, upstream_cluster: cluster, tenant: 'acme' },
          exp_annotations: {
            summary: `meshlens breaker of shop/checkout for ${cluster} (tenant acme) opened 3 times in 15m`,
            description: 'Repeated Open -> HalfOpen -> Open cycles: the upstream has not recovered, or the thresholds are too tight.',
          },
        }] },
        { alertname: 'MeshlensTenantErrorRateHigh', eval_time: '10m', exp_alerts: [{
          exp_labels: { severity: 'warning', ...grouped, upstream_cluster: cluster, tenant: 'acme' },
          exp_annotations: {
            summary: `25% of acme requests to ${cluster} fail with 5xx`,
            description: 'Error ratio over 5 minutes above 5 % with at least 1 req/s.',
          },
        }] },
        { alertname: 'MeshlensRetryBudgetExhausted', eval_time: '10m', exp_alerts: [] },
        { alertname: 'MeshlensPolicyNacked', eval_time: '3m', exp_alerts: [{
          exp_labels: { severity: 'warning', reason: 'invalid policy' },
          exp_annotations: {
            summary: 'filters rejected a meshlens policy push (invalid policy)',
            description: '1 NACKs in 5m: proxies keep their last accepted policy; see `meshlens rollout status`.',
          },
        }] },
        { alertname: 'MeshlensPolicyNacked', eval_time: '10m', exp_alerts: [] },
      ],
    }],
  }));
  const result = promtool(['test', 'rules', testFile]);
  assert.is(result.status, 0, result.output);
});

needs(missing, check)('correlation alerts: verdicts held for 3 minutes and lossy routes fire, the rest stay quiet (promtool test rules)', () => {
  const cluster = 'outbound|8080||orders.shop.svc.cluster.local';
  // The labels CorrelationExporter gives every series (control-plane/src/metrics.ts), plus the scrape's own.
  const service = `job="meshlens-control-plane",instance="10.0.0.5:18080",upstream_cluster="${cluster}",destination_service="orders.shop.svc.cluster.local",` +
    'destination_service_name="orders",destination_service_namespace="shop"';
  const grouped = { destination_service: 'orders.shop.svc.cluster.local', upstream_cluster: cluster };
  const verdict = (endpoint: string, name: string, values: string) =>
    ({ series: `meshlens_cp_endpoint_verdict{${service},endpoint="${endpoint}",verdict="${name}"}`, values });
  const route = (metric: string, path: string, tenant: string, values: string) =>
    ({ series: `meshlens_cp_route_${metric}_total{${service},path="${path}",tenant="${tenant}"}`, values });
  const excused = (path: string, tenant: string, values: string) =>
    ({ series: `meshlens_cp_network_suspect_failures_total{${service},path="${path}",tenant="${tenant}"}`, values });
  const testFile = join(scratch, 'meshlens.correlation.test.yml');
  writeFileSync(testFile, stringify({
    rule_files: [rulesFile],
    evaluation_interval: '30s',
    tests: [{
      interval: '30s',
      input_series: [
        verdict('10.1.0.2:8080', 'network-suspect', '1x40'),
        verdict('10.1.0.3:8080', 'app-failing', '1x40'),
        verdict('10.1.0.4:8080', 'healthy', '1x40'),
        // one lossy burst: network-suspect for 1 minute, then healthy again (the exporter resets the gauge, so the
        // scrape no longer has the old verdict's series: Prometheus marks it stale)
        verdict('10.1.0.5:8080', 'network-suspect', '1 1 1 stale'),
        verdict('10.1.0.5:8080', 'healthy', '_ _ _ 1x37'),
        // two endpoints beyond the export cap on "both": network and application at once
        verdict('~other', 'both', '2x40'),
        // acme's route loses 2 % of its 20 segments/s; globex's 0.2 %
        route('retransmitted_segments', '/api/orders/{id}', 'acme', '0+12x40'),
        route('sent_segments', '/api/orders/{id}', 'acme', '0+600x40'),
        route('retransmitted_segments', '/api/orders/{id}', 'globex', '0+1x40'),
        route('sent_segments', '/api/orders/{id}', 'globex', '0+600x40'),
        // requests excused by a network-aware breaker: acme 1/s on two routes together, globex one every 30 s
        excused('/api/orders/{id}', 'acme', '0+20x40'),
        excused('/api/payments/{id}', 'acme', '0+10x40'),
        excused('/api/orders/{id}', 'globex', '0+1x40'),
      ],
      promql_expr_test: [{
        expr: 'upstream_cluster_path_tenant:meshlens_cp_route_retransmitted_segments:ratio_rate5m{tenant="acme"}',
        eval_time: '10m',
        exp_samples: [{
          labels: `upstream_cluster_path_tenant:meshlens_cp_route_retransmitted_segments:ratio_rate5m{destination_service="orders.shop.svc.cluster.local",upstream_cluster="${cluster}",path="/api/orders/{id}",tenant="acme"}`,
          value: 0.02,
        }],
      }],
      alert_rule_test: [
        { alertname: 'MeshlensEndpointNetworkSuspect', eval_time: '2m', exp_alerts: [] },
        {
          alertname: 'MeshlensEndpointNetworkSuspect',
          eval_time: '5m',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', ...grouped, endpoint: '10.1.0.2:8080' },
              exp_annotations: {
                summary: `packets to 10.1.0.2:8080 of ${cluster} are being lost`,
                description: 'Its retransmit ratio departs from its baseline while its requests slow down or fail: suspect the network path or node, not the application. `meshlens endpoints` shows the signals against their baselines.',
              },
            },
            {
              exp_labels: { severity: 'warning', ...grouped, endpoint: '~other' },
              exp_annotations: {
                summary: `packets to ~other of ${cluster} are being lost`,
                description: 'Its retransmit ratio departs from its baseline while its requests slow down or fail: suspect the network path or node, not the application. `meshlens endpoints` shows the signals against their baselines.',
              },
            },
          ],
        },
        {
          alertname: 'MeshlensEndpointAppFailing',
          eval_time: '5m',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', ...grouped, endpoint: '10.1.0.3:8080' },
              exp_annotations: {
                summary: `10.1.0.3:8080 of ${cluster} is failing with a clean network`,
                description: 'Errors or latency rise while retransmits stay at its baseline: the application behind the endpoint, not the network. `meshlens endpoints` shows the signals against their baselines.',
              },
            },
            {
              exp_labels: { severity: 'warning', ...grouped, endpoint: '~other' },
              exp_annotations: {
                summary: `~other of ${cluster} is failing with a clean network`,
                description: 'Errors or latency rise while retransmits stay at its baseline: the application behind the endpoint, not the network. `meshlens endpoints` shows the signals against their baselines.',
              },
            },
          ],
        },
        {
          alertname: 'MeshlensRouteRetransmitsHigh',
          eval_time: '16m',
          exp_alerts: [{
            exp_labels: { severity: 'info', ...grouped, path: '/api/orders/{id}', tenant: 'acme' },
            exp_annotations: {
              summary: `2% of the segments of /api/orders/{id} (tenant acme) to ${cluster} are retransmitted`,
              description: 'Retransmitted / sent segments over 5 minutes above 1 % with at least 10 segments/s; the endpoint verdicts tell which endpoints lose them.',
            },
          }],
        },
        // `for: 10m`
        { alertname: 'MeshlensRouteRetransmitsHigh', eval_time: '8m', exp_alerts: [] },
        // `for: 5m`, per (cluster, tenant) over its routes; globex stays below 0.1/s
        { alertname: 'MeshlensNetworkSuspectFailures', eval_time: '4m', exp_alerts: [] },
        {
          alertname: 'MeshlensNetworkSuspectFailures',
          eval_time: '12m',
          exp_alerts: [{
            exp_labels: { severity: 'warning', ...grouped, tenant: 'acme' },
            exp_annotations: {
              summary: `1 req/s of tenant acme to ${cluster} fail or are slow on network-suspect endpoints`,
              description: 'A network-aware breaker does not count them, so it stays Closed while the clients still see them: fix the network path or node (`meshlens endpoints` names the endpoints).',
            },
          }],
        },
      ],
    }],
  }));
  const result = promtool(['test', 'rules', testFile]);
  assert.is(result.status, 0, result.output);
});

/**
 * Prometheus' relabelling for the two actions the control-plane job uses (prometheus/prometheus
 * model/relabel/relabel.go: source values joined by the separator, default ";"; the regex anchored at both ends;
 * `replace` writes the expanded replacement, default "$1", only on a match; `keep` drops a target that does not
 * match), so the in-mesh rewrite is checked on the labels Kubernetes discovery gives an injected pod.
 */
function relabel(labels: Record<string, string>, rules: Record<string, any>[]): Record<string, string> | null {
  const out = { ...labels };
  for (const rule of rules) {
    const value = (rule.source_labels as string[]).map((l) => out[l] ?? '').join(rule.separator ?? ';');
    const match = new RegExp(`^(?:${rule.regex ?? '(.*)'})$`).exec(value);
    const action = rule.action ?? 'replace';
    if (action === 'keep') { if (!match) return null; continue; }
    if (action !== 'replace') throw new Error(`relabel action ${action} is not emulated`);
    if (match) out[rule.target_label] = (rule.replacement ?? '$1').replace(/\$\{?(\d+)\}?/g, (_: string, i: string) => match[Number(i)] ?? '');
  }
  return out;
}

check('control plane scrape: an injected pod is read at istio-agent\'s merged endpoint, a pod without a sidecar at its own port', () => {
  const job = (parse(scrapeText) as Record<string, any>[]).find((j) => j.job_name === 'meshlens-control-plane')!;
  const endpoint = {
    __address__: '10.0.0.5:18080', __metrics_path__: '/metrics', __meta_kubernetes_service_name: 'meshlens-control-plane',
    __meta_kubernetes_endpoint_port_name: 'http', __meta_kubernetes_pod_name: 'meshlens-control-plane-7d9f',
  };
  // What the injector leaves on the pod: the tlsMode label and the prometheus.io annotations moved to :15020.
  const injected = { ...endpoint, __meta_kubernetes_pod_label_security_istio_io_tlsMode: 'istio',
    __meta_kubernetes_pod_annotation_prometheus_io_port: '15020', __meta_kubernetes_pod_annotation_prometheus_io_path: '/stats/prometheus' };
  const inMesh = relabel(injected, job.relabel_configs)!;
  assert.is(inMesh.__address__, '10.0.0.5:15020');
  assert.is(inMesh.__metrics_path__, '/stats/prometheus');
  assert.is(inMesh.pod, 'meshlens-control-plane-7d9f');
  const plain = relabel({ ...endpoint, __meta_kubernetes_pod_annotation_prometheus_io_port: '18080', __meta_kubernetes_pod_annotation_prometheus_io_path: '/metrics' }, job.relabel_configs)!;
  assert.is(plain.__address__, '10.0.0.5:18080');
  assert.is(plain.__metrics_path__, '/metrics');
  // The port of the Service's gRPC endpoint is still dropped, sidecar or not.
  assert.is(relabel({ ...injected, __meta_kubernetes_endpoint_port_name: 'grpc', __address__: '10.0.0.5:18000' }, job.relabel_configs), null);
  // The deployment's own annotations are what the injector moves (webhook.go applyPrometheusMerge needs scrape "true").
  const annotations = find(resources, 'Deployment', 'meshlens-control-plane').spec.template.metadata.annotations;
  assert.equal([annotations['prometheus.io/scrape'], annotations['prometheus.io/port'], annotations['prometheus.io/path']], ['true', '18080', '/metrics']);
});

check.run();

const dashboard = suite('Grafana dashboard');
const dash = JSON.parse(dashboardText);
const expressions: string[] = [
  // rows carry no queries
  ...dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr)),
  ...dash.templating.list.filter((v: { type: string }) => v.type === 'query').map((v: { definition: string }) => v.definition.replace(/^label_values\((.*), \w+\)$/, '$1')),
];

/** Grafana variables replaced by values Prometheus can parse. */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replace(/\$\w+/g, '.*');
}

dashboard('the dashboard has its panel and variable queries', () => {
  assert.ok(expressions.length >= 8, `${expressions.length} queries`);
});

needs(missing, dashboard)('every panel and variable query parses as PromQL (promtool check rules)', () => {
  const file = join(scratch, 'dashboard-exprs.yml');
  writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: expressions.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: concrete(e) })) }] }));
  const result = promtool(['check', 'rules', file]);
  assert.is(result.status, 0, result.output);
});

dashboard('queries and rules only use design metrics, with labels those metrics carry', () => {
  const rules = parse(rulesText).groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr));
  const components = componentMetricNames(REPO_ROOT);
  const used = new Set<string>();
  for (const expr of [...expressions, ...rules]) {
    const text = concrete(expr);
    const metrics = [...text.matchAll(/\b(meshlens_[a-z0-9_]+)\b/g)].map((m) => m[1]);
    assert.ok(metrics.length > 0, expr);
    if (metrics.every((m) => components.has(m))) continue; // control plane / node agent: names checked, labels theirs
    const allowed = new Set(['le']);
    for (const series of metrics) {
      const metric = baseMetric(series);
      assert.ok(metric, `${series} is neither in the filter's metric table nor registered by a component (${expr})`);
      used.add(metric!);
      for (const l of MESHLENS_METRICS[metric!].labels) allowed.add(l);
    }
    for (const [, selector] of text.matchAll(/meshlens_[a-z_]+\{([^}]*)\}/g)) {
      for (const [, label] of selector.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) assert.ok(allowed.has(label), `label ${label} in ${expr}`);
    }
    for (const [, labels] of text.matchAll(/\bby \(([^)]*)\)/g)) {
      for (const label of labels.split(',').map((s) => s.trim())) assert.ok(allowed.has(label), `by ${label} in ${expr}`);
    }
  }
  assert.equal([...used].sort(), Object.keys(MESHLENS_METRICS).sort(), 'every design metric is charted or alerted on');
});

dashboard('correlation panels and rules use the control plane\'s series with the labels it registers; verdicts and route retransmits are charted', () => {
  const registered = new Map<string, Set<string>>();
  const registry = new Registry();
  createMetrics(registry);
  for (const metric of registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[] }[]) {
    registered.set(metric.name, new Set([...metric.labelNames, 'le']));
  }
  const rules = parse(rulesText).groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr));
  const correlation = [...expressions, ...rules].map(concrete).filter((e) => /meshlens_cp_(endpoint_|route_|network_suspect_)/.test(e));
  assert.ok(correlation.length >= 8, `${correlation.length} correlation queries`);
  for (const expr of correlation) {
    const metrics = [...expr.matchAll(/\b(meshlens_cp_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
    const allowed = new Set(metrics.flatMap((m) => {
      assert.ok(registered.has(m), `${m} is registered by the control plane (${expr})`);
      return [...registered.get(m)!];
    }));
    for (const [, selector] of expr.matchAll(/meshlens_[a-z_]+\{([^}]*)\}/g)) {
      for (const [, label] of selector.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) assert.ok(allowed.has(label), `label ${label} in ${expr}`);
    }
    for (const [, labels] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
      for (const label of labels.split(',').map((l) => l.trim())) assert.ok(allowed.has(label), `by ${label} in ${expr}`);
    }
  }
  const charted = dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const series of ['meshlens_cp_endpoint_verdict', 'meshlens_cp_endpoint_retransmit_ratio', 'meshlens_cp_route_retransmitted_segments_total', 'meshlens_cp_route_sent_segments_total',
    'meshlens_cp_network_suspect_failures_total']) {
    assert.ok(charted.includes(series), `${series} is charted`);
  }
  const alerts = parse(rulesText).groups.flatMap((g: { rules: { alert?: string; expr: string }[] }) => g.rules.filter((r) => r.alert));
  assert.match(alerts.find((a: { alert?: string }) => a.alert === 'MeshlensEndpointNetworkSuspect')!.expr, /meshlens_cp_endpoint_verdict/);
  assert.match(alerts.find((a: { alert?: string }) => a.alert === 'MeshlensRouteRetransmitsHigh')!.expr, /route_retransmitted_segments/);
  assert.match(alerts.find((a: { alert?: string }) => a.alert === 'MeshlensNetworkSuspectFailures')!.expr, /meshlens_cp_network_suspect_failures_total/);
});

// uvu runs suites in order; this one is last.
dashboard.after(() => rmSync(scratch, { recursive: true, force: true }));

dashboard.run();
