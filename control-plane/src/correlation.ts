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
  connectionAt, connectionOf, connectionRecord, endpointNumber, flowRecord, routeKey, routeNumber, unreportedErrors, unreportedRequests,
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
  const join = new Join(window);
  join.outcomes();
  const connections: JoinedConnection[] = [];
  const proxies = join.flowProxies();
  const flows = window.flows;
  for (let f = 0; f < flows.count; f++) {
    const namespace = flows.namespace[f]!;
    const proxy = proxies.number[namespace]!;
    if (proxy === -1) join.flowsWithoutIdentity++;
    const slot = connectionAt(window, proxy, flows.address[f]!);
    if (withConnections || slot < 0) join.flowWithShares(windows, position, f, slot, proxy === -1 ? '' : proxies.id[namespace]!, withConnections ? connections : undefined);
    else join.flow(f, slot);
  }
  connections.sort((a, b) => b.retransSegs - a.retransSegs || b.segsOut - a.segsOut);
  return {
    index: window.index, startMs: window.startMs, endMs: window.endMs, connections,
    routes: join.routes, endpoints: join.endpoints, flowsWithoutIdentity: join.flowsWithoutIdentity,
    unattributedRetransSegs: join.unattributedRetransSegs,
  };
}

/** One window's join in progress: its route and endpoint totals, and per connection what its flows add to them. */
class Join {
  readonly window: ReportWindow;
  flowsWithoutIdentity = 0;
  unattributedRetransSegs = 0;
  // Routes and endpoints in order of first use, found by the numbers ingest gave them; names the window did not
  // number (a neighbour window's connection, the ("", "") weight of unsplit requests) fall back to a map. Endpoints
  // are referred to by their position in `endpoints`, where srttWeights keeps the sent segments their mean RTT is
  // weighted by.
  readonly routes: RouteAttribution[] = [];
  readonly routeById: (RouteAttribution | undefined)[];
  readonly otherRoutes = new Map<string, RouteAttribution>();
  readonly endpoints: EndpointWindow[] = [];
  readonly srttWeights: number[] = [];
  readonly endpointById: Int32Array;
  readonly otherEndpoints = new Map<string, number>();
  // Per connection: the endpoint of its busiest entry, its route totals with their request fractions
  // (routeRefs/routeFractions from routeStart to routeEnd), its requests and their summed duration.
  readonly endpointBySlot: Int32Array;
  readonly routeStart: Int32Array;
  readonly routeEnd: Int32Array;
  readonly routeRefs: RouteAttribution[];
  readonly routeFractions: Float64Array;
  readonly slotRequests: Float64Array;
  readonly slotDurationMsSum: Float64Array;

  constructor(window: ReportWindow) {
    this.window = window;
    this.routeById = new Array(window.routes.size);
    this.endpointById = new Int32Array(window.endpointCluster.length).fill(-1);
    const slots = window.connections.count;
    this.endpointBySlot = new Int32Array(slots);
    this.routeStart = new Int32Array(slots);
    this.routeEnd = new Int32Array(slots);
    // At most each record's weights plus the one for its unsplit requests.
    const bound = window.weights.count + window.records.count;
    this.routeRefs = new Array(bound);
    this.routeFractions = new Float64Array(bound);
    this.slotRequests = new Float64Array(slots);
    this.slotDurationMsSum = new Float64Array(slots);
  }

  #newEndpoint(cluster: string, endpoint: string): number {
    this.endpoints.push({
      cluster, endpoint, requests: 0, errors: 0, slowCalls: 0, durationMsSum: 0, buckets: [], flows: 0, covered: false, retransSegs: 0,
      segsOut: 0, srttUs: 0, lossyRequests: 0, lossyDurationMsSum: 0,
    });
    this.srttWeights.push(0);
    return this.endpoints.length - 1;
  }

  #endpointAt(id: number): number {
    let index = this.endpointById[id]!;
    if (index < 0) this.endpointById[id] = index = this.#newEndpoint(this.window.endpointCluster[id]!, this.window.endpointAddress[id]!);
    return index;
  }

  #endpointOf(cluster: string, endpoint: string): number {
    const id = endpointNumber(this.window, cluster, endpoint);
    if (id >= 0) return this.#endpointAt(id);
    const key = `${cluster}\u0000${endpoint}`;
    let index = this.otherEndpoints.get(key);
    if (index === undefined) this.otherEndpoints.set(key, (index = this.#newEndpoint(cluster, endpoint)));
    return index;
  }

  #routeAt(id: number, cluster: string): RouteAttribution {
    let entry = this.routeById[id];
    if (!entry) {
      const names = this.window.routes;
      this.routes.push((this.routeById[id] = entry = {
        cluster, pathTemplate: names.pathTemplate[id]!, tenant: names.tenant[id]!, requests: 0, retransSegs: 0, segsOut: 0,
      }));
    }
    return entry;
  }

  /** The route of (`keyCluster`, path template, tenant), shown under `cluster`. */
  #route(keyCluster: string, pathTemplate: string, tenant: string, cluster: string): RouteAttribution {
    const id = routeNumber(this.window.routes, keyCluster, pathTemplate, tenant, false);
    if (id >= 0) return this.#routeAt(id, cluster);
    const key = routeKey(keyCluster, pathTemplate, tenant);
    let entry = this.otherRoutes.get(key);
    if (!entry) {
      this.otherRoutes.set(key, (entry = { cluster, pathTemplate, tenant, requests: 0, retransSegs: 0, segsOut: 0 }));
      this.routes.push(entry);
    }
    return entry;
  }

  /**
   * Every entry of the window counts for its endpoint and route, joined to a kernel flow or not. A proxy whose
   * namespace an agent covered and that has no flow on a connection had no traffic on it the collector saw.
   */
  outcomes(): void {
    const window = this.window;
    const covered = new Set(window.identities.values());
    const { firstRecord, nextOfProxy } = window.connections;
    for (let proxy = 0; proxy < window.proxies.names.length; proxy++) {
      const proxyCovered = covered.has(window.proxies.names[proxy]!);
      for (let slot = window.proxyFirst[proxy]!; slot >= 0; slot = nextOfProxy[slot]!) this.#connection(slot, firstRecord[slot]!, proxyCovered);
    }
  }

  #connection(slot: number, first: number, covered: boolean): void {
    const window = this.window;
    const records = window.records;
    const { nextOfConnection, firstWeight } = records;
    const weights = window.weights;
    let busiest = -1;
    let cluster = '';
    let requests = 0;
    for (let r = first; r >= 0; r = nextOfConnection[r]!) {
      const index = this.#endpointAt(records.endpoint[r]!);
      const stats = this.endpoints[index]!;
      if (covered) stats.covered = true;
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
        this.endpointBySlot[slot] = index;
      }
      requests += recordRequests;
      this.slotDurationMsSum[slot] += records.durationMsSum[r]!;
    }
    this.slotRequests[slot] = requests;
    const start = this.#refs;
    let refs = start;
    for (let r = first; r >= 0; r = nextOfConnection[r]!) {
      for (let w = firstWeight[r]!; w >= 0; w = weights.next[w]!) {
        const entry = this.#routeAt(weights.route[w]!, cluster);
        entry.requests += weights.requests[w]!;
        this.routeRefs[refs] = entry;
        this.routeFractions[refs++] = weights.requests[w]! / requests;
      }
      const rest = unreportedRequests(window, r);
      if (rest > 0) {
        const entry = this.#route(window.clusters.names[records.cluster[r]!]!, '', '', cluster);
        entry.requests += rest;
        this.routeRefs[refs] = entry;
        this.routeFractions[refs++] = rest / requests;
      }
    }
    // No request on it (routes reported without counts): its weights share equally.
    if (!(requests > 0)) this.routeFractions.fill(1 / (refs - start), start, refs);
    this.routeStart[slot] = start;
    this.routeEnd[slot] = refs;
    this.#refs = refs;
  }

  // routeRefs used. Declared after the other fields: declared among them, bench:correlation's first join in a fresh
  // process (join_cpu_ms_per_window) measured 10 -> 30 ms, though the warm join 4.7 -> 2.5 ms (V8's layout of the
  // object; measured back to back, not explained).
  #refs = 0;

  /**
   * The proxy of each flow namespace as the agent named it (`id`, "" for none) and its number among the window's
   * connections' proxies (`number`: -2 when it has none in this window, where a neighbour window may, -1 unnamed).
   */
  flowProxies(): { number: Int32Array; id: string[] } {
    const window = this.window;
    const namespaces = window.namespaces.names.length;
    const number = new Int32Array(namespaces).fill(-1);
    const id: string[] = new Array(namespaces).fill('');
    for (const [key, proxyId] of window.identities) {
      const namespace = window.namespaces.ids.get(key);
      if (namespace === undefined || !proxyId) continue;
      number[namespace] = window.proxies.ids.get(proxyId) ?? -2;
      id[namespace] = proxyId;
    }
    return { number, id };
  }

  /** Flow `f` on connection `slot` of its own window: its segments split by the fractions outcomes() left. */
  flow(f: number, slot: number): void {
    const flows = this.window.flows;
    const retransSegs = flows.retransSegs[f]!;
    const segsOut = flows.segsOut[f]!;
    const end = this.routeEnd[slot]!;
    for (let k = this.routeStart[slot]!; k < end; k++) {
      const entry = this.routeRefs[k]!;
      entry.retransSegs += retransSegs * this.routeFractions[k]!;
      entry.segsOut += segsOut * this.routeFractions[k]!;
    }
    this.#endpointFlow(this.endpointBySlot[slot]!, f, slot);
  }

  /**
   * Flow `f` through its connection's shares as objects: for the per-connection detail (`connections`), or when its
   * connection completed nothing in this window (`slot` -1) and a neighbour window's shares split its segments.
   */
  flowWithShares(windows: readonly ReportWindow[], position: number, f: number, slot: number, proxyId: string,
    connections: JoinedConnection[] | undefined): void {
    const window = this.window;
    const flow = flowRecord(window, f);
    const currentShares = slot >= 0 ? sharesOf(window, slot) : undefined;
    const shares = currentShares ?? (proxyId ? nearestShares(windows, position, proxyId, window.flows.address[f]!) : undefined);
    if (connections) {
      const routeWeights: KeyedRouteWeight[] = [];
      const joined = toJoined(flow, proxyId, shares, shares !== undefined && shares === currentShares, routeWeights);
      connections.push(joined);
      if (shares) {
        for (let i = 0; i < joined.routes.length; i++) {
          const share = joined.routes[i]!;
          const weight = routeWeights[i]!;
          const entry = this.#route(weight.cluster, weight.pathTemplate, weight.tenant, joined.cluster);
          entry.retransSegs += share.retransSegs;
          entry.segsOut += share.segsOut;
        }
      }
    } else if (shares) {
      // The same split as toJoined's, straight into the route totals (evaluation needs no per-connection objects).
      const n = shares.weights.length;
      for (const weight of shares.weights) {
        const fraction = shares.requests > 0 ? weight.requests / shares.requests : 1 / n;
        const entry = this.#route(weight.cluster, weight.pathTemplate, weight.tenant, shares.cluster);
        entry.retransSegs += flow.retransSegs * fraction;
        entry.segsOut += flow.segsOut * fraction;
      }
    }
    this.#endpointFlow(shares ? this.#endpointOf(shares.cluster, flow.remoteAddress) : -1, f, slot);
  }

  /** Flow `f`'s kernel figures into endpoint `index` (-1: none, the segments stay unattributed). */
  #endpointFlow(index: number, f: number, slot: number): void {
    const flows = this.window.flows;
    const retransSegs = flows.retransSegs[f]!;
    if (index < 0) {
      this.unattributedRetransSegs += retransSegs;
      return;
    }
    const segsOut = flows.segsOut[f]!;
    const stats = this.endpoints[index]!;
    if (slot >= 0 && retransSegs > 0) {
      stats.lossyRequests += this.slotRequests[slot]!;
      stats.lossyDurationMsSum += this.slotDurationMsSum[slot]!;
    }
    stats.flows++;
    stats.retransSegs += retransSegs;
    stats.segsOut += segsOut;
    const srttUs = flows.srttUs[f]!;
    if (srttUs > 0 && segsOut > 0) {
      const weight = this.srttWeights[index]!;
      stats.srttUs = (stats.srttUs * weight + srttUs * segsOut) / (weight + segsOut);
      this.srttWeights[index] = weight + segsOut;
    }
  }
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
