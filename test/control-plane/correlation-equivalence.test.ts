// The join (correlation.ts over the columns of correlation-windows.ts) against a reference written straight from the
// rules in correlation.ts's header, on randomised reports: several windows with phase-shifted reports, equal
// 4-tuples in several namespaces and proxies, namespaces without identity, flows without filter entry and entries
// without flow, connections idle in a window (neighbour shares), requests not split by route, repeated reports of one
// connection. Both join modes (evaluation's, without per-connection objects, and the views') must give the
// reference's route and endpoint figures; the views' per-connection detail too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CorrelationWindows, type ConnectionInput, type FlowInput } from '../../control-plane/src/correlation-windows.ts';
import { joinWindow, type WindowJoin } from '../../control-plane/src/correlation.ts';

const WINDOW_MS = 1000;
const ROUNDS = 150;

/** Deterministic: a failure names its round, which replays it. */
function random(seed: number) {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]! };
}

type FilterReport = { proxy: string; start: number; end: number; entries: ConnectionInput[] };
type KernelReport = { node: string; start: number; end: number; flows: FlowInput[]; identities: { netns: number; proxyId: string }[] };

function reports(seed: number) {
  const r = random(seed);
  const proxies = ['p1', 'p2', 'p3'].slice(0, 1 + r.int(3));
  const nodes = ['n1', 'n2'].slice(0, 1 + r.int(2));
  const locals = Array.from({ length: 1 + r.int(6) }, (_, i) => `10.0.0.${i}:${40000 + r.int(2)}`);
  const remotes = Array.from({ length: 1 + r.int(4) }, (_, i) => `10.9.0.${i}:8080`);
  // An endpoint belongs to one cluster, as Envoy's upstream hosts do.
  const clusterOf = (remote: string) => `outbound|8080||svc-${remotes.indexOf(remote) % 2}.ns.svc.cluster.local`;
  const paths = ['/a', '/b/{id}', '/c'];
  const tenants = ['acme', 'beta', 'gamma', ''];
  const netnses = [1, 2, 4026532000, 4026532001];
  const filters: FilterReport[] = [];
  const kernels: KernelReport[] = [];
  for (let op = 0, ops = 5 + r.int(30); op < ops; op++) {
    const start = r.int(6) * WINDOW_MS + r.int(400) - 200;
    const end = start + WINDOW_MS - 100 + r.int(200);
    if (r.next() < 0.5) {
      filters.push({
        proxy: r.pick(proxies), start, end, entries: Array.from({ length: r.int(5) }, () => {
          const remote = r.pick(remotes);
          const routes = Array.from({ length: r.int(4) }, () => ({ pathTemplate: r.pick(paths), tenant: r.pick(tenants), requests: r.int(6), errors: r.int(2) }));
          const split = routes.reduce((n, w) => n + w.requests, 0);
          const requests = r.next() < 0.7 ? split : split + r.int(5);
          return {
            localAddress: r.pick(locals), remoteAddress: remote, cluster: clusterOf(remote), requests, errors: Math.min(requests, r.int(3)),
            slowCalls: r.int(2), durationMsSum: r.int(500), buckets: Array.from({ length: r.int(6) }, () => r.int(5)), routes,
          };
        }),
      });
    } else {
      kernels.push({
        node: r.pick(nodes), start, end,
        flows: Array.from({ length: r.int(6) }, () => ({
          netns: r.pick(netnses), localAddress: r.pick(locals), remoteAddress: r.pick(remotes), retransSegs: r.int(4), segsOut: r.int(60),
          srttUs: r.next() < 0.2 ? 0 : r.int(900), direction: 'FLOW_DIRECTION_OUTBOUND' as const,
        })),
        identities: Array.from({ length: r.int(3) }, () => ({ netns: r.pick(netnses), proxyId: r.pick([...proxies, 'elsewhere', '']) })),
      });
    }
  }
  return { filters, kernels };
}

// --- The reference: maps over the reports as sent, nothing shared with the code under test.

const bucketOf = (start: number, end: number) => Math.floor((start + end) / 2 / WINDOW_MS);
interface RefEntry { cluster: string; remote: string; requests: number; errors: number; slowCalls: number; durationMsSum: number; buckets: number[]; routes: Map<string, { path: string; tenant: string; requests: number; errors: number }> }
interface RefFlow { node: string; netns: number; local: string; remote: string; retransSegs: number; segsOut: number; srttUs: number }
interface RefWindow { index: number; entries: Map<string, Map<string, RefEntry>>; flows: Map<string, RefFlow>; identities: Map<string, string> }

function referenceWindows(filters: FilterReport[], kernels: KernelReport[]): RefWindow[] {
  const windows = new Map<number, RefWindow>();
  const at = (start: number, end: number) => {
    const index = bucketOf(start, end);
    let w = windows.get(index);
    if (!w) windows.set(index, (w = { index, entries: new Map(), flows: new Map(), identities: new Map() }));
    return w;
  };
  // Reports in the order they are handed over below: filters, then kernels.
  for (const f of filters) {
    if (f.entries.length === 0) continue;
    const w = at(f.start, f.end);
    for (const e of f.entries) {
      const connection = `${f.proxy}\u0000${e.localAddress}|${e.remoteAddress}`;
      let byCluster = w.entries.get(connection);
      if (!byCluster) w.entries.set(connection, (byCluster = new Map()));
      let entry = byCluster.get(e.cluster);
      if (!entry) byCluster.set(e.cluster, (entry = { cluster: e.cluster, remote: e.remoteAddress, requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], routes: new Map() }));
      entry.requests += e.requests;
      entry.errors += e.errors;
      entry.slowCalls += e.slowCalls;
      entry.durationMsSum += e.durationMsSum;
      e.buckets.forEach((n, i) => { entry!.buckets[i] = (entry!.buckets[i] ?? 0) + n; });
      for (const route of e.routes) {
        const key = `${route.pathTemplate}\u0000${route.tenant}`;
        const weight = entry.routes.get(key) ?? { path: route.pathTemplate, tenant: route.tenant, requests: 0, errors: 0 };
        weight.requests += route.requests;
        weight.errors += route.errors;
        entry.routes.set(key, weight);
      }
    }
  }
  for (const k of kernels) {
    if (k.flows.length === 0 && k.identities.length === 0) continue;
    const w = at(k.start, k.end);
    for (const f of k.flows) {
      const key = `${k.node}\u0000${f.netns}\u0000${f.localAddress}|${f.remoteAddress}`;
      const flow = w.flows.get(key) ?? { node: k.node, netns: f.netns, local: f.localAddress, remote: f.remoteAddress, retransSegs: 0, segsOut: 0, srttUs: 0 };
      flow.retransSegs += f.retransSegs;
      flow.segsOut += f.segsOut;
      if (f.srttUs > 0) flow.srttUs = f.srttUs;
      w.flows.set(key, flow);
    }
    for (const i of k.identities) w.identities.set(`${k.node}\u0000${i.netns}`, i.proxyId);
  }
  return [...windows.values()].sort((a, b) => a.index - b.index);
}

/** A connection's requests by (cluster, path, tenant), with ("", "") for requests its routes leave out. */
function sharesOf(byCluster: Map<string, RefEntry>) {
  const weights: { cluster: string; path: string; tenant: string; requests: number; errors: number }[] = [];
  let requests = 0;
  let errors = 0;
  let busiest: RefEntry | undefined;
  for (const entry of byCluster.values()) {
    if (!busiest || entry.requests > busiest.requests) busiest = entry;
    requests += entry.requests;
    errors += entry.errors;
    let split = 0;
    let splitErrors = 0;
    for (const w of entry.routes.values()) {
      weights.push({ cluster: entry.cluster, ...w });
      split += w.requests;
      splitErrors += w.errors;
    }
    const rest = entry.requests - split;
    if (rest > 0) weights.push({ cluster: entry.cluster, path: '', tenant: '', requests: rest, errors: Math.min(Math.max(0, entry.errors - splitErrors), rest) });
  }
  const fraction = (w: { requests: number }) => (requests > 0 ? w.requests / requests : 1 / weights.length);
  return { cluster: busiest!.cluster, requests, errors, weights, fraction };
}

/** How often each case of the header came up, so the test shows it proves what it says. */
const seen = { windows: 0, collisions: 0, borrowed: 0, withoutEntry: 0, withoutFlow: 0, unsplit: 0, withoutIdentity: 0 };

function referenceJoin(windows: RefWindow[], position: number) {
  const w = windows[position]!;
  const endpoints = new Map<string, { requests: number; errors: number; slowCalls: number; durationMsSum: number; buckets: number[]; flows: number; covered: boolean; retransSegs: number; segsOut: number; srttSum: number; srttSegs: number; lossyRequests: number; lossyDurationMsSum: number }>();
  const endpoint = (cluster: string, remote: string) => {
    const key = `${cluster} ${remote}`;
    let e = endpoints.get(key);
    if (!e) endpoints.set(key, (e = { requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], flows: 0, covered: false, retransSegs: 0, segsOut: 0, srttSum: 0, srttSegs: 0, lossyRequests: 0, lossyDurationMsSum: 0 }));
    return e;
  };
  const routes = new Map<string, { requests: number; retransSegs: number; segsOut: number }>();
  const route = (cluster: string, path: string, tenant: string) => {
    const key = `${cluster} ${path} ${tenant}`;
    let r = routes.get(key);
    if (!r) routes.set(key, (r = { requests: 0, retransSegs: 0, segsOut: 0 }));
    return r;
  };
  const covered = new Set(w.identities.values());
  for (const [connection, byCluster] of w.entries) {
    const proxy = connection.slice(0, connection.indexOf('\u0000'));
    for (const entry of byCluster.values()) {
      const e = endpoint(entry.cluster, entry.remote);
      e.requests += entry.requests;
      e.errors += entry.errors;
      e.slowCalls += entry.slowCalls;
      e.durationMsSum += entry.durationMsSum;
      entry.buckets.forEach((n, i) => { e.buckets[i] = (e.buckets[i] ?? 0) + n; });
      if (covered.has(proxy)) e.covered = true;
    }
    for (const weight of sharesOf(byCluster).weights) route(weight.cluster, weight.path, weight.tenant).requests += weight.requests;
  }
  let flowsWithoutIdentity = 0;
  let unattributedRetransSegs = 0;
  const connections: { key: string; proxyId: string; cluster: string; requests: number; errors: number; routes: string[] }[] = [];
  for (const flow of w.flows.values()) {
    const proxyId = w.identities.get(`${flow.node}\u0000${flow.netns}`) ?? '';
    if (!proxyId) flowsWithoutIdentity++;
    const connection = `${proxyId}\u0000${flow.local}|${flow.remote}`;
    const own = proxyId ? w.entries.get(connection) : undefined;
    let found = own;
    // Nearest window that has the connection, the later one first on a tie.
    for (let d = 1; proxyId && !found && d < windows.length; d++) found = windows[position + d]?.entries.get(connection) ?? windows[position - d]?.entries.get(connection);
    const key = `${flow.node} ${flow.netns} ${flow.local}|${flow.remote}`;
    if (proxyId && !own) seen[found ? 'borrowed' : 'withoutEntry']++;
    if (!found) {
      unattributedRetransSegs += flow.retransSegs;
      connections.push({ key, proxyId, cluster: '', requests: 0, errors: 0, routes: [] });
      continue;
    }
    const shares = sharesOf(found);
    const byRoute = new Map<string, { retransSegs: number; segsOut: number; requests: number; errors: number }>();
    for (const weight of shares.weights) {
      route(weight.cluster, weight.path, weight.tenant).retransSegs += flow.retransSegs * shares.fraction(weight);
      route(weight.cluster, weight.path, weight.tenant).segsOut += flow.segsOut * shares.fraction(weight);
      const share = byRoute.get(`${weight.path} ${weight.tenant}`) ?? { retransSegs: 0, segsOut: 0, requests: 0, errors: 0 };
      share.retransSegs += flow.retransSegs * shares.fraction(weight);
      share.segsOut += flow.segsOut * shares.fraction(weight);
      if (own) {
        share.requests += weight.requests;
        share.errors += weight.errors;
      }
      byRoute.set(`${weight.path} ${weight.tenant}`, share);
    }
    connections.push({
      key, proxyId, cluster: shares.cluster, requests: own ? shares.requests : 0, errors: own ? shares.errors : 0,
      routes: [...byRoute].map(([k, s]) => `${k} ${round(s.retransSegs)} ${round(s.segsOut)} ${s.requests} ${s.errors}`).sort(),
    });
    const e = endpoint(shares.cluster, flow.remote);
    e.flows++;
    e.retransSegs += flow.retransSegs;
    e.segsOut += flow.segsOut;
    if (flow.srttUs > 0 && flow.segsOut > 0) {
      e.srttSum += flow.srttUs * flow.segsOut;
      e.srttSegs += flow.segsOut;
    }
    if (own && flow.retransSegs > 0) {
      for (const entry of own.values()) {
        e.lossyRequests += entry.requests;
        e.lossyDurationMsSum += entry.durationMsSum;
      }
    }
  }
  const joined = new Set([...w.flows.values()].map((f) => `${w.identities.get(`${f.node}\u0000${f.netns}`)}\u0000${f.local}|${f.remote}`));
  seen.withoutFlow += [...w.entries.keys()].filter((c) => !joined.has(c)).length;
  seen.unsplit += [...routes.keys()].filter((k) => k.endsWith('  ')).length;
  seen.withoutIdentity += flowsWithoutIdentity;
  return {
    endpoints: [...endpoints].map(([key, e]) => `${key} ${e.requests} ${e.errors} ${e.slowCalls} ${e.durationMsSum} [${e.buckets.join(',')}] ${e.flows} ${e.covered} ${e.retransSegs} ${e.segsOut} ${round(e.srttSegs > 0 ? e.srttSum / e.srttSegs : 0)} ${e.lossyRequests} ${e.lossyDurationMsSum}`).sort(),
    routes: [...routes].map(([key, r]) => `${key} ${r.requests} ${round(r.retransSegs)} ${round(r.segsOut)}`).sort(),
    connections: connections.map((c) => `${c.key} ${c.proxyId} ${c.cluster} ${c.requests} ${c.errors} ${c.routes.join(';')}`).sort(),
    flowsWithoutIdentity, unattributedRetransSegs,
  };
}

/** Figures compared to 1e-6: the reference sums fractional shares in another order. */
const round = (x: number) => (Math.round(x * 1e6) / 1e6).toFixed(6);

function viewOf(join: WindowJoin) {
  return {
    endpoints: join.endpoints.map((e) => `${e.cluster} ${e.endpoint} ${e.requests} ${e.errors} ${e.slowCalls} ${e.durationMsSum} [${e.buckets.join(',')}] ${e.flows} ${e.covered} ${e.retransSegs} ${e.segsOut} ${round(e.srttUs)} ${e.lossyRequests} ${e.lossyDurationMsSum}`).sort(),
    routes: join.routes.map((r) => `${r.cluster} ${r.pathTemplate} ${r.tenant} ${r.requests} ${round(r.retransSegs)} ${round(r.segsOut)}`).sort(),
    connections: join.connections.map((c) => `${c.nodeName} ${c.netns} ${c.localAddress}|${c.remoteAddress} ${c.proxyId} ${c.cluster} ${c.requests} ${c.errors} ${c.routes.map((s) => `${s.pathTemplate} ${s.tenant} ${round(s.retransSegs)} ${round(s.segsOut)} ${s.requests} ${s.errors}`).sort().join(';')}`).sort(),
    flowsWithoutIdentity: join.flowsWithoutIdentity, unattributedRetransSegs: join.unattributedRetransSegs,
  };
}

const Equivalence = suite('join against the reference');

Equivalence(`${ROUNDS} randomised rounds, every kept window, both join modes`, () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const { filters, kernels } = reports(round);
    const windows = new CorrelationWindows({ windowMs: WINDOW_MS });
    for (const f of filters) windows.addFilterReport(f.proxy, f.start, f.end, f.entries);
    for (const k of kernels) windows.addKernelReport(k.node, k.start, k.end, k.flows, k.identities);
    const reference = referenceWindows(filters, kernels);
    const list = windows.windows();
    assert.equal(list.map((w) => w.index), reference.map((w) => w.index), `round ${round}: windows`);
    for (let i = 0; i < list.length; i++) {
      const want = referenceJoin(reference, i);
      const detailed = viewOf(joinWindow(list, i, true));
      const evaluation = viewOf(joinWindow(list, i, false));
      assert.equal(detailed, want, `round ${round}, window ${i}: the views' join`);
      assert.equal({ ...evaluation, connections: [] }, { ...want, connections: [] }, `round ${round}, window ${i}: evaluation's join`);
      seen.windows++;
      // Equal 4-tuples in two namespaces of the window.
      const pairs = [...reference[i]!.flows.values()].map((f) => `${f.local}|${f.remote}`);
      seen.collisions += pairs.length - new Set(pairs).size;
    }
  }
  // The generator reaches every case the header names, or this test proves less than it says.
  for (const [name, count] of Object.entries(seen)) assert.ok(count > 10, `${name}: ${count}`);
  process.stderr.write(`cases: ${JSON.stringify(seen)}\n`);
});

Equivalence.run();
