// The correlation as an operator sees it, through a real control plane fed over gRPC: bounded Prometheus series with
// Istio's service labels and "~other", ListEndpoints over gRPC and HTTP JSON with the verdict history, and the
// `meshlens endpoints` / `meshlens correlations` CLI views.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { serviceLabels } from '../../control-plane/src/metrics.ts';
import { CLUSTER, ENDPOINTS, filterReport, KERNEL, kernelReport, ONSET, REPORT, WINDOWS } from './abc-reports.ts';
import { bearer, http, rawClient, startTestPlane, unaryRaw, type TestPlane } from './helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const test = suite<{ plane: TestPlane; client: grpc.Client }>('correlation API');

test.before(async (ctx) => {
  ctx.plane = await startTestPlane({ correlation: { maxEndpointSeries: 2 } });
  ctx.client = rawClient(ctx.plane.grpcPort);
  const t0 = Math.floor(ctx.plane.clock.now / 1000) * 1000;
  for (let w = 0; w < WINDOWS; w++) {
    const start = t0 + w * 1000;
    assert.is((await unaryRaw(ctx.client, REPORT, filterReport(start, w), ctx.plane.proxyToken)).error, null);
    assert.is((await unaryRaw(ctx.client, KERNEL, kernelReport(start, w), ctx.plane.proxyToken)).error, null);
    ctx.plane.clock.now = start + 1500;
    ctx.plane.correlator.evaluate(ctx.plane.clock.now);
  }
});

test.after(async ({ plane, client }) => {
  client.close();
  await plane.stop();
});

test('Istio service labels come from the cluster name; other names stay unknown', () => {
  assert.equal(serviceLabels(CLUSTER), {
    upstream_cluster: CLUSTER, destination_service: 'orders.shop.svc.cluster.local', destination_service_name: 'orders', destination_service_namespace: 'shop',
  });
  assert.equal(serviceLabels('meshlens-control-plane'), {
    upstream_cluster: 'meshlens-control-plane', destination_service: 'unknown', destination_service_name: 'unknown', destination_service_namespace: 'unknown',
  });
});

test('Prometheus: one verdict series per admitted endpoint, the rest summed under ~other; retransmits per route and tenant', async ({ plane }) => {
  const text = (await http(plane.httpPort, 'GET', '/metrics')).text;
  const labels = (endpoint: string, verdict: string) =>
    `meshlens_cp_endpoint_verdict{upstream_cluster="${CLUSTER}",destination_service="orders.shop.svc.cluster.local",destination_service_name="orders",destination_service_namespace="shop",endpoint="${endpoint}",verdict="${verdict}"}`;
  assert.ok(text.includes(`${labels('10.0.0.2:8080', 'healthy')} 1`), text);
  assert.ok(text.includes(`${labels('10.0.1.2:8080', 'network-suspect')} 1`));
  assert.ok(text.includes(`${labels('~other', 'app-failing')} 1`), 'the third endpoint is beyond the cap of 2');
  assert.not.match(text, /endpoint="10\.0\.2\.2:8080"/);
  assert.is(text.match(/^meshlens_cp_endpoint_verdict\{/gm)!.length, 3, 'only current verdicts are exported');
  // B retransmitted 8 segments per faulty window over 6 windows; acme used 75 % of its requests: 36, beta 12.
  const route = (path: string, tenant: string) => new RegExp(
    `^meshlens_cp_route_retransmitted_segments_total\\{[^}]*path="${path.replace(/[{}]/g, '\\$&')}",tenant="${tenant}"\\} (\\S+)$`, 'm');
  assert.is(Number(route('/orders/{id}', 'acme').exec(text)![1]), 36);
  assert.is(Number(route('/pay', 'beta').exec(text)![1]), 12);
  assert.match(text, /^meshlens_cp_endpoint_retransmit_ratio\{[^}]*endpoint="10\.0\.1\.2:8080"\} 0\.04$/m);
  assert.match(text, /^meshlens_cp_correlation_windows_total \d+$/m);
});

test('Prometheus: route names past the window\'s cap are counted as dropped, kind="routes"', async () => {
  const plane = await startTestPlane({ correlation: { maxRoutesPerWindow: 1 } });
  const client = rawClient(plane.grpcPort);
  try {
    const start = Math.floor(plane.clock.now / 1000) * 1000;
    assert.is((await unaryRaw(client, REPORT, filterReport(start, 0), plane.proxyToken)).error, null);
    plane.clock.now = start + 1500;
    plane.correlator.evaluate(plane.clock.now);
    // Each of client-1's 3 connections carries /orders/{id} (acme: the window's one name) and /pay (beta: past it).
    const text = (await http(plane.httpPort, 'GET', '/metrics')).text;
    assert.match(text, /^meshlens_cp_correlation_dropped_total\{kind="routes"\} 3$/m, text.split('\n').filter((l) => l.includes('dropped')).join('\n'));
  } finally {
    client.close();
    await plane.stop();
  }
});

test('ListEndpoints over HTTP JSON and gRPC: verdicts, signals against baseline, history', async ({ plane }) => {
  const answer = await http(plane.httpPort, 'GET', '/v1/endpoints', { token: plane.adminToken });
  assert.is(answer.status, 200);
  const byEndpoint = Object.fromEntries(answer.json.endpoints.map((e: any) => [e.endpoint, e]));
  assert.equal(Object.keys(byEndpoint), ['10.0.0.2:8080', '10.0.1.2:8080', '10.0.2.2:8080']);
  const b = byEndpoint['10.0.1.2:8080'];
  // B's 6 loss-delayed calls a window sit in the (100, 250] ms bucket: 6 × (250 − 150) / 150 = 4 count as over 150 ms.
  assert.is(b.verdict, 'network-suspect');
  assert.is(b.signals.retransRatio, 0.04);
  assert.is(b.baseline.retransRatio, 0);
  assert.equal(b.history.map((h: any) => [h.from, h.to, h.windowEndUnixMs - plane.clock.now]), [['unknown', 'healthy', -(WINDOWS - 1) * 1000 - 500], ['healthy', 'network-suspect', -(WINDOWS - 1 - ONSET) * 1000 - 500]]);
  // Verdicts judge the span of the last two windows: at onset, clean window 5 and lossy window 6 — 8 of 400 segments,
  // 8 retransmits over 200 requests, 4 of 200 requests over 150 ms. Latency against A and C (2 ms a request): B's
  // (200 + 94 × 2 + 6 × 220) / 200 = 8.54 ms is 4.27 ×, and its retransmitting connection's 1,508 / 100 ms 7.54 ×.
  assert.match(b.history[1].reason, new RegExp('^retransmit ratio 2\\.00% vs baseline 0\\.00% \\(8/400 segments\\); retransmits per request 0\\.040 vs ' +
    'baseline 0\\.000; requests over 150 ms 2\\.00% vs baseline 0\\.00%; mean latency 4\\.27 × its peers\' \\(2\\.0 ms\\) vs usually 1\\.00 ×; ' +
    '100 requests on retransmitting connections 7\\.54 × its peers\' latency vs usually 1\\.00 ×$'));
  assert.is(byEndpoint['10.0.2.2:8080'].verdict, 'app-failing');
  assert.is(byEndpoint['10.0.0.2:8080'].verdict, 'healthy');
  assert.is((await http(plane.httpPort, 'GET', '/v1/endpoints', { token: null })).status, 401);

  const Admin = meshlensGrpc().Admin;
  const admin = new Admin(`127.0.0.1:${plane.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const reply: any = await new Promise((resolve, reject) =>
      (admin as any).ListEndpoints({}, bearer(plane.adminToken), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
    const grpcB = reply.endpoints.find((e: any) => e.endpoint === '10.0.1.2:8080');
    assert.is(grpcB.verdict, 'ENDPOINT_VERDICT_NETWORK_SUSPECT');
    assert.is(grpcB.signals.retransRatio, 0.04);
    assert.equal(grpcB.history.map((h: any) => h.to), ['ENDPOINT_VERDICT_HEALTHY', 'ENDPOINT_VERDICT_NETWORK_SUSPECT']);
    const correlations: any = await new Promise((resolve, reject) =>
      (admin as any).ListCorrelations({}, bearer(plane.adminToken), (error: Error | null, value: unknown) => (error ? reject(error) : resolve(value))));
    const newest = correlations.correlations.filter((c: any) => c.remoteAddress === '10.0.1.2:8080')[0];
    assert.equal([newest.proxyId, newest.netns, newest.retransSegs, newest.routes.map((r: any) => [r.tenant, r.retransSegs])],
      ['client-1', '4026532100', '8', [['acme', 6], ['beta', 2]]]);
    assert.ok(correlations.routes.some((r: any) => r.tenant === 'acme' && r.retransSegs === 6));
  } finally {
    admin.close();
  }
});

const cli = (plane: TestPlane, ...args: string[]) => new Promise<string>((resolve, reject) => {
  execFile(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), ...args, '--url', `http://127.0.0.1:${plane.httpPort}`,
    '--token', plane.adminToken], { cwd: root }, (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)));
});

test('meshlens endpoints and meshlens correlations print the views with the verdict history', async ({ plane }) => {
  const endpoints = await cli(plane, 'endpoints');
  assert.match(endpoints, /^CLUSTER\s+ENDPOINT\s+VERDICT\s+RETRANS \(BASE\)/);
  assert.match(endpoints, /10\.0\.1\.2:8080\s+network-suspect\s+4\.00% \(0\.00%\)/);
  assert.match(endpoints, /10\.0\.2\.2:8080\s+app-failing\s+0\.00% \(0\.00%\)\s+0\.30 \(0\.30\)\s+20\.00% \(0\.00%\)/);
  assert.match(endpoints, /recent verdict changes[\s\S]*10\.0\.1\.2:8080\s+healthy\s+network-suspect\s+retransmit ratio 2\.00%/);
  const correlations = await cli(plane, 'correlations');
  assert.match(correlations, /client-1\s+4026532100\s+10\.0\.9\.1:40001\s+10\.0\.1\.2:8080\s+\S+\s+8\s+200\s+100\s+0/);
  // Per window, acme sent 75 of 100 requests on each of the 3 connections: 225 requests, 0.75 × 8 = 6 retransmitted
  // segments (only B lost any) and 0.75 × 200 × 3 = 450 sent.
  assert.match(correlations, /retransmits attributed to routes and tenants[\s\S]*\/orders\/\{id\}\s+acme\s+225\s+6\.0\s+450\.0/, correlations);
  const json = JSON.parse(await cli(plane, 'endpoints', '--json'));
  assert.is(json.endpoints.length, 3);
});

test.run();
