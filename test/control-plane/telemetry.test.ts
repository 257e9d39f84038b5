// Telemetry and KernelTelemetry ingest over real gRPC, their rejection rules, dry runs replayed over the recorded
// telemetry, and the correlation placeholder joining kernel flows to connection outcomes.
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messageType } from '../../control-plane/src/protos.ts';
import { http, rawClient, startTestPlane, unaryRaw, type TestPlane } from './helpers.ts';

const test = suite<{ plane: TestPlane; client: grpc.Client }>('telemetry ingest');
const REPORT = '/meshlens.v1.Telemetry/Report';
const KERNEL = '/meshlens.v1.KernelTelemetry/Report';
const reportType = messageType('TelemetryReport');
const kernelType = messageType('KernelReport');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane();
  ctx.client = rawClient(ctx.plane.grpcPort);
});
test.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.plane.stop();
});

const encode = (report: Record<string, unknown>) => reportType.encode(reportType.fromObject(report)).finish();

/** One report per second for `seconds`, with `errors` of `requests` failing and all durations in the 50 ms bucket. */
function routeReport(endMs: number, cluster: string, tenant: string, requests: number, errors: number) {
  const buckets = new Array(6).fill(0);
  buckets[5] = requests;                                       // (25, 50] ms
  return {
    node: { id: 'sidecar~1', worker: 'worker_0' }, policyVersion: '1', windowStartUnixMs: endMs - 1000, windowEndUnixMs: endMs,
    routes: [{ cluster, pathTemplate: '/orders/{id}', tenant, counters: { requests, errors, slowCalls: 0, durationMsSum: requests * 40, durationBuckets: buckets } }],
  };
}

test('a valid report is accepted and counted', async ({ plane, client }) => {
  const bytes = encode({
    ...routeReport(plane.clock.now, 'orders', 'acme', 10, 1),
    connections: [{ localAddress: '10.0.0.1:40000', remoteAddress: '10.0.0.2:8080', cluster: 'orders', counters: { requests: 10, errors: 1 } }],
    breakers: [{ cluster: 'orders', tenant: 'acme', state: 'BREAKER_STATE_CLOSED', policyId: 'orders' }],
  });
  const { error, response } = await unaryRaw(client, REPORT, bytes, plane.proxyToken);
  assert.is(error, null);
  assert.is((messageType('TelemetryReportAck').decode(response!) as any).acceptedEntries, 3);
  assert.match(await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_report_entries_total'), /source="filter"\} 3/);
  assert.is(plane.telemetry.connection('10.0.0.1:40000', '10.0.0.2:8080')?.errors, 1);
});

test('bad reports are rejected with a clear status, nothing recorded, and the server keeps serving', async ({ plane, client }) => {
  const valid = routeReport(plane.clock.now, 'orders', 'acme', 10, 1);
  const cases: [Uint8Array, string | null, grpc.status, RegExp][] = [
    [encode(valid), null, grpc.status.UNAUTHENTICATED, /authorization must be "Bearer <token>"/],
    [encode(valid), plane.adminToken, grpc.status.UNAUTHENTICATED, /proxy bearer token/],
    [Buffer.from([0x0a, 0xff, 0xff, 0x7f]), plane.proxyToken, grpc.status.INVALID_ARGUMENT, /^invalid telemetry report: message must be a valid TelemetryReport/],
    [encode({ ...valid, node: undefined }), plane.proxyToken, grpc.status.INVALID_ARGUMENT, /^invalid telemetry report: node.id must be set$/],
    [encode({ ...valid, windowStartUnixMs: plane.clock.now + 1 }), plane.proxyToken, grpc.status.INVALID_ARGUMENT, /windowEndUnixMs must be >= windowStartUnixMs/],
    [encode(routeReport(plane.clock.now, 'orders', 'acme', 1, 2)), plane.proxyToken, grpc.status.INVALID_ARGUMENT,
      /^invalid telemetry report: routes\[0\]\.counters\.errors must be <= requests$/],
    [encode({ ...valid, breakers: [{ cluster: 'c', state: 'BREAKER_STATE_UNSPECIFIED' }] }), plane.proxyToken, grpc.status.INVALID_ARGUMENT,
      /breakers\[0\]\.state must be CLOSED, OPEN or HALF_OPEN/],
    [encode({ ...valid, breakers: [{ cluster: 'c', state: 'BREAKER_STATE_OPEN', tripRequests: 2, tripFailures: 3 }] }), plane.proxyToken,
      grpc.status.INVALID_ARGUMENT, /breakers\[0\]\.tripFailures and tripSlowCalls must be <= tripRequests/],
    [encode({ ...valid, breakers: [{ state: 'BREAKER_STATE_OPEN' }] }), plane.proxyToken, grpc.status.INVALID_ARGUMENT,
      /breakers\[0\]\.cluster must be set/],
    [new Uint8Array(5 << 20), plane.proxyToken, grpc.status.RESOURCE_EXHAUSTED, /./],
  ];
  for (const [bytes, token, code, details] of cases) {
    const { error } = await unaryRaw(client, REPORT, bytes, token);
    assert.is(error?.code, code, `${error?.details}`);
    assert.match(error!.details, details);
  }
  assert.equal(plane.telemetry.routes(0, Number.MAX_SAFE_INTEGER), [], 'nothing recorded from rejected reports');
  const rejected = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_reports_rejected_total');
  assert.match(rejected, /source="filter",code="INVALID_ARGUMENT"\} 7/);
  const { error } = await unaryRaw(client, REPORT, encode(valid), plane.proxyToken);
  assert.is(error, null);
});

test('entries beyond the per-report limit are rejected', async () => {
  const plane = await startTestPlane({ });
  const client = rawClient(plane.grpcPort);
  try {
    const connections = Array.from({ length: 100_001 }, (_, i) => ({ localAddress: `10.0.${i >> 16}.${i & 255}:1`, remoteAddress: 'r:1' }));
    const { error } = await unaryRaw(client, REPORT, encode({ node: { id: 'n' }, connections }), plane.proxyToken);
    assert.is(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.is(error?.details, 'invalid telemetry report: entries must be at most 100000');
  } finally {
    client.close();
    await plane.stop();
  }
});

async function recordSeconds(plane: TestPlane, client: grpc.Client, from: number, seconds: number, cluster: string, tenant: string, requests: number, errors: number) {
  for (let s = 1; s <= seconds; s++) {
    const { error } = await unaryRaw(client, REPORT, encode(routeReport(from + s * 1000, cluster, tenant, requests, errors)), plane.proxyToken);
    assert.is(error, null);
  }
}

test('dry run replays recorded telemetry: a failing scope trips, a healthy one does not, thresholds matter', async ({ plane, client }) => {
  const start = plane.clock.now - 125_000;
  await recordSeconds(plane, client, start, 60, 'orders', 'acme', 10, 5);      // 50 % errors
  await recordSeconds(plane, client, start, 60, 'orders', 'globex', 10, 0);
  await recordSeconds(plane, client, start, 60, 'billing', 'acme', 10, 1);     // 10 % errors
  const dryRun = (policy: unknown) => http(plane.httpPort, 'POST', '/v1/dry-run', { token: plane.adminToken, body: { policy, windowMinutes: 5 } });

  const perTenant = await dryRun({ target: { cluster: 'orders', perTenant: true } });
  assert.is(perTenant.status, 200, perTenant.text);
  const [acme, globex] = perTenant.json.scopes;
  assert.is(acme.tenant, 'acme');
  assert.is(acme.requests, 600);
  assert.is(acme.errors, 300);
  // minRequests 20 is reached after 2 s of 10 rps at 50 % errors: trips at the end of the second slot.
  assert.is(acme.firstTripUnixMs, start + 3000);
  assert.ok(acme.transitions >= 3, 'trips, probes in HalfOpen after 30 s, reopens');
  assert.ok(acme.wouldReject > 400, `rejects most of the traffic (${acme.wouldReject})`);
  assert.is(acme.finalState === 'Open' || acme.finalState === 'HalfOpen', true);
  assert.equal([globex.tenant, globex.transitions, globex.wouldReject, globex.finalState], ['globex', 0, 0, 'Closed']);

  const clusterWide = await dryRun({ target: { cluster: 'orders', perTenant: false } });
  assert.is(clusterWide.json.scopes.length, 1, 'one scope per cluster when not per tenant');
  assert.is(clusterWide.json.scopes[0].tenant, '');
  assert.is(clusterWide.json.scopes[0].transitions, 0, '25 % errors across tenants stays under 0.3');

  const everything = await dryRun({ target: { cluster: '*', perTenant: false }, breaker: { errorRateThreshold: 0.05 } });
  assert.equal(everything.json.scopes.map((s: any) => [s.cluster, s.transitions > 0]), [['billing', true], ['orders', true]]);

  const slow = await dryRun({ target: { cluster: 'billing' }, breaker: { slowCallMs: 30, slowCallRateThreshold: 0.3 } });
  assert.ok(slow.json.scopes[0].slowCalls > 0, 'slow calls recomputed from the duration histogram for the proposed threshold');
  assert.ok(slow.json.scopes[0].transitions > 0);
  const notSlow = await dryRun({ target: { cluster: 'billing' }, breaker: { slowCallMs: 60 } });
  assert.is(notSlow.json.scopes[0].slowCalls, 0);

  // Per tenant is the default, and requests with no tenant share the "~other" scope as the filter keys it.
  await recordSeconds(plane, client, start, 2, 'payments', 'unknown', 10, 0);
  await recordSeconds(plane, client, start, 2, 'payments', '~other', 10, 0);
  await recordSeconds(plane, client, start, 2, 'payments', 'acme', 10, 0);
  const byDefault = await dryRun({ target: { cluster: 'payments' } });
  assert.equal(byDefault.json.scopes.map((s: any) => [s.tenant, s.requests]), [['acme', 20], ['~other', 40]]);

  const outOfWindow = await http(plane.httpPort, 'POST', '/v1/dry-run', { token: plane.adminToken, body: { policy: { target: { cluster: 'orders' } }, windowMinutes: 1 } });
  assert.is(outOfWindow.json.scopes.length, 0, 'telemetry older than the window is not replayed');

  const invalid = await dryRun({ breaker: { minRequests: 0 } });
  assert.equal(invalid.json, { code: 'INVALID_ARGUMENT', message: 'invalid policy: breaker.minRequests must be an integer in [1, 1000000]' });
});

test('kernel reports: flows joined to connection outcomes through the netns identity; equal addresses in two namespaces do not mix; retried sequence not double counted; bad ones rejected', async ({ plane, client }) => {
  const filterReport = (proxy: string, requests: number, errors: number) => unaryRaw(client, REPORT, encode({
    node: { id: proxy }, windowStartUnixMs: plane.clock.now - 1000, windowEndUnixMs: plane.clock.now,
    connections: [{
      localAddress: '10.0.0.1:40000', remoteAddress: '10.0.0.2:8080', cluster: 'orders', counters: { requests, errors },
      routes: [{ pathTemplate: '/a', tenant: 'acme', requests: requests - 10, errors }, { pathTemplate: '/b', tenant: 'beta', requests: 10, errors: 0 }],
    }],
  }), plane.proxyToken);
  await filterReport('n', 50, 5);
  await filterReport('m', 20, 0);     // another pod on the node, same addresses, its own network namespace
  const kernel = (sequence: number, flows: unknown[]) => kernelType.encode(kernelType.fromObject({
    node: { nodeName: 'node-a', agentId: 'agent-1', source: 'KERNEL_SOURCE_BPF' }, sequence,
    intervalStartUnixMs: plane.clock.now - 1000, intervalEndUnixMs: plane.clock.now, flows,
    netnsIdentities: [{ netns: 4026531001, proxyId: 'n', source: 'IDENTITY_SOURCE_ENV_NODE_ID' }, { netns: 4026531002, proxyId: 'm', source: 'IDENTITY_SOURCE_CONFIG' }],
  })).finish();
  const flow = {
    netns: 4026531001, family: 'ADDRESS_FAMILY_IPV4', localAddress: '10.0.0.1', localPort: 40000, remoteAddress: '10.0.0.2', remotePort: 8080,
    retransSegs: 7, segsOut: 100, srttUs: 250, direction: 'FLOW_DIRECTION_OUTBOUND',
  };
  const other = { ...flow, localPort: 40001, retransSegs: 1, direction: 9 }; // an enum number a newer agent might send
  const twin = { ...flow, netns: 4026531002, retransSegs: 3, segsOut: 40 };
  const unknownNetns = { ...flow, netns: 4026531003, retransSegs: 2 };
  const first = await unaryRaw(client, KERNEL, kernel(1, [flow, other, twin, unknownNetns]), plane.proxyToken);
  assert.is(first.error, null);
  const ack = messageType('KernelReportAck').toObject(messageType('KernelReportAck').decode(first.response!), { longs: String });
  assert.equal([ack.sequence, ack.acceptedFlows], ['1', 4]);
  const retried = await unaryRaw(client, KERNEL, kernel(1, [{ ...flow, retransSegs: 99 }]), plane.proxyToken);
  assert.is(retried.error, null);
  const correlations = await http(plane.httpPort, 'GET', '/v1/correlations', { token: plane.adminToken });
  assert.equal(correlations.json.correlations[0], {
    localAddress: '10.0.0.1:40000', remoteAddress: '10.0.0.2:8080', cluster: 'orders', retransSegs: 7, segsOut: 100, requests: 50, errors: 5,
    direction: 'FLOW_DIRECTION_OUTBOUND', nodeName: 'node-a', netns: 4026531001, proxyId: 'n', srttUs: 250,
    windowEndUnixMs: plane.clock.now,
    // 40 of 50 requests were /a for acme: 7 × 40/50 = 5.6 retransmitted and 80 sent segments; /b 1.4 and 20.
    routes: [
      { pathTemplate: '/a', tenant: 'acme', requests: 40, errors: 5, retransSegs: 5.6000000000000005, segsOut: 80 },
      { pathTemplate: '/b', tenant: 'beta', requests: 10, errors: 0, retransSegs: 1.4000000000000001, segsOut: 20 },
    ],
  });
  const byNetns = (netns: number) => correlations.json.correlations.find((c: any) => c.netns === netns && c.localAddress === '10.0.0.1:40000');
  assert.equal([byNetns(4026531002).proxyId, byNetns(4026531002).requests, byNetns(4026531002).retransSegs], ['m', 20, 3],
    'the same 4-tuple in the other namespace joins the other proxy\'s requests');
  assert.equal([byNetns(4026531003).proxyId, byNetns(4026531003).requests, byNetns(4026531003).cluster], ['', 0, ''],
    'a namespace without a known proxy joins nothing, even though its 4-tuple matches two proxies');
  const unjoined = correlations.json.correlations.find((c: any) => c.localAddress === '10.0.0.1:40001');
  assert.is(unjoined.requests, 0, 'a flow no filter reported joins to nothing');
  assert.is(unjoined.direction, 'FLOW_DIRECTION_UNSPECIFIED', 'an unknown direction is kept as unknown');
  const acme = correlations.json.routes.find((r: any) => r.tenant === 'acme');
  // acme used only proxy n's connection (40 of its 50 requests) and proxy m's (10 of 20): 5.6 + 3 × 10/20 = 7.1.
  assert.ok(Math.abs(acme.retransSegs - 7.1) < 1e-9, `acme's attributed retransmits ${acme.retransSegs}`);
  assert.is(acme.requests, 40 + 10);
  const unauthenticated = await unaryRaw(client, KERNEL, kernel(2, [flow]), null);
  assert.is(unauthenticated.error?.code, grpc.status.UNAUTHENTICATED);
  const badPort = await unaryRaw(client, KERNEL, kernel(2, [{ ...flow, localPort: 70000 }]), plane.proxyToken);
  assert.is(badPort.error?.details, 'invalid kernel report: flows[0] ports must be <= 65535');
  const badIdentity = kernelType.encode(kernelType.fromObject({
    node: { nodeName: 'node-a', agentId: 'agent-1' }, sequence: 2, intervalStartUnixMs: plane.clock.now, intervalEndUnixMs: plane.clock.now,
    flows: [flow], netnsIdentities: [{ netns: 1, proxyId: '' }],
  })).finish();
  assert.is((await unaryRaw(client, KERNEL, badIdentity, plane.proxyToken)).error?.details,
    'invalid kernel report: netnsIdentities[0].proxyId must be 1 to 1024 characters');
  const badShares = await unaryRaw(client, REPORT, encode({
    node: { id: 'n' }, windowStartUnixMs: plane.clock.now, windowEndUnixMs: plane.clock.now,
    connections: [{ localAddress: 'a:1', remoteAddress: 'b:2', cluster: 'orders', counters: { requests: 5 }, routes: [{ pathTemplate: '/a', tenant: 't', requests: 6 }] }],
  }), plane.proxyToken);
  assert.is(badShares.error?.details, 'invalid telemetry report: connections[0].routes requests must add up to at most counters.requests');
});

test.run();
