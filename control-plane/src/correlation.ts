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
  addressNumber, connectionOf, connectionRecord, endpointNumber, flowRecord, routeKey, routeNumber, unreportedErrors, unreportedRequests,
  type ConnectionRecord, type KernelFlowRecord, type KeyedRouteWeight, type ReportWindow,
} from './correlation-windows.ts';
import { DURATION_BUCKET_COUNT } from './telemetry-store.ts';

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

/** Connection `slot` of `window` with its entries summed for attribution. */
export function sharesOf(window: ReportWindow, slot: number): ConnectionShares {
  const records: ConnectionRecord[] = [];
  const shares: ConnectionShares = { records, cluster: '', requests: 0, errors: 0, weights: [] };
  let busiest = -1;
  for (let r = window.connections.firstRecord[slot]!; r >= 0; r = window.records.nextOfConnection[r]!) {
    const record = connectionRecord(window, r);
    records.push(record);
    if (record.requests > busiest) {
      shares.cluster = record.cluster;
      busiest = record.requests;
    }
    shares.requests += record.requests;
    shares.errors += record.errors;
    for (const w of record.routes) shares.weights.push(w);
    const rest = unreportedRequests(window, r);
    if (rest > 0) {
      shares.weights.push({ pathTemplate: '', tenant: '', requests: rest, errors: unreportedErrors(window, r), cluster: record.cluster, routeId: -1 });
    }
  }
  return shares;
}

/**
 * Joins window `position` of `windows` (oldest first, as CorrelationWindows.windows() returns them). Neighbour
 * windows are looked into only when a flow's connection completed no request in this one.
 *
 * Cost: the join runs once per window over every flow (10,000 flows × 1,000 routes in bench:correlation) and again
 * for every Admin view, so it reads the window's columns (correlation-windows.ts) by the numbers ingest gave: the
 * window's own entries are visited once, in the outcome pass, which leaves per connection its endpoint and its route
 * totals with their request fractions in flat arrays; a flow then reaches its proxy through its namespace number and
 * its connection through its address-pair number (a chain of one, but for equal pairs in two namespaces), with no
 * string hashed and no object read. Only a flow whose connection completed nothing in this window (a neighbour
 * window's shares) and the per-connection detail of the views (`withConnections`) build objects.
 */
export function joinWindow(windows: readonly ReportWindow[], position: number, withConnections = true): WindowJoin {
  const window = windows[position]!;
  const connections: JoinedConnection[] = [];
  let flowsWithoutIdentity = 0;
  let unattributedRetransSegs = 0;

  // Routes and endpoints in order of first use, found by the numbers ingest gave them; names the window did not
  // number (a neighbour window's connection, the ("", "") weight of unsplit requests) fall back to a map. Endpoints
  // are referred to by their position in `endpoints`, where srttWeights keeps the sent segments their mean RTT is
  // weighted by.
  const routes: RouteAttribution[] = [];
  const routeById: (RouteAttribution | undefined)[] = new Array(window.routes.size);
  const otherRoutes = new Map<string, RouteAttribution>();
  const endpoints: EndpointWindow[] = [];
  const srttWeights: number[] = [];
  const endpointById = new Int32Array(window.endpointCluster.length).fill(-1);
  const otherEndpoints = new Map<string, number>();
  const newEndpoint = (cluster: string, endpoint: string): number => {
    endpoints.push({
      cluster, endpoint, requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], flows: 0, covered: false, retransSegs: 0,
      segsOut: 0, srttUs: 0, lossyRequests: 0, lossyDurationMsSum: 0,
    });
    srttWeights.push(0);
    return endpoints.length - 1;
  };
  const endpointAt = (id: number): number => {
    let index = endpointById[id]!;
    if (index < 0) endpointById[id] = index = newEndpoint(window.endpointCluster[id]!, window.endpointAddress[id]!);
    return index;
  };
  const endpointOf = (cluster: string, endpoint: string): number => {
    const id = endpointNumber(window, cluster, endpoint);
    if (id >= 0) return endpointAt(id);
    const key = `${cluster}\u0000${endpoint}`;
    let index = otherEndpoints.get(key);
    if (index === undefined) otherEndpoints.set(key, (index = newEndpoint(cluster, endpoint)));
    return index;
  };
  const routeAt = (id: number, cluster: string): RouteAttribution => {
    let entry = routeById[id];
    if (!entry) {
      routes.push((routeById[id] = entry = {
        cluster, pathTemplate: window.routes.pathTemplate[id]!, tenant: window.routes.tenant[id]!, requests: 0, retransSegs: 0, segsOut: 0,
      }));
    }
    return entry;
  };
  /** The route of (`keyCluster`, path template, tenant), shown under `cluster`. */
  const route = (keyCluster: string, pathTemplate: string, tenant: string, cluster: string): RouteAttribution => {
    const id = routeNumber(window.routes, keyCluster, pathTemplate, tenant, false);
    if (id >= 0) return routeAt(id, cluster);
    const key = routeKey(keyCluster, pathTemplate, tenant);
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
  const slots = window.connections.count;
  const { firstRecord, nextOfProxy } = window.connections;
  const records = window.records;
  const { nextOfConnection, firstWeight } = records;
  const weights = window.weights;
  const endpointBySlot = new Int32Array(slots);
  const routeStart = new Int32Array(slots);
  const routeEnd = new Int32Array(slots);
  // At most each record's weights plus the one for its unsplit requests.
  const bound = weights.count + records.count;
  const routeRefs: RouteAttribution[] = new Array(bound);
  const routeFractions = new Float64Array(bound);
  let refs = 0;
  const slotRequests = new Float64Array(slots);
  const slotDurationMsSum = new Float64Array(slots);
  for (let proxy = 0; proxy < window.proxies.names.length; proxy++) {
    const proxyCovered = covered.has(window.proxies.names[proxy]!);
    for (let slot = window.proxyFirst[proxy]!; slot >= 0; slot = nextOfProxy[slot]!) {
      let busiest = -1;
      let cluster = '';
      let requests = 0;
      for (let r = firstRecord[slot]!; r >= 0; r = nextOfConnection[r]!) {
        const index = endpointAt(records.endpoint[r]!);
        const stats = endpoints[index]!;
        if (proxyCovered) stats.covered = true;
        const recordRequests = records.requests[r]!;
        stats.requests += recordRequests;
        stats.errors += records.errors[r]!;
        stats.slowCalls += records.slowCalls[r]!;
        stats.durationMsSum += records.durationMsSum[r]!;
        const buckets = stats.buckets;
        for (let i = 0, b = r * DURATION_BUCKET_COUNT; i < records.bucketCount[r]!; i++, b++) buckets[i] = (buckets[i] ?? 0) + records.buckets[b]!;
        if (recordRequests > busiest) {
          busiest = recordRequests;
          cluster = window.clusters.names[records.cluster[r]!]!;
          endpointBySlot[slot] = index;
        }
        requests += recordRequests;
        slotDurationMsSum[slot] += records.durationMsSum[r]!;
      }
      slotRequests[slot] = requests;
      const first = refs;
      for (let r = firstRecord[slot]!; r >= 0; r = nextOfConnection[r]!) {
        for (let w = firstWeight[r]!; w >= 0; w = weights.next[w]!) {
          const entry = routeAt(weights.route[w]!, cluster);
          entry.requests += weights.requests[w]!;
          routeRefs[refs] = entry;
          routeFractions[refs++] = weights.requests[w]! / requests;
        }
        const rest = unreportedRequests(window, r);
        if (rest > 0) {
          const entry = route(window.clusters.names[records.cluster[r]!]!, '', '', cluster);
          entry.requests += rest;
          routeRefs[refs] = entry;
          routeFractions[refs++] = rest / requests;
        }
      }
      // No request on it (routes reported without counts): its weights share equally.
      if (!(requests > 0)) routeFractions.fill(1 / (refs - first), first, refs);
      routeStart[slot] = first;
      routeEnd[slot] = refs;
    }
  }

  // The proxy of each flow namespace: its number among the window's connections' proxies, -2 when it has none in
  // this window (a neighbour window may), -1 when the agent named no proxy.
  const namespaces = window.namespaces.names.length;
  const proxyOf = new Int32Array(namespaces).fill(-1);
  const proxyIdOf: string[] = new Array(namespaces).fill('');
  for (const [key, proxyId] of window.identities) {
    const namespace = window.namespaces.ids.get(key);
    if (namespace === undefined || !proxyId) continue;
    proxyOf[namespace] = window.proxies.ids.get(proxyId) ?? -2;
    proxyIdOf[namespace] = proxyId;
  }
  const { namespace: flowNamespace, address: flowAddress, retransSegs: flowRetransSegs, segsOut: flowSegsOut, srttUs: flowSrttUs } = window.flows;
  const { proxy: slotProxy, nextAtAddress: slotNextAtAddress } = window.connections;
  const firstAtAddress = window.addressFirst.connection;
  const routeWeights: KeyedRouteWeight[] = [];
  for (let f = 0; f < window.flows.count; f++) {
    const namespace = flowNamespace[f]!;
    const proxy = proxyOf[namespace]!;
    if (proxy === -1) flowsWithoutIdentity++;
    let slot = -1;
    if (proxy >= 0) {
      for (slot = firstAtAddress[flowAddress[f]!]!; slot >= 0; slot = slotNextAtAddress[slot]!) if (slotProxy[slot] === proxy) break;
    }
    const retransSegs = flowRetransSegs[f]!;
    const segsOut = flowSegsOut[f]!;
    let index = -1;
    if (withConnections || slot < 0) {
      const flow = flowRecord(window, f);
      const currentShares = slot >= 0 ? sharesOf(window, slot) : undefined;
      const shares = currentShares ?? (proxy !== -1 ? nearestShares(windows, position, proxyIdOf[namespace]!, flowAddress[f]!) : undefined);
      if (withConnections) {
        routeWeights.length = 0;
        const joined = toJoined(flow, proxyIdOf[namespace]!, shares, shares !== undefined && shares === currentShares, routeWeights);
        connections.push(joined);
        if (shares) {
          for (let i = 0; i < joined.routes.length; i++) {
            const share = joined.routes[i]!;
            const weight = routeWeights[i]!;
            const entry = route(weight.cluster, weight.pathTemplate, weight.tenant, joined.cluster);
            entry.retransSegs += share.retransSegs;
            entry.segsOut += share.segsOut;
          }
        }
      } else if (shares) {
        // The same split as toJoined's, straight into the route totals (evaluation needs no per-connection objects).
        const n = shares.weights.length;
        for (const weight of shares.weights) {
          const fraction = shares.requests > 0 ? weight.requests / shares.requests : 1 / n;
          const entry = route(weight.cluster, weight.pathTemplate, weight.tenant, shares.cluster);
          entry.retransSegs += retransSegs * fraction;
          entry.segsOut += segsOut * fraction;
        }
      }
      if (shares) index = endpointOf(shares.cluster, flow.remoteAddress);
    } else {
      index = endpointBySlot[slot]!;
      for (let k = routeStart[slot]!; k < routeEnd[slot]!; k++) {
        const entry = routeRefs[k]!;
        entry.retransSegs += retransSegs * routeFractions[k]!;
        entry.segsOut += segsOut * routeFractions[k]!;
      }
    }
    if (index < 0) {
      unattributedRetransSegs += retransSegs;
      continue;
    }
    const stats = endpoints[index]!;
    if (slot >= 0 && retransSegs > 0) {
      stats.lossyRequests += slotRequests[slot]!;
      stats.lossyDurationMsSum += slotDurationMsSum[slot]!;
    }
    stats.flows++;
    stats.retransSegs += retransSegs;
    stats.segsOut += segsOut;
    const srttUs = flowSrttUs[f]!;
    if (srttUs > 0 && segsOut > 0) {
      const weight = srttWeights[index]!;
      stats.srttUs = (stats.srttUs * weight + srttUs * segsOut) / (weight + segsOut);
      srttWeights[index] = weight + segsOut;
    }
  }

  connections.sort((a, b) => b.retransSegs - a.retransSegs || b.segsOut - a.segsOut);
  return {
    index: window.index, startMs: window.startMs, endMs: window.endMs, connections,
    routes, endpoints, flowsWithoutIdentity, unattributedRetransSegs,
  };
}

/** The connection's entries in the closest kept window (later first on a tie: a slowed request completes later). */
function nearestShares(windows: readonly ReportWindow[], position: number, proxyId: string, address: number): ConnectionShares | undefined {
  const window = windows[position]!;
  const key = window.addresses.names[address]!;
  for (let distance = 1; distance < windows.length; distance++) {
    for (const neighbour of [windows[position + distance], windows[position - distance]]) {
      const slot = neighbour ? connectionOf(neighbour, proxyId, key) : -1;
      if (slot >= 0) return sharesOf(neighbour!, slot);
    }
  }
  return undefined;
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
