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
  connectionKey, identityKey, type ConnectionRecord, type KernelFlowRecord, type ReportWindow, type RouteWeight,
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

type Shares = ConnectionRecord[];

/** Connection entries of a window grouped by (proxy, local, remote). */
export function connectionIndex(window: ReportWindow): Map<string, Shares> {
  const index = new Map<string, Shares>();
  for (const record of window.connections.values()) {
    const key = connectionKey(record.proxyId, record.localAddress, record.remoteAddress);
    let list = index.get(key);
    if (!list) index.set(key, (list = []));
    list.push(record);
  }
  return index;
}

const sum = (records: Shares, pick: (r: ConnectionRecord) => number) => records.reduce((total, r) => total + pick(r), 0);

/**
 * Joins window `position` of `windows` (oldest first, as CorrelationWindows.windows() returns them). `indexes` are
 * connectionIndex() of each window, passed in so evaluating consecutive windows builds each index once.
 */
export function joinWindow(windows: readonly ReportWindow[], indexes: readonly Map<string, Shares>[], position: number): WindowJoin {
  const window = windows[position]!;
  const own = indexes[position]!;
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
  const route = (cluster: string, pathTemplate: string, tenant: string): RouteAttribution => {
    const key = `${cluster}\u0000${pathTemplate}\u0000${tenant}`;
    let entry = routes.get(key);
    if (!entry) routes.set(key, (entry = { cluster, pathTemplate, tenant, requests: 0, retransSegs: 0, segsOut: 0 }));
    return entry;
  };

  // Outcomes: every entry of the window counts for its endpoint and route, joined to a kernel flow or not. A proxy
  // whose namespace an agent covered and that has no flow on a connection had no retransmit on it: kernel evidence.
  const covered = new Set(window.identities.values());
  for (const record of window.connections.values()) {
    const stats = endpointOf(record.cluster, record.remoteAddress);
    if (covered.has(record.proxyId)) stats.covered = true;
    stats.requests += record.requests;
    stats.errors += record.errors;
    stats.slowCalls += record.slowCalls;
    stats.durationMsSum += record.durationMsSum;
    record.buckets.forEach((count, i) => { stats.buckets[i] = (stats.buckets[i] ?? 0) + count; });
    for (const weight of weightsOf(record)) route(record.cluster, weight.pathTemplate, weight.tenant).requests += weight.requests;
  }

  const srttWeight = new Map<EndpointWindow, number>();
  for (const flow of window.flows.values()) {
    const proxyId = window.identities.get(identityKey(flow.nodeName, flow.netns)) ?? '';
    if (!proxyId) flowsWithoutIdentity++;
    const key = connectionKey(proxyId, flow.localAddress, flow.remoteAddress);
    const current = proxyId ? own.get(key) : undefined;
    const shares = current ?? (proxyId ? nearestShares(indexes, position, key) : undefined);
    const joined = toJoined(flow, proxyId, current ?? [], shares);
    connections.push(joined);
    if (!shares) {
      unattributedRetransSegs += flow.retransSegs;
      continue;
    }
    const stats = endpointOf(joined.cluster, flow.remoteAddress);
    stats.flows++;
    stats.retransSegs += flow.retransSegs;
    stats.segsOut += flow.segsOut;
    if (flow.srttUs > 0 && flow.segsOut > 0) {
      const weight = srttWeight.get(stats) ?? 0;
      stats.srttUs = (stats.srttUs * weight + flow.srttUs * flow.segsOut) / (weight + flow.segsOut);
      srttWeight.set(stats, weight + flow.segsOut);
    }
    for (const share of joined.routes) {
      const entry = route(joined.cluster, share.pathTemplate, share.tenant);
      entry.retransSegs += share.retransSegs;
      entry.segsOut += share.segsOut;
    }
  }

  connections.sort((a, b) => b.retransSegs - a.retransSegs || b.segsOut - a.segsOut);
  return {
    index: window.index, startMs: window.startMs, endMs: window.endMs, connections,
    routes: [...routes.values()], endpoints: [...endpoints.values()], flowsWithoutIdentity, unattributedRetransSegs,
  };
}

/** The connection's entries in the closest kept window (later first on a tie: a slowed request completes later). */
function nearestShares(indexes: readonly Map<string, Shares>[], position: number, key: string): Shares | undefined {
  for (let distance = 1; distance < indexes.length; distance++) {
    const later = indexes[position + distance]?.get(key);
    if (later) return later;
    const earlier = indexes[position - distance]?.get(key);
    if (earlier) return earlier;
  }
  return undefined;
}

/**
 * A record's requests by (path template, tenant). A filter that does not report them, or reports fewer requests
 * in them than in its totals, leaves the rest under ("", ""), so the weights always add up to the record's requests.
 */
function weightsOf(record: ConnectionRecord): RouteWeight[] {
  const reported = record.routes.reduce((total, r) => total + r.requests, 0);
  if (reported >= record.requests) return record.routes;
  const errors = Math.max(0, record.errors - record.routes.reduce((total, r) => total + r.errors, 0));
  return [...record.routes, { pathTemplate: '', tenant: '', requests: record.requests - reported, errors: Math.min(errors, record.requests - reported) }];
}

function toJoined(flow: KernelFlowRecord, proxyId: string, current: Shares, shares: Shares | undefined): JoinedConnection {
  const weights = shares ?? [];
  const total = sum(weights, (r) => r.requests);
  // Entries of one (proxy, connection) in different clusters would be a filter bug; the busiest names the endpoint.
  const cluster = weights.reduce<ConnectionRecord | undefined>((best, r) => (!best || r.requests > best.requests ? r : best), undefined)?.cluster ?? '';
  const byRoute = new Map<string, RouteShare>();
  const routeWeights = weights.flatMap(weightsOf);
  for (const weight of routeWeights) {
    const key = `${weight.pathTemplate}\u0000${weight.tenant}`;
    let share = byRoute.get(key);
    if (!share) byRoute.set(key, (share = { pathTemplate: weight.pathTemplate, tenant: weight.tenant, requests: 0, errors: 0, retransSegs: 0, segsOut: 0 }));
    const fraction = total > 0 ? weight.requests / total : 1 / routeWeights.length;
    share.retransSegs += flow.retransSegs * fraction;
    share.segsOut += flow.segsOut * fraction;
  }
  // Requests and errors shown are this window's own (a share borrowed from a neighbour carries no requests).
  for (const weight of current.flatMap(weightsOf)) {
    const share = byRoute.get(`${weight.pathTemplate}\u0000${weight.tenant}`)!;
    share.requests += weight.requests;
    share.errors += weight.errors;
  }
  return {
    nodeName: flow.nodeName, netns: flow.netns, proxyId, localAddress: flow.localAddress, remoteAddress: flow.remoteAddress,
    cluster, retransSegs: flow.retransSegs, segsOut: flow.segsOut, srttUs: flow.srttUs, direction: flow.direction,
    requests: sum(current, (r) => r.requests), errors: sum(current, (r) => r.errors), routes: [...byRoute.values()],
  };
}
