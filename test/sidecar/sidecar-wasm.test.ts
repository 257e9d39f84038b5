// The sidecar around real Wasm: the host's probe fixture reports what on_log reads (response.flags bitmask,
// upstream.request_attempt_count, upstream.address / local_address), and the release filter runs end to end.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProxyWasmPlugin, ManualClock } from '../../filter/host/index.ts';
import { startSidecar, startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { fixture, releaseFilter } from '../host/support.ts';
import { ObservedPlugin, closedPort, request, startUpstream, type ScriptedUpstream } from './support.ts';

/** The real plugin, observed; the probe fixture also logs what its on_log read, one "log.code=…" line a stream. */
class ProbePlugin extends ObservedPlugin {
  /** The probe's "log.code=…" line for the latest stream, parsed into key → value. */
  lastLogLine(): Record<string, string> {
    const line = this.inner.logs.filter((l) => l.message.startsWith('log.code=')).at(-1)!.message;
    return Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
}

const probe = suite('sidecar with the probe filter');
let plugin: ProbePlugin;
let sidecar: SidecarWith<ProbePlugin>;
let upstream: ScriptedUpstream;
let deadPort: number;

probe.before.each(async () => {
  upstream = await startUpstream((_req, res) => {
    res.writeHead(200);
    res.end('hello');
  });
  deadPort = await closedPort();
  plugin = new ProbePlugin(await ProxyWasmPlugin.create({ wasm: fixture('probe'), configuration: '', workers: 2, clock: new ManualClock(1_700_000_000_000) }));
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { good: { endpoints: [upstream.address] }, dead: { endpoints: [`127.0.0.1:${deadPort}`] } },
    routes: [{ prefix: '/dead', cluster: 'dead' }, { cluster: 'good' }],
  });
});
probe.after.each(async () => {
  await sidecar.close();
  await upstream.close();
});

probe('on_log reads the real upstream socket and one attempt', async () => {
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/api/orders/1');
  await logged;
  assert.is(response.status, 200);
  assert.is(response.headers['x-probe-response'], '1', 'response headers the filter added reach the client');
  assert.is(upstream.seen[0]!.headers['x-probe'], 'seen', 'request headers the filter added reach the upstream');
  const line = plugin.lastLogLine();
  assert.is(line['log.code'], '0:200');
  assert.is(line.flags, '0:0');
  assert.is(line.attempts, '0:1');
  assert.is(line.upstream, `0:${upstream.address}`);
  assert.is(line.local, `0:127.0.0.1:${upstream.seen[0]!.remotePort}`);
});

probe('connect failure with connect-failure retries reaches on_log as UF|URX and three attempts', async () => {
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/dead/x', { 'x-envoy-retry-on': 'connect-failure', 'x-envoy-max-retries': '2' });
  await logged;
  assert.is(response.status, 503);
  const line = plugin.lastLogLine();
  assert.is(line['log.code'], '0:503');
  assert.is(line.flags, `0:${0x20 | 0x8000}`);
  assert.is(line.attempts, '0:3');
  assert.is(line.upstream, `0:127.0.0.1:${deadPort}`);
  assert.is(line.local, '1', 'no connection, so upstream.local_address is NOT_FOUND');
});

probe('per-try timeout reaches on_log as UT|URX', async () => {
  await upstream.close();
  upstream = await startUpstream(() => {});
  await sidecar.close();
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 }, admin: { port: 0 }, clusters: { good: { endpoints: [upstream.address] } }, routes: [{ cluster: 'good' }],
  });
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/slow', { 'x-envoy-retry-on': '5xx', 'x-envoy-upstream-rq-per-try-timeout-ms': '30' });
  await logged;
  assert.is(response.status, 504);
  assert.is(plugin.lastLogLine().flags, `0:${0x4 | 0x8000}`);
  assert.is(plugin.lastLogLine().attempts, '0:2');
});

probe('a local reply from the filter goes to the client and not upstream', async () => {
  const logged = plugin.nextLog();
  const response = await request(sidecar.listenerPort, '/local');
  await logged;
  assert.is(response.status, 403);
  assert.is(response.body, 'nope');
  assert.is(response.headers['x-probe-reply'], 'yes');
  assert.is(upstream.seen.length, 0);
});

probe.run();

const release = suite('sidecar with the release filter');

release('startSidecar runs meshlens.wasm: requests are counted in /stats/prometheus', async () => {
  const up = await startUpstream((_req, res) => {
    res.writeHead(200);
    res.end('ok');
  });
  const sc = await startSidecar({
    wasm: releaseFilter(),
    configuration: JSON.stringify({ paths: { templates: ['/api/orders/{id}'] } }),
    workers: 2,
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { orders: { endpoints: [up.address] } },
    routes: [{ cluster: 'orders' }],
  });
  try {
    for (const id of [1, 2, 3]) assert.is((await request(sc.listenerPort, `/api/orders/${id}`, { 'x-tenant-id': 'acme' })).status, 200);
    assert.is(up.seen.length, 3);
    assert.equal(sc.plugin.logs.filter((l) => l.level === 'critical').map((l) => l.message), []);
    const metrics = (await request(sc.adminPort, '/stats/prometheus')).body;
    const series = metrics.split('\n').find((l) => l.startsWith('meshlens_requests_total{') && l.includes('upstream_cluster="orders"'));
    assert.ok(series, 'meshlens_requests_total for the orders cluster');
    assert.match(series!, /path="\/api\/orders\/\{id\}"/);
    assert.ok(series!.endsWith(' 3'), series);
  } finally {
    await sc.close();
    await up.close();
  }
});

release('the retry headers the release filter sets drive the router: a 503 upstream is retried', async () => {
  const up = await startUpstream((_req, res) => {
    res.writeHead(503);
    res.end('down');
  });
  const sc = await startSidecar({
    wasm: releaseFilter(),
    configuration: '{}',
    workers: 2,
    listener: { port: 0 },
    admin: { port: 0 },
    clusters: { orders: { endpoints: [up.address] } },
    routes: [{ cluster: 'orders' }],
  });
  try {
    const response = await request(sc.listenerPort, '/api/orders/1', { 'x-tenant-id': 'acme' });
    assert.is(response.status, 503);
    assert.ok(up.seen.length > 1, `the filter granted a retry, so the upstream sees more than one attempt (saw ${up.seen.length})`);
    assert.ok(up.seen.every((s) => s.headers['x-envoy-retry-on'] === undefined), 'retry headers are consumed by the router');
    const metrics = (await request(sc.adminPort, '/stats/prometheus')).body;
    assert.ok(metrics.split('\n').some((l) => l.startsWith('meshlens_retry_decisions_total{') && l.includes('decision="granted"') && l.endsWith(' 1')));
  } finally {
    await sc.close();
    await up.close();
  }
});

release.run();
