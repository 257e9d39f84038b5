// `npm start` in front of your own services (issue 13): a config file or flags naming clusters, endpoints, routes by
// host and prefix and the plugin's tenant/paths settings; bad configs refused with one "invalid config: <field> must
// <rule>" line and exit code 2 before anything starts; and the Prometheus it starts beside the sidecar, configured
// from istio/'s scrape jobs and rules, holding per-tenant series for the test's own upstreams (queried with PromQL).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { validateStartConfig, StartConfigError, MAX_CLUSTERS } from '../../filter/host/start-config.ts';
import { istioRules, localPrometheusConfig } from '../../filter/host/start-prometheus.ts';
import { needs } from '../support/skip.ts';
import { prometheusMissing, promtool } from '../support/prometheus.ts';
import { adminApi, runMain, startMain, until, waitConnected, type Started } from '../support/start-main.ts';
import { request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';

const SHOP = 'outbound|9080||shop.default.svc.cluster.local';
const BILLING = 'outbound|9090||billing.default.svc.cluster.local';

function refused(value: unknown): string {
  try {
    validateStartConfig(value);
  } catch (err) {
    assert.instance(err, StartConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

const config = suite('start config: validation');

config('a valid config becomes sidecar clusters and routes (host → authority, default timeout)', () => {
  const parsed = validateStartConfig({
    clusters: { [SHOP]: { endpoints: ['127.0.0.1:8081', '[::1]:8082'], connectTimeoutMs: 250 }, [BILLING]: { endpoints: ['localhost:9'] } },
    routes: [{ host: 'shop.local', prefix: '/api/', cluster: SHOP, timeoutMs: 0 }, { cluster: BILLING }],
    filter: { tenant: { headers: ['x-tenant-id'] } },
  });
  assert.equal(parsed.clusters[SHOP], { endpoints: ['127.0.0.1:8081', '[::1]:8082'], connectTimeoutMs: 250 });
  assert.equal(parsed.routes, [
    { prefix: '/api/', cluster: SHOP, timeoutMs: 0, authority: 'shop.local' },
    { prefix: '/', cluster: BILLING, timeoutMs: 15000 },
  ]);
  assert.equal(parsed.filter, { tenant: { headers: ['x-tenant-id'] } });
});

config('one cluster without routes gets everything; two clusters need routes', () => {
  assert.equal(validateStartConfig({ clusters: { [SHOP]: { endpoints: ['127.0.0.1:1'] } } }).routes, [{ prefix: '/', cluster: SHOP, timeoutMs: 15000 }]);
  assert.is(refused({ clusters: { a: { endpoints: ['127.0.0.1:1'] }, b: { endpoints: ['127.0.0.1:2'] } } }),
    'invalid config: routes must be set when there is more than one cluster');
});

config('each bad field is named with its rule', () => {
  const ok = { endpoints: ['127.0.0.1:1'] };
  const cases: [unknown, string][] = [
    [{}, 'clusters must be a mapping of 1 to 256 cluster names to { endpoints }'],
    [{ clusters: ok }, 'clusters.endpoints must be a mapping'],
    [{ clusters: { a: ok }, upstreams: {} }, 'upstreams must not be present (known: clusters, routes, filter)'],
    [{ clusters: { a: { endpoints: [] } } }, 'clusters.a.endpoints must be a list of 1 to 64 host:port addresses'],
    [{ clusters: { a: { endpoints: ['127.0.0.1'] } } }, 'clusters.a.endpoints[0] must be host:port with a port in [1, 65535]'],
    [{ clusters: { a: { endpoints: ['127.0.0.1:1', 'h:70000'] } } }, 'clusters.a.endpoints[1] must be host:port with a port in [1, 65535]'],
    [{ clusters: { a: { endpoints: ['127.0.0.1:1'], connectTimeoutMs: 0 } } }, 'clusters.a.connectTimeoutMs must be an integer in [1, 600000]'],
    [{ clusters: { a: { ...ok, kind: 'grpc' } } }, 'clusters.a.kind must not be present (known: endpoints, connectTimeoutMs)'],
    [{ clusters: { 'a b': ok } }, 'clusters.a b must be a non-empty string without whitespace of at most 512 characters'],
    [{ clusters: { a: ok }, routes: [] }, 'routes must be a list of 1 to 1024 routes'],
    [{ clusters: { a: ok }, routes: [{ cluster: 'b' }] }, 'routes[0].cluster must name one of clusters'],
    [{ clusters: { a: ok }, routes: [{ cluster: 'a', prefix: 'api' }] }, 'routes[0].prefix must be a path prefix starting with "/" of at most 512 characters'],
    [{ clusters: { a: ok }, routes: [{ cluster: 'a' }, { cluster: 'a', timeoutMs: -1 }] }, 'routes[1].timeoutMs must be an integer in [0, 3600000]'],
    [{ clusters: { a: ok }, routes: [{ cluster: 'a', path: '/' }] }, 'routes[0].path must not be present (known: host, prefix, cluster, timeoutMs)'],
    [{ clusters: { a: ok }, filter: ['x'] }, 'filter must be a mapping (the plugin configuration)'],
  ];
  for (const [value, message] of cases) assert.is(refused(value), `invalid config: ${message}`, JSON.stringify(value));
});

config('the number of clusters is bounded', () => {
  const clusters = Object.fromEntries(Array.from({ length: MAX_CLUSTERS + 1 }, (_, i) => [`c${i}`, { endpoints: ['127.0.0.1:1'] }]));
  assert.match(refused({ clusters }), /^invalid config: clusters must be a mapping of 1 to 256/);
});

config.run();

const cli = suite('npm start: arguments and config files refused before anything starts');
const scratch = mkdtempSync(join(tmpdir(), 'meshlens-start-config-'));

function refusedRun(args: string[], expected: string | RegExp, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(scratch, 'data-'));
  const run = runMain({ dataDir, args, env });
  assert.is(run.status, 2, `${args.join(' ')}:\n${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  if (typeof expected === 'string') assert.is(lines[lines.length - 1], `meshlens: ${expected}`, run.stderr);
  else assert.match(lines[lines.length - 1]!, expected);
  return { run, dataDir };
}

cli('a bad file, a duplicate key, a missing file and an unknown flag: exit 2, one line, nothing created', () => {
  const file = join(scratch, 'bad.yaml');
  writeFileSync(file, stringify({ clusters: { [SHOP]: { endpoints: ['127.0.0.1:99999'] } } }));
  const { run, dataDir } = refusedRun(['--config', file], `invalid config: clusters.${SHOP}.endpoints[0] must be host:port with a port in [1, 65535]`);
  assert.is(run.stderr.trim().split('\n').length, 1, 'one error line and nothing else');
  assert.not.ok(existsSync(join(dataDir, 'tokens.json')), 'nothing started, nothing stored');
  const duplicate = join(scratch, 'duplicate.yaml');
  writeFileSync(duplicate, 'clusters:\n  a: { endpoints: [127.0.0.1:1] }\n  a: { endpoints: [127.0.0.1:2] }\n');
  refusedRun(['--config', duplicate], /^meshlens: invalid config: --config must name a valid YAML file \(Map keys must be unique/);
  refusedRun(['--config', join(scratch, 'absent.yaml')], `invalid config: --config must name a readable file (${join(scratch, 'absent.yaml')} does not exist)`);
  const unknown = refusedRun(['--upstream', 'x'], /^Without --config or --cluster the demo upstream runs/).run.stderr;
  assert.match(unknown, /^meshlens: invalid config: arguments must be the options below \(Unknown option '--upstream'\)\nusage: npm start/);
  refusedRun(['--cluster', 'shop'], 'invalid config: --cluster must be NAME=HOST:PORT[,HOST:PORT...], got "shop"');
  refusedRun(['--cluster', 'shop=127.0.0.1:1', '--route', '/=billing'], 'invalid config: routes[0].cluster must name one of clusters');
});

cli('a plugin setting the filter refuses is reported under filter., exit 2', () => {
  const file = join(scratch, 'filter.yaml');
  writeFileSync(file, stringify({ clusters: { [SHOP]: { endpoints: ['127.0.0.1:1'] } }, filter: { tenant: { headers: ['X-Tenant'] } } }));
  refusedRun(['--config', file], 'invalid config: filter.tenant.headers[0] must be a lower-case header name of [a-z0-9_-]');
  refusedRun(['--config', file], 'invalid config: filter must not be set together with MESHLENS_FILTER_CONFIG', { MESHLENS_FILTER_CONFIG: '{}' });
});

cli.run();

const prom = suite('npm start --config: your own upstreams behind the sidecar, in a local Prometheus');
const missing = prometheusMissing();

interface Ctx { started?: Started; upstreams: ScriptedUpstream[]; dataDir?: string }
const ctx: Ctx = { upstreams: [] };
prom.after.each(async () => {
  if (ctx.started && ctx.started.child.exitCode === null) ctx.started.child.kill('SIGKILL');
  await Promise.all(ctx.upstreams.splice(0).map((u) => u.close()));
  if (ctx.dataDir) rmSync(ctx.dataDir, { recursive: true, force: true });
});

async function promql(url: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const body = (await (await fetch(`${url}/api/v1/query?${new URLSearchParams({ query })}`)).json()) as { status: string; data: { result: never[] }; error?: string };
  if (body.status !== 'success') throw new Error(`${query}: ${body.error}`);
  return body.data.result;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

prom('the generated prometheus.yml is istio/\'s jobs with static targets, and promtool accepts it with istio/\'s rules', () => {
  const rulesFile = join(scratch, 'rules.yml');
  writeFileSync(rulesFile, istioRules());
  const generated = localPrometheusConfig(
    { envoy: '127.0.0.1:15000', controlPlane: '127.0.0.1:18080', pod: { name: 'demo-1', namespace: 'default', app: 'demo' } }, rulesFile, 5);
  assert.equal(generated.jobs, ['meshlens-envoy', 'meshlens-control-plane'], 'the node agent job has no local target');
  const jobs = parse(generated.config).scrape_configs as Record<string, unknown>[];
  for (const job of jobs) assert.not.ok('kubernetes_sd_configs' in job, String(job.job_name));
  // Everything else about each job is istio/'s text, unchanged (read back from the same ConfigMap the test parses).
  const istioJobs = parse(parse(readIstio('prometheus-scrape-configmap.yaml')).data['meshlens-scrape-configs.yml']) as Record<string, unknown>[];
  for (const job of jobs) {
    const { static_configs: _s, ...rest } = job;
    const { kubernetes_sd_configs: _k, ...original } = istioJobs.find((j) => j.job_name === job.job_name)!;
    assert.equal(rest, original, String(job.job_name));
  }
  if (missing === null) {
    const file = join(scratch, 'prometheus.yml');
    writeFileSync(file, generated.config);
    const check = promtool(['check', 'config', file]);
    assert.is(check.status, 0, check.output);
  }
});

function readIstio(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../istio/base/${name}`, import.meta.url)), 'utf8');
}

needs(missing, prom)('routes by host and prefix to two own upstreams; per-tenant series in Prometheus via PromQL; Prometheus stops with it', async () => {
  const shop = await startUpstream((req, res) => {
    res.writeHead(req.url?.startsWith('/api/items/') ? 200 : 404, { 'content-type': 'text/plain' });
    res.end('shop');
  });
  const billing = await startUpstream((_req, res) => res.end('billing'));
  ctx.upstreams.push(shop, billing);
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'meshlens-start-own-'));
  const file = join(ctx.dataDir, 'meshlens.yaml');
  writeFileSync(file, stringify({
    clusters: { [SHOP]: { endpoints: [shop.address] }, [BILLING]: { endpoints: [billing.address] } },
    routes: [{ host: 'shop.local', prefix: '/api/', cluster: SHOP }, { prefix: '/', cluster: BILLING }],
    filter: { tenant: { headers: ['x-tenant-id'] }, paths: { templates: ['/api/items/{id}'] } },
  }));
  const started = (ctx.started = await startMain({ dataDir: join(ctx.dataDir, 'data'), args: ['--config', file], env: { MESHLENS_PROMETHEUS: 'prometheus' } }));
  const { ready } = started;
  assert.ok(ready.prometheusUrl, started.stdout.join('\n'));
  assert.ok(started.stdout.some((l) => l.includes(`prometheus:     ${ready.prometheusUrl}`)), 'the URL is printed');
  assert.ok(started.stdout.some((l) => l.includes(`shop.local/api/ -> ${SHOP} (${shop.address})`)), started.stdout.join('\n'));
  assert.not.ok(started.stdout.some((l) => l.includes('demo upstream')), 'no demo upstream with a config');
  await waitConnected(ready);

  const sends: [string, string, string, number][] = [['acme', 'shop.local', '/api/items/1', 7], ['globex', 'shop.local:10000', '/api/items/2', 3], ['acme', 'other.local', '/api/items/3', 4]];
  for (const [tenant, host, path, times] of sends) {
    for (let i = 0; i < times; i++) {
      const reply = await request(ready.listenerPort, path, { 'x-tenant-id': tenant, host });
      assert.is(reply.status, 200, reply.body);
      assert.is(reply.body, host.startsWith('shop.local') ? 'shop' : 'billing', `${host}${path} routed by host`);
    }
  }
  assert.is(shop.seen.length, 10);
  assert.is(billing.seen.length, 4);

  const expected = {
    [`${BILLING} acme /api/items/{id}`]: 4,
    [`${SHOP} acme /api/items/{id}`]: 7,
    [`${SHOP} globex /api/items/{id}`]: 3,
  };
  // A request is counted in on_log, which may run just after its response reached the client, and a scrape may land
  // in between: wait for the final counts, and show the last scrape if they never come.
  let last: Record<string, number> = {};
  await until(async () => {
    const result = await promql(ready.prometheusUrl!, `sum by (upstream_cluster, tenant, path) (meshlens_requests_total{response_code="200"})`);
    last = Object.fromEntries(result.map((r) => [`${r.metric.upstream_cluster} ${r.metric.tenant} ${r.metric.path}`, Number(r.value[1])]));
    const canonical = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort());
    return canonical(last) === canonical(expected) ? true : undefined;
  }, 'the per-tenant series scraped', 90_000).catch((err: Error) => assert.equal(last, expected, err.message));
  // istio/'s relabel rules ran on the local target: the pod labels they derive, and only meshlens_* kept.
  const [series] = await promql(ready.prometheusUrl!, `meshlens_requests_total{tenant="globex"}`);
  assert.equal([series.metric.job, series.metric.namespace, series.metric.pod, series.metric.app], ['meshlens-envoy', 'default', 'demo-1', 'demo']);
  // Prometheus' own per-target series (up, scrape_*) are added after metric relabelling.
  assert.equal(await promql(ready.prometheusUrl!, '{job="meshlens-envoy", __name__!~"meshlens_.*|up|scrape_.*"}'), [], 'metric_relabel_configs kept meshlens_* only');
  assert.ok((await promql(ready.prometheusUrl!, '{job="meshlens-envoy", __name__=~"envoy_.*"}')).length === 0);
  // Each target's first scrape comes at its own offset within the interval.
  const up = await until(async () => {
    const result = (await promql(ready.prometheusUrl!, 'up')).map((u) => [u.metric.job, u.value[1]]).sort();
    return result.length === 2 ? result : undefined;
  }, 'both targets scraped');
  assert.equal(up, [['meshlens-control-plane', '1'], ['meshlens-envoy', '1']]);
  const [controlPlane] = await promql(ready.prometheusUrl!, 'meshlens_cp_snapshot_version');
  assert.equal([controlPlane?.metric.job, controlPlane?.metric.pod], ['meshlens-control-plane', 'meshlens-control-plane-local']);
  // istio/'s rule groups, all of them, loaded.
  const rules = (await (await fetch(`${ready.prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: unknown[] }[] } };
  const shipped = parse(istioRules()).groups as { name: string; rules: unknown[] }[];
  const groups = (list: { name: string; rules: unknown[] }[]) => list.map((g) => [g.name, g.rules.length]).sort();
  assert.equal(groups(rules.data.groups), groups(shipped));
  assert.ok(existsSync(join(ready.dataDir, 'prometheus', 'data')), 'TSDB under the data dir');

  const port = Number(new URL(ready.prometheusUrl!).port);
  started.child.kill('SIGTERM');
  assert.equal(await started.exited, { code: 0, signal: null }, started.stderr.join('\n'));
  assert.ok(await refusesConnections(port), 'Prometheus stopped with npm start');
});

prom('flags instead of a file; without the Prometheus binary one line says so and the rest runs', async () => {
  const own = await startUpstream((_req, res) => res.end('own'));
  ctx.upstreams.push(own);
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'meshlens-start-flags-'));
  const started = (ctx.started = await startMain({
    dataDir: ctx.dataDir,
    args: ['--cluster', `${SHOP}=${own.address}`, '--route', `/api/=${SHOP}`, '--tenant-header', 'x-org', '--path-template', '/api/things/{id}'],
    env: { MESHLENS_PROMETHEUS: join(ctx.dataDir, 'no-such-prometheus') },
  }));
  const { ready } = started;
  assert.is(ready.prometheusUrl, null);
  const notes = started.stdout.filter((l) => l.includes('prometheus:'));
  assert.equal(notes, [`  prometheus:     not started: ${join(ctx.dataDir, 'no-such-prometheus')} not found (Debian package "prometheus"; \`bash .ci/setup\` installs it)`]);
  await waitConnected(ready);
  const reply = await request(ready.listenerPort, '/api/things/42', { 'x-org': 'initech' });
  assert.equal([reply.status, reply.body], [200, 'own']);
  assert.is((await request(ready.listenerPort, '/other')).status, 404, 'no route for /other: Envoy answers 404 (NR)');
  const metrics = await until(async () => {
    const text = (await request(ready.adminPort, '/stats/prometheus')).body;
    return text.includes('tenant="initech"') ? text : undefined;
  }, 'the x-org tenant in the stats');
  assert.ok(metrics.split('\n').some((l) => l.startsWith('meshlens_requests_total{') && l.includes('path="/api/things/{id}"') && l.includes(`upstream_cluster="${SHOP}"`)), metrics);
  const policies = await adminApi(ready, '/v1/policies');
  assert.is(policies.status, 200);
  started.child.kill('SIGTERM');
  assert.equal(await started.exited, { code: 0, signal: null });
});

prom.after(() => rmSync(scratch, { recursive: true, force: true }));
prom.run();
