import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { RecordingPlugin, closedPort, request, startUpstream, type ScriptedUpstream } from './support.ts';

const admin = suite('admin interface');
let plugin: RecordingPlugin;
let upstream: ScriptedUpstream;
let sidecar: SidecarWith<RecordingPlugin>;
let deadPort: number;

admin.before.each(async () => {
  plugin = new RecordingPlugin();
  upstream = await startUpstream();
  deadPort = await closedPort();
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { orders: { endpoints: [upstream.address, `127.0.0.1:${deadPort}`] } },
    routes: [{ cluster: 'orders' }],
    statsFlushIntervalMs: 20,
  });
});
admin.after.each(async () => {
  await sidecar.close();
  await upstream.close();
});

admin('/stats/prometheus serves the plugin stats as Envoy does', async () => {
  plugin.prometheusText = '# TYPE meshlens_requests_total counter\nmeshlens_requests_total{upstream_cluster="orders"} 3\n';
  const response = await request(sidecar.adminPort, '/stats/prometheus');
  assert.is(response.status, 200);
  assert.is(response.headers['content-type'], 'text/plain; charset=UTF-8');
  assert.is(response.headers['cache-control'], 'no-cache, max-age=0');
  assert.is(response.headers['x-content-type-options'], 'nosniff');
  // The plugin's series, with the HCM's own gauge added among the gauges as Envoy exports it.
  const prefix = `inbound_127.0.0.1_${sidecar.listenerPort}`;
  assert.is(response.body, plugin.prometheusText +
    `# TYPE envoy_http_downstream_rq_active gauge\nenvoy_http_downstream_rq_active{envoy_http_conn_manager_prefix="${prefix}"} 0\n`);
});

admin('/stats, /ready and unknown paths', async () => {
  assert.is((await request(sidecar.adminPort, '/stats')).body,
    `http.inbound_127.0.0.1_${sidecar.listenerPort}.downstream_rq_active: 0\nmeshlens_requests_total: 1\n`);
  const ready = await request(sidecar.adminPort, '/ready');
  assert.is(ready.status, 200);
  assert.is(ready.body, 'LIVE\n');
  const unknown = await request(sidecar.adminPort, '/nope');
  assert.is(unknown.status, 404);
  assert.match(unknown.body, /^invalid path\. admin commands are:/);
  assert.is((await request(sidecar.adminPort, '/stats', {}, { method: 'POST' })).status, 405);
});

admin('/clusters reports per-host connection and request counters', async () => {
  await request(sidecar.listenerPort, '/a');
  await request(sidecar.listenerPort, '/b'); // round robin: the dead endpoint
  const lines = (await request(sidecar.adminPort, '/clusters')).body.split('\n');
  assert.ok(lines.includes('orders::default_priority::max_connections::1024'));
  assert.ok(lines.includes(`orders::${upstream.address}::rq_total::1`));
  assert.ok(lines.includes(`orders::${upstream.address}::rq_success::1`));
  assert.ok(lines.includes(`orders::${upstream.address}::cx_total::1`));
  assert.ok(lines.includes(`orders::127.0.0.1:${deadPort}::cx_connect_fail::1`));
  assert.ok(lines.includes(`orders::127.0.0.1:${deadPort}::rq_error::1`));
});

admin('histograms are flushed on the stats flush interval, not per scrape', async () => {
  await plugin.nextFlush();
  await plugin.nextFlush();
  const before = plugin.flushes;
  await request(sidecar.adminPort, '/stats/prometheus');
  assert.ok(plugin.flushes - before <= 1, 'a scrape does not force a flush');
  sidecar.flushStats();
  assert.ok(plugin.flushes > before);
});

admin.run();

const options = suite('sidecar options');

options('a route naming an unknown cluster is refused', async () => {
  const err = await startSidecarWith(new RecordingPlugin(), {
    listener: { port: 0 }, admin: { port: 0 }, clusters: {}, routes: [{ cluster: 'ghost' }],
  }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, 'invalid sidecar: routes[0].cluster must name a configured cluster');
});

options('a malformed endpoint is refused', async () => {
  const err = await startSidecarWith(new RecordingPlugin(), {
    listener: { port: 0 }, admin: { port: 0 }, clusters: { a: { endpoints: ['localhost'] } }, routes: [],
  }).catch((e: Error) => e);
  assert.match((err as Error).message, /^invalid endpoint: "localhost" must be host:port$/);
});

options.run();
