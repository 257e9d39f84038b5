// The join of one report window (correlation-windows.ts): kernel flows × filter connection entries, on
// (proxy identity of the flow's netns, local ip:port, remote ip:port). The netns → proxy identity comes from the node
// agent, so two pods on one node using equal addresses never join each other's requests. Pure: no clock, no I/O.
//
// Attribution. A connection's retransmitted and sent segments in the window are split between the (cluster, path
// template, tenant) that used it in proportion to their requests on it. On HTTP/2 many streams share one connection
// and the kernel cannot tell which stream a lost segment belonged to (Fastly says as much of its per-request
// tcpi_delta_retrans), so the same proportional split is applied: each stream that completed on the connection in the
// window is one request. When the connection completed no request in this window (a request slowed by loss often
// completes in the next one), the shares of the nearest kept window in which it did are used; without any, the
// segments stay unattributed (counted in `unattributedRetransSegs`).
import type { FlowDirection__Output } from './generated/meshlens/v1/FlowDirection.ts';
import {
  routeKey, type ConnectionRecord, type KeyedRouteWeight, type KernelFlowRecord, type ReportWindow,
} from './correlation-windows.ts';

export interface RouteShare {
  pathTemplate: string;
  tenant: string;
  requests: number;
  errors: number;
  retransSegs: number;         // attributed share (fractional)
  segsOut: number;
}

export interface JoinedConnection {
  nodeName: string;
  netns: number;
  proxyId: string;             // "" when the agent did not know the proxy living in the netns
  localAddress: string;
  remoteAddress: string;
  cluster: string;             // "" when no filter reported the connection in any kept window
  retransSegs: number;
  segsOut: number;
  srttUs: number;
  direction: FlowDirection__Output;
  requests: number;            // in this window
  errors: number;
  routes: RouteShare[];
}

export interface RouteAttribution {
  cluster: string;
  pathTemplate: string;
  tenant: string;
  requests: number;
  retransSegs: number;
  segsOut: number;
}

/** Per upstream endpoint (cluster, remote ip:port) over one window. */
export interface EndpointWindow {
  cluster: string;
  endpoint: string;
  requests: number;
  errors: number;
  slowCalls: number;
  durationMsSum: number;
  buckets: number[];
  flows: number;               // kernel flows joined to this endpoint
  covered: boolean;            // an agent covered the namespace of a proxy that used the endpoint in the window
  retransSegs: number;
  segsOut: number;
  srttUs: number;              // segs_out-weighted mean of the flows' smoothed RTT; 0 when unknown
}

export interface WindowJoin {
  index: number;
  startMs: number;
  endMs: number;
  connections: JoinedConnection[];
  routes: RouteAttribution[];
  endpoints: EndpointWindow[];
  flowsWithoutIdentity: number;
  unattributedRetransSegs: number;
}

/** A connection's entries in one window, with what the join needs precomputed once per window. */
export interface IndexedConnection {
  records: ConnectionRecord[];
  cluster: string;             // the busiest record's: entries of one connection in two clusters would be a filter bug
  requests: number;
  errors: number;
  weights: KeyedRouteWeight[];
}

/** proxy id → "local|remote" → the connection's entries. */
export type ConnectionIndex = Map<string, Map<string, IndexedConnection>>;

const indexCache = new WeakMap<ReportWindow, { version: number; index: ConnectionIndex }>();

/** Connection entries of a window grouped by (proxy, local, remote); cached until the window changes. */
export function connectionIndex(window: ReportWindow): ConnectionIndex {
  const cached = indexCache.get(window);
  if (cached && cached.version === window.version) return cached.index;
  const index: ConnectionIndex = new Map();
  const busiest = new Map<IndexedConnection, number>();
  for (const record of window.connections.values()) {
    let byAddress = index.get(record.proxyId);
    if (!byAddress) index.set(record.proxyId, (byAddress = new Map()));
    let entry = byAddress.get(record.addressKey);
    if (!entry) byAddress.set(record.addressKey, (entry = { records: [], cluster: record.cluster, requests: 0, errors: 0, weights: [] }));
    if (record.requests > (busiest.get(entry) ?? -1)) {
      entry.cluster = record.cluster;
      busiest.set(entry, record.requests);
    }
    entry.records.push(record);
    entry.requests += record.requests;
    entry.errors += record.errors;
    for (const w of weightsOf(record)) entry.weights.push(w);
  }
  indexCache.set(window, { version: window.version, index });
  return index;
}

/**
 * Joins window `position` of `windows` (oldest first, as CorrelationWindows.windows() returns them). Neighbour
 * windows are indexed only when a flow needs their shares.
 */
export function joinWindow(windows: readonly ReportWindow[], position: number, withConnections = true): WindowJoin {
  const window = windows[position]!;
  const own = connectionIndex(window);
  const connections: JoinedConnection[] = [];
  const routes = new Map<string, RouteAttribution>();
  const endpoints = new Map<string, EndpointWindow>();
  let flowsWithoutIdentity = 0;
  let unattributedRetransSegs = 0;

  const endpointOf = (cluster: string, endpoint: string): EndpointWindow => {
    const key = `${cluster}\u0000${endpoint}`;
    let stats = endpoints.get(key);
    if (!stats) {
      stats = { cluster, endpoint, requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], flows: 0, covered: false, retransSegs: 0, segsOut: 0, srttUs: 0 };
      endpoints.set(key, stats);
    }
    return stats;
  };
  const route = (key: string, cluster: string, pathTemplate: string, tenant: string): RouteAttribution => {
    let entry = routes.get(key);
    if (!entry) routes.set(key, (entry = { cluster, pathTemplate, tenant, requests: 0, retransSegs: 0, segsOut: 0 }));
    return entry;
  };

  // Outcomes: every entry of the window counts for its endpoint and route, joined to a kernel flow or not. A proxy
  // whose namespace an agent covered and that has no flow on a connection had no retransmit on it: kernel evidence.
  const covered = new Set(window.identities.values());
  for (const connection of [...own.values()].flatMap((byAddress) => [...byAddress.values()])) {
    for (const record of connection.records) {
      const stats = endpointOf(record.cluster, record.remoteAddress);
      if (covered.has(record.proxyId)) stats.covered = true;
      stats.requests += record.requests;
      stats.errors += record.errors;
      stats.slowCalls += record.slowCalls;
      stats.durationMsSum += record.durationMsSum;
      for (let i = 0; i < record.buckets.length; i++) stats.buckets[i] = (stats.buckets[i] ?? 0) + record.buckets[i]!;
    }
    for (const weight of connection.weights) route(weight.routeKey, connection.cluster, weight.pathTemplate, weight.tenant).requests += weight.requests;
  }

  const srttWeight = new Map<EndpointWindow, number>();
  const routeKeys: string[] = [];
  const proxies = proxiesByNode(window);
  for (const flow of window.flows.values()) {
    const proxyId = proxies.get(flow.nodeName)?.get(flow.netns) ?? '';
    if (!proxyId) flowsWithoutIdentity++;
    const current = proxyId ? own.get(proxyId)?.get(flow.addressKey) : undefined;
    const shares = current ?? (proxyId ? nearestShares(windows, position, proxyId, flow.addressKey) : undefined);
    if (withConnections) {
      routeKeys.length = 0;
      const joined = toJoined(flow, proxyId, current, shares, routeKeys);
      connections.push(joined);
      if (shares) {
        for (let i = 0; i < joined.routes.length; i++) {
          const share = joined.routes[i]!;
          const entry = route(routeKeys[i]!, joined.cluster, share.pathTemplate, share.tenant);
          entry.retransSegs += share.retransSegs;
          entry.segsOut += share.segsOut;
        }
      }
    } else if (shares) {
      // The same split as toJoined's, straight into the route totals (evaluation needs no per-connection objects).
      const n = shares.weights.length;
      for (const weight of shares.weights) {
        const fraction = shares.requests > 0 ? weight.requests / shares.requests : 1 / n;
        const entry = route(weight.routeKey, shares.cluster, weight.pathTemplate, weight.tenant);
        entry.retransSegs += flow.retransSegs * fraction;
        entry.segsOut += flow.segsOut * fraction;
      }
    }
    if (!shares) {
      unattributedRetransSegs += flow.retransSegs;
      continue;
    }
    const stats = endpointOf(shares.cluster, flow.remoteAddress);
    stats.flows++;
    stats.retransSegs += flow.retransSegs;
    stats.segsOut += flow.segsOut;
    if (flow.srttUs > 0 && flow.segsOut > 0) {
      const weight = srttWeight.get(stats) ?? 0;
      stats.srttUs = (stats.srttUs * weight + flow.srttUs * flow.segsOut) / (weight + flow.segsOut);
      srttWeight.set(stats, weight + flow.segsOut);
    }
  }

  connections.sort((a, b) => b.retransSegs - a.retransSegs || b.segsOut - a.segsOut);
  return {
    index: window.index, startMs: window.startMs, endMs: window.endMs, connections,
    routes: [...routes.values()], endpoints: [...endpoints.values()], flowsWithoutIdentity, unattributedRetransSegs,
  };
}

/** The window's identities as node → netns → proxy, so a flow's lookup builds no key string. */
function proxiesByNode(window: ReportWindow): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const [key, proxyId] of window.identities) {
    const cut = key.lastIndexOf('\u0000');
    const node = key.slice(0, cut);
    let byNetns = out.get(node);
    if (!byNetns) out.set(node, (byNetns = new Map()));
    byNetns.set(Number(key.slice(cut + 1)), proxyId);
  }
  return out;
}

/** The connection's entries in the closest kept window (later first on a tie: a slowed request completes later). */
function nearestShares(windows: readonly ReportWindow[], position: number, proxyId: string, addressKey: string): IndexedConnection | undefined {
  for (let distance = 1; distance < windows.length; distance++) {
    for (const neighbour of [windows[position + distance], windows[position - distance]]) {
      const found = neighbour && connectionIndex(neighbour).get(proxyId)?.get(addressKey);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * A record's requests by (path template, tenant). A filter that does not report them, or reports fewer requests
 * in them than in its totals, leaves the rest under ("", ""), so the weights always add up to the record's requests.
 */
function weightsOf(record: ConnectionRecord): KeyedRouteWeight[] {
  let reported = 0;
  let reportedErrors = 0;
  for (const r of record.routes) {
    reported += r.requests;
    reportedErrors += r.errors;
  }
  if (reported >= record.requests) return record.routes;
  const errors = Math.max(0, record.errors - reportedErrors);
  return [...record.routes, {
    pathTemplate: '', tenant: '', requests: record.requests - reported, errors: Math.min(errors, record.requests - reported),
    routeKey: routeKey(record.cluster, '', ''),
  }];
}

/** The joined connection; `routeKeys` receives the route key of each of its route shares, in order. */
function toJoined(flow: KernelFlowRecord, proxyId: string, current: IndexedConnection | undefined, shares: IndexedConnection | undefined,
  routeKeys: string[]): JoinedConnection {
  const routes: RouteShare[] = [];
  if (shares) {
    const total = shares.requests;
    const n = shares.weights.length;
    // One record per connection (the usual case) has distinct (path, tenant) weights; several records may repeat one.
    const distinct = shares.records.length === 1;
    const byRoute = distinct ? undefined : new Map<string, RouteShare>();
    for (const weight of shares.weights) {
      const fraction = total > 0 ? weight.requests / total : 1 / n;
      let share = byRoute?.get(`${weight.pathTemplate}\u0000${weight.tenant}`);
      if (!share) {
        share = { pathTemplate: weight.pathTemplate, tenant: weight.tenant, requests: 0, errors: 0, retransSegs: 0, segsOut: 0 };
        routes.push(share);
        routeKeys.push(weight.routeKey);
        byRoute?.set(`${weight.pathTemplate}\u0000${weight.tenant}`, share);
      }
      share.retransSegs += flow.retransSegs * fraction;
      share.segsOut += flow.segsOut * fraction;
      // Requests and errors shown are this window's own (a share borrowed from a neighbour carries no requests).
      if (current === shares) {
        share.requests += weight.requests;
        share.errors += weight.errors;
      }
    }
  }
  return {
    nodeName: flow.nodeName, netns: flow.netns, proxyId, localAddress: flow.localAddress, remoteAddress: flow.remoteAddress,
    cluster: shares?.cluster ?? '', retransSegs: flow.retransSegs, segsOut: flow.segsOut, srttUs: flow.srttUs, direction: flow.direction,
    requests: current?.requests ?? 0, errors: current?.errors ?? 0, routes,
  };
}
