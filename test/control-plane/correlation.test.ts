// Correlation windows and the per-window join: bucketing, the memory bound (pushed past every cap), the join on
// (netns identity, 4-tuple), and the attribution of segments to routes and tenants, with hand-derived figures.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectionRecords, CorrelationWindows, type ConnectionInput } from '../../control-plane/src/correlation-windows.ts';
import { joinWindow } from '../../control-plane/src/correlation.ts';
import { correlationDropExport, createMetrics } from '../../control-plane/src/metrics.ts';

type Entry = ConnectionInput;
const entry = (local: string, remote: string, routes: [string, string, number, number][], extra: Partial<Entry> = {}): Entry => ({
  localAddress: local, remoteAddress: remote, cluster: 'outbound|8080||orders.shop.svc.cluster.local',
  requests: routes.reduce((n, r) => n + r[2], 0), errors: routes.reduce((n, r) => n + r[3], 0), slowCalls: 0, durationMsSum: 0, buckets: [],
  routes: routes.map(([pathTemplate, tenant, requests, errors]) => ({ pathTemplate, tenant, requests, errors })), ...extra,
});
const flow = (netns: number, local: string, remote: string, retransSegs: number, segsOut: number, srttUs = 0) =>
  ({ netns, localAddress: local, remoteAddress: remote, retransSegs, segsOut, srttUs, direction: 'FLOW_DIRECTION_OUTBOUND' as const });
const joinAll = (windows: CorrelationWindows) => {
  const list = windows.windows();
  return list.map((_, i) => joinWindow(list, i));
};

const Windows = suite('correlation windows');

Windows('reports go to the window of their midpoint, so phase-shifted filter and kernel intervals meet', () => {
  const windows = new CorrelationWindows({ windowMs: 1000 });
  windows.addFilterReport('p', 10_050, 11_050, [entry('l:1', 'r:1', [['/a', 't', 10, 0]])]);     // midpoint 10,550
  windows.addKernelReport('node', 9_900, 10_900, [flow(7, 'l:1', 'r:1', 1, 10)], [{ netns: 7, proxyId: 'p' }]); // midpoint 10,400
  assert.is(windows.size, 1);
  const [window] = windows.windows();
  assert.equal([window!.startMs, window!.endMs], [10_000, 11_000]);
  assert.is(joinAll(windows)[0]!.connections[0]!.requests, 10);
});

Windows('memory bound: windows, flows, connection entries, identities and followed sources beyond their caps are dropped and counted', async () => {
  const windows = new CorrelationWindows({ windowMs: 1000, maxWindows: 3, maxFlowsPerWindow: 5, maxConnectionsPerWindow: 4, maxIdentitiesPerWindow: 20, maxSources: 2 });
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const exportDropped = correlationDropExport(metrics.correlationDropped, windows.dropped);
  for (let w = 0; w < 10; w++) {
    const at = w * 1000;
    windows.addFilterReport('p', at, at + 1000, Array.from({ length: 6 }, (_, i) => entry(`l:${i}`, 'r:1', [['/a', 't', 1, 0]])));
    windows.addKernelReport('node', at, at + 1000, Array.from({ length: 8 }, (_, i) => flow(7, `l:${i}`, 'r:1', 0, 1)),
      [{ netns: 7, proxyId: 'p' }, ...Array.from({ length: 50 }, (_, i) => ({ netns: 1000 + i, proxyId: `x${i}` }))]);
  }
  assert.is(windows.size, 3, 'only the 3 most recent windows are kept');
  assert.equal(windows.windows().map((w) => w.index), [7, 8, 9]);
  for (const w of windows.windows()) {
    assert.is(w.flows.count, 5);
    assert.is(w.records.count, 4);
    assert.is(w.identities.size, 20);
  }
  assert.equal(windows.dropped, { flows: 10 * 3, connections: 10 * 2, identities: 10 * 31, lateReports: 0, sources: 0, routes: 0 });
  windows.addFilterReport('p', 0, 1000, [entry('l:0', 'r:1', [['/a', 't', 1, 0]])]);
  assert.is(windows.dropped.lateReports, 1, 'a report older than every kept window is dropped whole');
  // A third reporter is not followed for early closing ('p' and 'node' are the two followed).
  windows.addFilterReport('q', 9000, 10_000, []);
  assert.is(windows.dropped.sources, 1);
  exportDropped();
  const exported = Object.fromEntries((await metrics.correlationDropped.get()).values.map((v) => [v.labels.kind, v.value]));
  assert.equal(exported, { flows: 30, connections: 20, late_reports: 1, identities: 310, untracked_sources: 1 });
  assert.is(windows.size, 3);
  // Reports for an existing window still add up when its caps are reached for new keys.
  windows.addFilterReport('p', 9000, 10_000, [entry('l:0', 'r:1', [['/a', 't', 5, 0]])]);
  assert.is(connectionRecords(windows.windows()[2]!).find((c) => c.localAddress === 'l:0')!.requests, 6);
});

Windows('memory bound: entries dropped at a cap leave no name behind, route names are capped, columns stay within their caps', async () => {
  const windows = new CorrelationWindows({ maxFlowsPerWindow: 100, maxConnectionsPerWindow: 100, maxRoutesPerWindow: 50 });
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const exportDropped = correlationDropExport(metrics.correlationDropped, windows.dropped);
  // 1,000 entries from 1,000 proxies on 1,000 address pairs to 1,000 endpoints of 1,000 clusters, 3 new route names each.
  windows.addFilterReport('p', 0, 1000, Array.from({ length: 1000 }, (_, i) => entry(`l:${i}`, `r:${i}`,
    [[`/a${i}`, 't', 1, 0], [`/b${i}`, 't', 1, 0], [`/c${i}`, 't', 1, 0]], { cluster: `c${i}` })));
  for (let i = 0; i < 1000; i++) windows.addFilterReport(`proxy-${i}`, 0, 1000, [entry(`l:${i}`, 'r:0', [['/a0', 't', 1, 0]], { cluster: 'c0' })]);
  windows.addKernelReport('node', 0, 1000, Array.from({ length: 1000 }, (_, i) => flow(i, `k:${i}`, `r:${i}`, 1, 1)), []);
  const [w] = windows.windows();
  assert.equal([w!.records.count, w!.flows.count], [100, 100]);
  assert.equal(windows.dropped, { flows: 900, connections: 1900, identities: 0, lateReports: 0, sources: 0, routes: 100 * 3 - 50 });
  // As Prometheus reads them, the route names past the cap too (their requests are kept, under "~other").
  exportDropped();
  const exported = Object.fromEntries((await metrics.correlationDropped.get()).values.map((v) => [v.labels.kind, v.value]));
  assert.equal(exported, { flows: 900, connections: 1900, routes: 100 * 3 - 50 });
  exportDropped();
  assert.is((await metrics.correlationDropped.get()).values.find((v) => v.labels.kind === 'routes')!.value, 250, 'each drop counted once');
  assert.ok(w!.proxies.names.length <= 100 && w!.clusters.names.length <= 100 && w!.endpointCluster.length <= 100, 'names of kept entries only');
  assert.ok(w!.namespaces.names.length <= 100 && w!.addresses.names.length <= 200, 'namespaces and address pairs of kept entries and flows only');
  // 50 names (the first 16 entries' 48 and 2 of the 17th), then one "~other" for each cluster of entries 17 to 100.
  assert.is(w!.routes.size, 50 + (100 - 16));
  const other = connectionRecords(w!).at(-1)!;
  assert.equal(other.routes.map((r) => [r.pathTemplate, r.tenant, r.requests]), [['~other', '~other', 3]]);
  for (const table of [w!.flows, w!.connections, w!.records]) assert.ok(table.capacity <= 100, `capacity ${table.capacity}`);
  assert.ok(w!.weights.capacity <= 100 * 16 && w!.addressFirst.capacity <= 200);
});

Windows('memory bound: kept windows full in the worst shape take what correlation-windows.ts states', () => {
  // At a tenth of the default caps (memory grows linearly with them): every flow in its own namespace on its own
  // address pair, every entry of its own cluster and endpoint with 16 weights of new route names up to the cap.
  const caps = 2000;
  const windows = new CorrelationWindows({ maxFlowsPerWindow: caps, maxConnectionsPerWindow: caps, maxRoutesPerWindow: caps / 2 });
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage();
  for (let w = 0; w < windows.maxWindows; w++) {
    windows.addFilterReport('p', w * 1000, w * 1000 + 1000, Array.from({ length: caps }, (_, i) => entry(`10.1.${i >> 8}.${i & 255}:${w}`, `10.2.${i >> 8}.${i & 255}:8080`,
      Array.from({ length: 16 }, (_, k) => [`/api/v1/resource-${w}-${i}-${k}/{id}`, `tenant-${w}-${i}-${k}`, 3, 0] as [string, string, number, number]),
      { cluster: `outbound|8080||svc-${i}.ns.svc.cluster.local`, buckets: Array(20).fill(1) })));
    windows.addKernelReport('node', w * 1000, w * 1000 + 1000, Array.from({ length: caps }, (_, i) => flow(4026532000 + i, `10.3.${i >> 8}.${i & 255}:${w}`, `10.4.${i >> 8}.${i & 255}:1`, 1, 40)), []);
  }
  gc();
  const after = process.memoryUsage();
  const perWindowMb = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / windows.maxWindows / 1e6;
  // Stated: ≤ ~55 MB per window at the defaults, so ~5.5 MB here (4 to 5 measured; the object layout before took ~20).
  assert.ok(perWindowMb < 5.5 * 1.3, `${perWindowMb.toFixed(2)} MB per window`);
  assert.is(windows.size, windows.maxWindows);
});

Windows('route weights of one connection are capped at 16, the rest summed under ~other', () => {
  const windows = new CorrelationWindows();
  windows.addFilterReport('p', 0, 1000, [entry('l:1', 'r:1', Array.from({ length: 16 }, (_, i) => [`/p${i}`, 't', 1, 0] as [string, string, number, number]))]);
  windows.addFilterReport('p', 0, 1000, [entry('l:1', 'r:1', [['/p0', 't', 2, 0], ['/new', 't', 3, 1]])]);
  const [record] = connectionRecords(windows.windows()[0]!);
  assert.is(record!.routes.length, 16);
  assert.is(record!.routes[0]!.requests, 3);
  assert.equal(record!.routes[15], {
    pathTemplate: '~other', tenant: '~other', requests: 1 + 3, errors: 1, cluster: 'outbound|8080||orders.shop.svc.cluster.local',
    routeId: 16, // the window's 17th (cluster, path, tenant): the 16 kept, then ~other
  });
  assert.is(record!.requests, 16 + 5);
});

const Join = suite('per-window join');

Join('equal 4-tuples in two namespaces join their own proxy; an unknown namespace joins nothing', () => {
  const windows = new CorrelationWindows();
  windows.addFilterReport('pod-a', 0, 1000, [entry('10.0.0.1:40000', '10.0.0.2:8080', [['/a', 'acme', 30, 3]])]);
  windows.addFilterReport('pod-b', 0, 1000, [entry('10.0.0.1:40000', '10.0.0.2:8080', [['/b', 'beta', 10, 0]])]);
  windows.addKernelReport('node', 0, 1000, [
    flow(101, '10.0.0.1:40000', '10.0.0.2:8080', 6, 200, 300),
    flow(102, '10.0.0.1:40000', '10.0.0.2:8080', 0, 50, 100),
    flow(103, '10.0.0.1:40000', '10.0.0.2:8080', 9, 90),
  ], [{ netns: 101, proxyId: 'pod-a' }, { netns: 102, proxyId: 'pod-b' }]);
  const [join] = joinAll(windows);
  const byNetns = new Map(join!.connections.map((c) => [c.netns, c]));
  assert.equal([byNetns.get(101)!.proxyId, byNetns.get(101)!.requests, byNetns.get(101)!.routes.map((r) => r.tenant)], ['pod-a', 30, ['acme']]);
  assert.equal([byNetns.get(102)!.proxyId, byNetns.get(102)!.requests, byNetns.get(102)!.routes.map((r) => r.tenant)], ['pod-b', 10, ['beta']]);
  assert.equal([byNetns.get(103)!.proxyId, byNetns.get(103)!.requests, byNetns.get(103)!.cluster], ['', 0, '']);
  assert.is(join!.flowsWithoutIdentity, 1);
  assert.is(join!.unattributedRetransSegs, 9);
  const [endpoint] = join!.endpoints;
  // Both pods' requests count for the endpoint; its kernel figures are the two joined flows: 6 / (200 + 50).
  assert.equal([endpoint!.requests, endpoint!.errors, endpoint!.flows, endpoint!.retransSegs, endpoint!.segsOut], [40, 3, 2, 6, 250]);
  assert.is(endpoint!.srttUs, (300 * 200 + 100 * 50) / 250, 'sent-segment weighted smoothed RTT');
});

Join('an endpoint used by a proxy whose namespace an agent covered has kernel evidence without any flow', () => {
  const windows = new CorrelationWindows();
  windows.addFilterReport('covered', 0, 1000, [entry('l:1', 'r:1', [['/a', 't', 10, 0]])]);
  windows.addFilterReport('elsewhere', 0, 1000, [entry('l:2', 'r:2', [['/a', 't', 10, 0]])]);
  windows.addKernelReport('node', 0, 1000, [], [{ netns: 5, proxyId: 'covered' }]);
  const [join] = joinAll(windows);
  const byEndpoint = Object.fromEntries(join!.endpoints.map((e) => [e.endpoint, [e.flows, e.covered]]));
  assert.equal(byEndpoint, { 'r:1': [0, true], 'r:2': [0, false] });
});

Join('segments split in proportion to requests; a connection idle in its window borrows the nearest window\'s shares', () => {
  const windows = new CorrelationWindows();
  // Window 0: 60 /orders acme, 20 /orders beta, 20 /pay acme on one connection (HTTP/2 streams count the same).
  windows.addFilterReport('p', 0, 1000, [entry('l:1', 'r:1', [['/orders', 'acme', 60, 0], ['/orders', 'beta', 20, 0], ['/pay', 'acme', 20, 1]])]);
  windows.addKernelReport('n', 0, 1000, [flow(1, 'l:1', 'r:1', 10, 400)], [{ netns: 1, proxyId: 'p' }]);
  // Window 1: the connection retransmits but completes no request (they finish in window 2, all /pay beta).
  windows.addKernelReport('n', 1000, 2000, [flow(1, 'l:1', 'r:1', 4, 8)], [{ netns: 1, proxyId: 'p' }]);
  windows.addFilterReport('p', 2000, 3000, [entry('l:1', 'r:1', [['/pay', 'beta', 5, 0]])]);
  windows.addKernelReport('n', 2000, 3000, [flow(1, 'l:1', 'r:1', 0, 10)], [{ netns: 1, proxyId: 'p' }]);
  const [w0, w1] = joinAll(windows);
  const shares = Object.fromEntries(w0!.connections[0]!.routes.map((r) => [`${r.pathTemplate} ${r.tenant}`, [r.retransSegs, r.segsOut]]));
  assert.equal(shares, { '/orders acme': [6, 240], '/orders beta': [2, 80], '/pay acme': [2, 80] });
  const routes = Object.fromEntries(w0!.routes.map((r) => [`${r.pathTemplate} ${r.tenant}`, [r.requests, r.retransSegs]]));
  assert.equal(routes, { '/orders acme': [60, 6], '/orders beta': [20, 2], '/pay acme': [20, 2] });
  const idle = w1!.connections[0]!;
  assert.equal([idle.requests, idle.cluster, idle.routes.map((r) => [r.pathTemplate, r.tenant, r.retransSegs, r.requests])],
    [0, 'outbound|8080||orders.shop.svc.cluster.local', [['/pay', 'beta', 4, 0]]], 'the later window wins a tie: slowed requests complete later');
  assert.equal(w1!.routes.map((r) => [r.pathTemplate, r.tenant, r.requests, r.retransSegs]), [['/pay', 'beta', 0, 4]]);
  assert.is(w1!.endpoints[0]!.retransSegs, 4, 'the endpoint still gets the idle connection\'s retransmits');
});

Join('requests a filter did not split by route are attributed to ("", "")', () => {
  const windows = new CorrelationWindows();
  windows.addFilterReport('p', 0, 1000, [entry('l:1', 'r:1', [['/a', 't', 3, 0]], { requests: 4, errors: 1 })]);
  windows.addKernelReport('n', 0, 1000, [flow(1, 'l:1', 'r:1', 8, 80)], [{ netns: 1, proxyId: 'p' }]);
  const [join] = joinAll(windows);
  assert.equal(join!.connections[0]!.routes.map((r) => [r.pathTemplate, r.requests, r.errors, r.retransSegs]), [['/a', 3, 0, 6], ['', 1, 1, 2]]);
});

Windows.run();
Join.run();
