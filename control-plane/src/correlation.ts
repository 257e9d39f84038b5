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
  routeKey, routeNumber, type ConnectionIndex, type ConnectionRecord, type IndexedConnection, type KeyedRouteWeight, type KernelFlowRecord,
  type ReportWindow,
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
  // Requests completed in the window on connections whose flow retransmitted in it, and their summed duration: a lost
  // segment of a request/response exchange stalls it for a retransmission timeout, so loss that hurts requests shows
  // here first, undiluted by the endpoint's other connections.
  lossyRequests: number;
  lossyDurationMsSum: number;
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

/** A connection's entries summed for attribution (its requests by route), as a neighbour window's share needs them. */
export interface ConnectionShares {
  records: ConnectionRecord[];
  cluster: string;             // the busiest record's: entries of one connection in two clusters would be a filter bug
  requests: number;
  errors: number;
  weights: KeyedRouteWeight[];
}

/** A window's connections grouped by (proxy, local|remote), kept up to date at ingest (correlation-windows.ts). */
export function connectionIndex(window: ReportWindow): ConnectionIndex {
  return window.byProxy;
}

export function sharesOf(connection: IndexedConnection): ConnectionShares {
  const records = connection.records;
  if (records.length === 1) {
    const record = records[0]!;
    return { records, cluster: record.cluster, requests: record.requests, errors: record.errors, weights: weightsOf(record) };
  }
  const shares: ConnectionShares = { records, cluster: records[0]!.cluster, requests: 0, errors: 0, weights: [] };
  let busiest = -1;
  for (const record of records) {
    if (record.requests > busiest) {
      shares.cluster = record.cluster;
      busiest = record.requests;
    }
    shares.requests += record.requests;
    shares.errors += record.errors;
    for (const w of weightsOf(record)) shares.weights.push(w);
  }
  return shares;
}

/**
 * Joins window `position` of `windows` (oldest first, as CorrelationWindows.windows() returns them). Neighbour
 * windows are looked into only when a flow's connection completed no request in this one.
 *
 * Cost: the join runs once per window over every flow (10,000 flows × 1,000 routes in bench:correlation), so the
 * window's own connections are visited once, in the outcome pass, which leaves per connection slot its endpoint and
 * its route entries with their request fractions in flat arrays; a flow then costs one map lookup (its connection,
 * with the address-key string whose hash ingest already computed) and array reads. Routes and endpoints are found by
 * the numbers ingest gave their keys, not by building and hashing key strings per weight: what is left is mostly
 * the first read of each record and flow after ingest (memory, not computation).
 */
export function joinWindow(windows: readonly ReportWindow[], position: number, withConnections = true): WindowJoin {
  const window = windows[position]!;
  const own = connectionIndex(window);
  const connections: JoinedConnection[] = [];
  let flowsWithoutIdentity = 0;
  let unattributedRetransSegs = 0;

  // Routes and endpoints in order of first use, found by the numbers their keys got at ingest (window.routeIds,
  // window.endpointIds); keys the window did not number (a neighbour window's connection, the weight weightsOf makes
  // up) fall back to a map. Endpoints are referred to by their position in `endpoints`, where srttWeights keeps the
  // sent segments their mean RTT is weighted by.
  const routes: RouteAttribution[] = [];
  const routeById: (RouteAttribution | undefined)[] = new Array(window.routeIds.size);
  const otherRoutes = new Map<string, RouteAttribution>();
  const endpoints: EndpointWindow[] = [];
  const srttWeights: number[] = [];
  const endpointById = new Int32Array(window.endpointIds.size).fill(-1);
  const otherEndpoints = new Map<string, number>();
  const newEndpoint = (cluster: string, endpoint: string): number => {
    endpoints.push({
      cluster, endpoint, requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], flows: 0, covered: false, retransSegs: 0,
      segsOut: 0, srttUs: 0, lossyRequests: 0, lossyDurationMsSum: 0,
    });
    srttWeights.push(0);
    return endpoints.length - 1;
  };
  const endpointAt = (id: number, cluster: string, endpoint: string): number => {
    let index = endpointById[id]!;
    if (index < 0) endpointById[id] = index = newEndpoint(cluster, endpoint);
    return index;
  };
  const endpointOf = (key: string, cluster: string, endpoint: string): number => {
    const id = window.endpointIds.get(key);
    if (id !== undefined) return endpointAt(id, cluster, endpoint);
    let index = otherEndpoints.get(key);
    if (index === undefined) otherEndpoints.set(key, (index = newEndpoint(cluster, endpoint)));
    return index;
  };
  const routeAt = (id: number, cluster: string, pathTemplate: string, tenant: string): RouteAttribution => {
    let entry = routeById[id];
    if (!entry) routes.push((routeById[id] = entry = { cluster, pathTemplate, tenant, requests: 0, retransSegs: 0, segsOut: 0 }));
    return entry;
  };
  /** The route of a weight (keyed by its record's cluster), shown under `cluster`. */
  const route = (weight: KeyedRouteWeight, cluster: string): RouteAttribution => {
    const { pathTemplate, tenant } = weight;
    const id = routeNumber(window.routeIds, weight.cluster, pathTemplate, tenant, false);
    if (id >= 0) return routeAt(id, cluster, pathTemplate, tenant);
    const key = routeKey(weight.cluster, pathTemplate, tenant);
    let entry = otherRoutes.get(key);
    if (!entry) {
      otherRoutes.set(key, (entry = { cluster, pathTemplate, tenant, requests: 0, retransSegs: 0, segsOut: 0 }));
      routes.push(entry);
    }
    return entry;
  };

  // Outcomes: every entry of the window counts for its endpoint and route, joined to a kernel flow or not. A proxy
  // whose namespace an agent covered and that has no flow on a connection had no traffic on it the collector saw.
  const covered = new Set(window.identities.values());
  const endpointBySlot = new Int32Array(window.slots);
  const routeStart = new Int32Array(window.slots);
  const routeEnd = new Int32Array(window.slots);
  // At most each record's weights plus the one weightsOf may add.
  const bound = window.weights + window.connections.size;
  const routeRefs: RouteAttribution[] = new Array(bound);
  const routeFractions = new Float64Array(bound);
  let refs = 0;
  const slotRequests = new Float64Array(window.slots);
  const slotDurationMsSum = new Float64Array(window.slots);
  for (const [proxyId, byAddress] of own) {
    const proxyCovered = covered.has(proxyId);
    for (const connection of byAddress.values()) {
      let busiest = -1;
      let cluster = '';
      let requests = 0;
      for (const record of connection.records) {
        const index = endpointAt(record.endpointId, record.cluster, record.remoteAddress);
        const stats = endpoints[index]!;
        if (proxyCovered) stats.covered = true;
        stats.requests += record.requests;
        stats.errors += record.errors;
        stats.slowCalls += record.slowCalls;
        stats.durationMsSum += record.durationMsSum;
        for (let i = 0; i < record.buckets.length; i++) stats.buckets[i] = (stats.buckets[i] ?? 0) + record.buckets[i]!;
        if (record.requests > busiest) {
          busiest = record.requests;
          cluster = record.cluster;
          endpointBySlot[connection.slot] = index;
        }
        requests += record.requests;
        slotDurationMsSum[connection.slot] += record.durationMsSum;
      }
      slotRequests[connection.slot] = requests;
      const first = refs;
      for (const record of connection.records) {
        for (const weight of weightsOf(record)) {
          const entry = weight.routeId >= 0 ? routeAt(weight.routeId, cluster, weight.pathTemplate, weight.tenant)
            : route(weight, cluster);
          entry.requests += weight.requests;
          routeRefs[refs] = entry;
          routeFractions[refs++] = weight.requests / requests;
        }
      }
      // No request on it (routes reported without counts): its weights share equally.
      if (!(requests > 0)) routeFractions.fill(1 / (refs - first), first, refs);
      routeStart[connection.slot] = first;
      routeEnd[connection.slot] = refs;
    }
  }

  const routeWeights: KeyedRouteWeight[] = [];
  const proxies = proxiesByNode(window);
  let lastNode: string | undefined;
  let lastNetns = -1;
  let proxyId = '';
  let byAddress: Map<string, IndexedConnection> | undefined;
  for (const flow of window.flows) {
    // An agent reports a namespace's flows together: look its proxy up once per run of them.
    if (flow.nodeName !== lastNode || flow.netns !== lastNetns) {
      lastNode = flow.nodeName;
      lastNetns = flow.netns;
      proxyId = proxies.get(flow.nodeName)?.get(flow.netns) ?? '';
      byAddress = proxyId ? own.get(proxyId) : undefined;
    }
    if (!proxyId) flowsWithoutIdentity++;
    const current = byAddress?.get(flow.addressKey);
    let index = -1;
    if (withConnections) {
      const currentShares = current && sharesOf(current);
      const shares = currentShares ?? (proxyId ? nearestShares(windows, position, proxyId, flow.addressKey) : undefined);
      routeWeights.length = 0;
      const joined = toJoined(flow, proxyId, shares, shares !== undefined && shares === currentShares, routeWeights);
      connections.push(joined);
      if (shares) {
        for (let i = 0; i < joined.routes.length; i++) {
          const share = joined.routes[i]!;
          const entry = route(routeWeights[i]!, joined.cluster);
          entry.retransSegs += share.retransSegs;
          entry.segsOut += share.segsOut;
        }
        index = endpointOf(`${shares.cluster}\u0000${flow.remoteAddress}`, shares.cluster, flow.remoteAddress);
      }
    } else if (current) {
      const slot = current.slot;
      index = endpointBySlot[slot]!;
      for (let k = routeStart[slot]!; k < routeEnd[slot]!; k++) {
        const entry = routeRefs[k]!;
        entry.retransSegs += flow.retransSegs * routeFractions[k]!;
        entry.segsOut += flow.segsOut * routeFractions[k]!;
      }
    } else {
      const shares = proxyId ? nearestShares(windows, position, proxyId, flow.addressKey) : undefined;
      if (shares) {
        // The same split as toJoined's, straight into the route totals (evaluation needs no per-connection objects).
        const n = shares.weights.length;
        for (const weight of shares.weights) {
          const fraction = shares.requests > 0 ? weight.requests / shares.requests : 1 / n;
          const entry = route(weight, shares.cluster);
          entry.retransSegs += flow.retransSegs * fraction;
          entry.segsOut += flow.segsOut * fraction;
        }
        index = endpointOf(`${shares.cluster}\u0000${flow.remoteAddress}`, shares.cluster, flow.remoteAddress);
      }
    }
    if (index < 0) {
      unattributedRetransSegs += flow.retransSegs;
      continue;
    }
    const stats = endpoints[index]!;
    if (current && flow.retransSegs > 0) {
      stats.lossyRequests += slotRequests[current.slot]!;
      stats.lossyDurationMsSum += slotDurationMsSum[current.slot]!;
    }
    stats.flows++;
    stats.retransSegs += flow.retransSegs;
    stats.segsOut += flow.segsOut;
    if (flow.srttUs > 0 && flow.segsOut > 0) {
      const weight = srttWeights[index]!;
      stats.srttUs = (stats.srttUs * weight + flow.srttUs * flow.segsOut) / (weight + flow.segsOut);
      srttWeights[index] = weight + flow.segsOut;
    }
  }

  connections.sort((a, b) => b.retransSegs - a.retransSegs || b.segsOut - a.segsOut);
  return {
    index: window.index, startMs: window.startMs, endMs: window.endMs, connections,
    routes, endpoints, flowsWithoutIdentity, unattributedRetransSegs,
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
function nearestShares(windows: readonly ReportWindow[], position: number, proxyId: string, addressKey: string): ConnectionShares | undefined {
  for (let distance = 1; distance < windows.length; distance++) {
    for (const neighbour of [windows[position + distance], windows[position - distance]]) {
      const found = neighbour && connectionIndex(neighbour).get(proxyId)?.get(addressKey);
      if (found) return sharesOf(found);
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
    cluster: record.cluster, routeId: -1,
  }];
}

/** The joined connection; `routeWeights` receives the first weight of each of its route shares, in order. */
function toJoined(flow: KernelFlowRecord, proxyId: string, shares: ConnectionShares | undefined, ownWindow: boolean,
  routeWeights: KeyedRouteWeight[]): JoinedConnection {
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
        routeWeights.push(weight);
        byRoute?.set(`${weight.pathTemplate}\u0000${weight.tenant}`, share);
      }
      share.retransSegs += flow.retransSegs * fraction;
      share.segsOut += flow.segsOut * fraction;
      // Requests and errors shown are this window's own (a share borrowed from a neighbour carries no requests).
      if (ownWindow) {
        share.requests += weight.requests;
        share.errors += weight.errors;
      }
    }
  }
  return {
    nodeName: flow.nodeName, netns: flow.netns, proxyId, localAddress: flow.localAddress, remoteAddress: flow.remoteAddress,
    cluster: shares?.cluster ?? '', retransSegs: flow.retransSegs, segsOut: flow.segsOut, srttUs: flow.srttUs, direction: flow.direction,
    requests: ownWindow ? shares!.requests : 0, errors: ownWindow ? shares!.errors : 0, routes,
  };
}
