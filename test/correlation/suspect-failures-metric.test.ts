// meshlens_cp_network_suspect_failures_total from the filters' telemetry reports, through the control plane's real
// gRPC ingestion and its /metrics: per (cluster, path template, tenant) under Istio's service labels, summed across
// reports and VMs, bounded by the correlation export's route cap (the rest under path and tenant "~other"), and
// nothing counted from a report that is rejected. (The kernel test network-aware-kernel.test.ts sees the counter in
// real Prometheus, fed by the release filter.)
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messageType } from '../../control-plane/src/protos.ts';
import { rawClient, startTestPlane, unaryRaw, type TestPlane } from '../control-plane/helpers.ts';

const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
const reportType = messageType('TelemetryReport');
const test = suite<{ plane: TestPlane; client: grpc.Client }>('network-suspect failures metric');

test.before(async (ctx) => {
  ctx.plane = await startTestPlane({ correlation: { maxRouteSeries: 2 } });
  ctx.client = rawClient(ctx.plane.grpcPort);
});

test.after(async ({ plane, client }) => {
  client.close();
  await plane.stop();
});

type Route = [path: string, tenant: string, requests: number, excused: number];

async function report(plane: TestPlane, client: grpc.Client, worker: string, routes: Route[]) {
  const bytes = reportType.encode(reportType.fromObject({
    node: { id: 'client-1', worker }, windowStartUnixMs: 1_000, windowEndUnixMs: 2_000,
    routes: routes.map(([pathTemplate, tenant, requests, networkSuspectFailures]) => ({
      cluster: CLUSTER, pathTemplate, tenant, counters: { requests, errors: 0, networkSuspectFailures },
    })),
  })).finish();
  return (await unaryRaw(client, '/meshlens.v1.Telemetry/Report', bytes, plane.proxyToken)).error;
}

async function series(plane: TestPlane): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${plane.httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  // Label values may hold "}" (path templates): the value is what follows the last "} ".
  for (const m of text.matchAll(/^meshlens_cp_network_suspect_failures_total\{(.*)\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

const labels = (path: string, tenant: string) => `upstream_cluster="${CLUSTER}",destination_service="orders.shop.svc.cluster.local",` +
  `destination_service_name="orders",destination_service_namespace="shop",path="${path}",tenant="${tenant}"`;

test('counted per route and tenant across reports and VMs, the third route under ~other, rejected reports not at all', async ({ plane, client }) => {
  assert.equal(await series(plane), {}, 'no series before any excused request');
  assert.is(await report(plane, client, 'w0', [['/orders/{id}', 'acme', 10, 3], ['/orders/{id}', 'globex', 10, 0]]), null);
  assert.is(await report(plane, client, 'w1', [['/orders/{id}', 'acme', 10, 2], ['/pay/{id}', 'globex', 5, 1], ['/cart', 'initech', 8, 4]]), null);
  // networkSuspectFailures above requests: the whole report is refused
  assert.ok(await report(plane, client, 'w0', [['/orders/{id}', 'acme', 1, 2]]));
  assert.equal(await series(plane), {
    [labels('/orders/{id}', 'acme')]: 5,
    [labels('/pay/{id}', 'globex')]: 1,
    [labels('~other', '~other')]: 4,
  });
});

test.run();
