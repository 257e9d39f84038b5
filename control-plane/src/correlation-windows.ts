// Recent report windows for correlation: what filters reported per upstream connection and what node agents counted
// per kernel flow, bucketed into fixed windows of `windowMs`, plus the proxy identity of each (node, netns) as the
// agent resolved it in that window. Pure data structure: no gRPC, no clock (times come with the reports).
//
// Bucketing: a report covering [start, end) goes to window floor(((start + end) / 2) / windowMs). Filters and agents
// run their intervals with their own phases; the midpoint puts a filter window and a kernel interval that overlap by
// more than half into the same bucket, where bucketing by the end time would split them at every phase offset.
//
// Memory bound (everything a hostile proxy or agent can make us keep is capped):
//   at most `maxWindows` windows (default 10); each holds at most `maxFlowsPerWindow` kernel flows (default 20,000),
//   `maxConnectionsPerWindow` filter connection entries (default 20,000) with at most MAX_ROUTES_PER_CONNECTION route
//   weights each, `maxRoutesPerWindow` route names (default 10,000; a new name beyond counts under its cluster's
//   "~other") and `maxIdentitiesPerWindow` namespace identities (default 10,000); at most `maxSources` reporting
//   sources are followed for early window closing (default 10,000, forgotten with the windows they reported into).
//   Beyond a cap an entry is dropped and counted in `dropped`; a report for a window older than the oldest kept is
//   dropped whole. Other names (proxies, clusters, endpoints, namespaces, address pairs) get a number only with an
//   entry or flow kept. Columns grow by doubling up to their cap.
//   Measured (heap + array buffers, full windows at the defaults): ~16 MB per window shaped as bench:correlation's
//   (3 weights per entry, flows and entries sharing address pairs and 1,000 route names); ≤ ~55 MB in the worst
//   shape (every flow in its own namespace on its own address pair, every entry of its own cluster with 16 weights,
//   route names up to the cap), so ≤ ~550 MB for the 10 windows; ~1 MB per window at 1,000 flows. (The object
//   layout before this one took 56 MB per window in the first shape and ~210 MB in the second with route names
//   uncapped: its stated 80 MB for all windows was wrong.)
//   test/control-plane/correlation.test.ts fills 10 windows in the worst shape at a tenth of the caps against this.

// Layout. The join (correlation.ts) runs over every flow and entry of a window once per window, and again for every
// Admin view: it reads these columns by the numbers ingest gave (address pair, namespace, proxy, connection, entry,
// route, endpoint), so that after ingest it follows no object pointers and hashes no strings but the few names it
// shows. Lists (a connection's entries, an entry's route weights, the connections and flows on one address pair)
// are chains through `next` columns, in order of arrival where the join's output order depends on it.

import type { FlowDirection__Output } from './generated/meshlens/v1/FlowDirection.ts';
import { DURATION_BUCKET_COUNT } from './telemetry-store.ts';

/** A kernel flow as the Admin views show it (flowRecord). */
export interface KernelFlowRecord {
  nodeName: string;
  netns: number;
  localAddress: string;        // "ip:port" / "[ip6]:port", the filter's upstream.local_address form
  remoteAddress: string;
  retransSegs: number;
  segsOut: number;
  srttUs: number;              // latest sample in the window; 0 unknown
  direction: FlowDirection__Output;
}

/** A filter connection entry as the Admin views show it (connectionRecord). */
export interface ConnectionRecord {
  proxyId: string;
  localAddress: string;
  remoteAddress: string;
  endpointId: number;          // the number of (cluster, remote) in its window
  cluster: string;
  requests: number;
  errors: number;
  slowCalls: number;
  durationMsSum: number;
  buckets: number[];           // OutcomeCounters.duration_buckets, summed
  routes: KeyedRouteWeight[];  // requests by (path template, tenant); empty from filters that do not report them
}

export interface RouteWeight { pathTemplate: string; tenant: string; requests: number; errors: number }
/** A route weight with the cluster of its record and the number of its (cluster, path template, tenant) in its
 * window; -1 for a weight the join makes up. */
export interface KeyedRouteWeight extends RouteWeight { cluster: string; routeId: number }
export const routeKey = (cluster: string, pathTemplate: string, tenant: string) => `${cluster}\u0000${pathTemplate}\u0000${tenant}`;

/** (cluster, path template, tenant) → number, nested so that no key string is built and hashed per route weight;
 * the names of number i at position i of the arrays. */
export interface RouteNumbers {
  size: number;
  byCluster: Map<string, Map<string, Map<string, number>>>;
  cluster: string[];
  pathTemplate: string[];
  tenant: string[];
}

/** The number of (cluster, path template, tenant) in `numbers`; with `create`, the next one when new, else -1. */
export function routeNumber(numbers: RouteNumbers, cluster: string, pathTemplate: string, tenant: string, create: boolean): number {
  let byPath = numbers.byCluster.get(cluster);
  if (!byPath) {
    if (!create) return -1;
    numbers.byCluster.set(cluster, (byPath = new Map()));
  }
  let byTenant = byPath.get(pathTemplate);
  if (!byTenant) {
    if (!create) return -1;
    byPath.set(pathTemplate, (byTenant = new Map()));
  }
  let id = byTenant.get(tenant);
  if (id === undefined) {
    if (!create) return -1;
    byTenant.set(tenant, (id = numbers.size++));
    numbers.cluster.push(cluster);
    numbers.pathTemplate.push(pathTemplate);
    numbers.tenant.push(tenant);
  }
  return id;
}

/** What a filter report contributes for one connection (ConnectionRecord before ingest). */
export type ConnectionInput = Omit<ConnectionRecord, 'proxyId' | 'routes' | 'endpointId'> & { routes: readonly RouteWeight[] };
/** What a kernel report contributes for one flow (KernelFlowRecord before ingest). */
export type FlowInput = Omit<KernelFlowRecord, 'nodeName'>;

/** Bound on the route weights kept per connection record, as the filter's own cap (telemetry.proto). */
export const MAX_ROUTES_PER_CONNECTION = 16;

/** Columns of one table: row i is position i of each typed array; `count` rows used, room for `capacity`. */
interface Table { count: number; capacity: number }

/** Kernel flows, in order of arrival. */
export interface FlowTable extends Table {
  namespace: Int32Array;       // ReportWindow.namespaces
  address: Int32Array;         // ReportWindow.addresses
  nextAtAddress: Int32Array;   // the next flow on the same address pair (another namespace), -1 none
  retransSegs: Float64Array;
  segsOut: Float64Array;
  srttUs: Float64Array;
  direction: FlowDirection__Output[];
}

/** Upstream connections of proxies: (proxy, address pair), numbered in order of arrival ("slots"). */
export interface ConnectionTable extends Table {
  proxy: Int32Array;
  address: Int32Array;
  nextAtAddress: Int32Array;   // the next connection on the same address pair (another proxy), -1 none
  nextOfProxy: Int32Array;     // the proxy's next connection in order of arrival, -1 none
  firstRecord: Int32Array;     // its entries (one per cluster; more than one would be a filter bug)
  lastRecord: Int32Array;
}

/** Filter connection entries: one per (connection, cluster), summed over the reports of the window. */
export interface RecordTable extends Table {
  connection: Int32Array;
  cluster: Int32Array;         // ReportWindow.clusters
  endpoint: Int32Array;        // ReportWindow.endpoints
  nextOfConnection: Int32Array;
  firstWeight: Int32Array;     // route weights in order of arrival, -1 none
  lastWeight: Int32Array;
  weights: Int32Array;
  requests: Float64Array;
  errors: Float64Array;
  slowCalls: Float64Array;
  durationMsSum: Float64Array;
  routeRequests: Float64Array; // summed over its weights: what is left of `requests` the join attributes to ("", "")
  routeErrors: Float64Array;
  bucketCount: Uint8Array;     // the longest histogram reported; DURATION_BUCKET_COUNT buckets per row in `buckets`
  buckets: Float64Array;
}

/** Requests of an entry by route: row i is one (route, requests, errors) of the entry it is chained from. */
export interface WeightTable extends Table {
  route: Int32Array;           // ReportWindow.routes
  next: Int32Array;
  requests: Float64Array;
  errors: Float64Array;
}

/** Names numbered in order of first use: number i is names[i]. */
export interface Names { ids: Map<string, number>; names: string[] }

export interface ReportWindow {
  index: number;               // floor(midpoint / windowMs)
  startMs: number;
  endMs: number;
  // "local|remote" → number: where a filter's connection entries and an agent's flows meet. Its rows: the strings
  // and the first connection and flow on the pair.
  addresses: Names;
  addressLocal: string[];
  addressRemote: string[];
  addressFirst: Table & { connection: Int32Array; flow: Int32Array };
  namespaces: Names;           // identityKey(node, netns) of the flows
  namespaceNode: string[];
  namespaceNetns: number[];
  proxies: Names;              // of the connections
  proxyFirst: number[];        // its first and last connection
  proxyLast: number[];
  clusters: Names;
  // (cluster, remote) of the records, as cluster number → remote → endpoint number; names at the endpoint's number
  endpointIds: Map<string, number>[];
  endpointCluster: string[];
  endpointAddress: string[];
  routes: RouteNumbers;
  flows: FlowTable;
  connections: ConnectionTable;
  records: RecordTable;
  weights: WeightTable;
  // node \0 netns → proxy id, for every namespace the agent's collector covered in the window: a named namespace
  // without flows had no retransmit and no state change (the collector samples a flow only on those events).
  identities: Map<string, string>;
  version: number;             // bumped on every change, so derived indexes know when to rebuild
}

export interface CorrelationWindowsOptions {
  windowMs?: number;
  maxWindows?: number;
  maxFlowsPerWindow?: number;
  maxConnectionsPerWindow?: number;
  maxIdentitiesPerWindow?: number;
  maxRoutesPerWindow?: number;
  maxSources?: number;
}

export interface DroppedCounts { flows: number; connections: number; identities: number; lateReports: number; sources: number; routes: number }

export const identityKey = (nodeName: string, netns: number) => `${nodeName}\u0000${netns}`;
export const addressKey = (localAddress: string, remoteAddress: string) => `${localAddress}|${remoteAddress}`;

const INITIAL_ROWS = 64;

function table<T extends Table>(columns: Omit<T, 'count' | 'capacity'>): T {
  return { count: 0, capacity: INITIAL_ROWS, ...columns } as T;
}

/** Makes room for row `count` of `t` (every typed-array column grown alike), doubling up to `cap` rows. */
function reserve(t: Table, cap: number): void {
  if (t.count < t.capacity) return;
  const capacity = Math.max(t.count + 1, Math.min(t.capacity * 2, cap));
  const columns = t as unknown as Record<string, unknown>;
  for (const [name, column] of Object.entries(columns)) {
    if (!ArrayBuffer.isView(column)) continue;
    const typed = column as Float64Array;
    const stride = typed.length / t.capacity;
    const grown = new (typed.constructor as Float64ArrayConstructor)(capacity * stride);
    grown.set(typed);
    columns[name] = grown;
  }
  t.capacity = capacity;
}

const i32 = (rows = INITIAL_ROWS) => new Int32Array(rows);
const f64 = (rows = INITIAL_ROWS) => new Float64Array(rows);
const names = (): Names => ({ ids: new Map(), names: [] });
function nameNumber(n: Names, name: string): number {
  let id = n.ids.get(name);
  if (id === undefined) {
    n.ids.set(name, (id = n.names.length));
    n.names.push(name);
  }
  return id;
}

function newWindow(index: number, windowMs: number): ReportWindow {
  return {
    index, startMs: index * windowMs, endMs: (index + 1) * windowMs,
    addresses: names(), addressLocal: [], addressRemote: [], addressFirst: table({ connection: i32(), flow: i32() }),
    namespaces: names(), namespaceNode: [], namespaceNetns: [],
    proxies: names(), proxyFirst: [], proxyLast: [],
    clusters: names(), endpointIds: [], endpointCluster: [], endpointAddress: [],
    routes: { size: 0, byCluster: new Map(), cluster: [], pathTemplate: [], tenant: [] },
    flows: table<FlowTable>({
      namespace: i32(), address: i32(), nextAtAddress: i32(), retransSegs: f64(), segsOut: f64(), srttUs: f64(), direction: [],
    }),
    connections: table<ConnectionTable>({
      proxy: i32(), address: i32(), nextAtAddress: i32(), nextOfProxy: i32(), firstRecord: i32(), lastRecord: i32(),
    }),
    records: table<RecordTable>({
      connection: i32(), cluster: i32(), endpoint: i32(), nextOfConnection: i32(), firstWeight: i32(), lastWeight: i32(), weights: i32(),
      requests: f64(), errors: f64(), slowCalls: f64(), durationMsSum: f64(), routeRequests: f64(), routeErrors: f64(),
      bucketCount: new Uint8Array(INITIAL_ROWS), buckets: f64(INITIAL_ROWS * DURATION_BUCKET_COUNT),
    }),
    weights: table<WeightTable>({ route: i32(), next: i32(), requests: f64(), errors: f64() }),
    identities: new Map(), version: 0,
  };
}

/** The number of an address pair in `window`, or -1 when no entry or flow of the window is on it. */
function addressNumber(window: ReportWindow, key: string): number {
  return window.addresses.ids.get(key) ?? -1;
}

/** The connection of proxy number `proxy` on address pair number `address`, or -1. */
export function connectionAt(window: ReportWindow, proxy: number, address: number): number {
  const c = window.connections;
  if (proxy < 0 || address < 0) return -1;
  for (let slot = window.addressFirst.connection[address]!; slot >= 0; slot = c.nextAtAddress[slot]!) if (c.proxy[slot] === proxy) return slot;
  return -1;
}

/** The connection of `proxyId` on the address pair `key` ("local|remote") in `window`, or -1. */
export function connectionOf(window: ReportWindow, proxyId: string, key: string): number {
  return connectionAt(window, window.proxies.ids.get(proxyId) ?? -1, addressNumber(window, key));
}

/** The number of endpoint (cluster, remote) in `window`, or -1. */
export function endpointNumber(window: ReportWindow, cluster: string, remoteAddress: string): number {
  const c = window.clusters.ids.get(cluster);
  return c === undefined ? -1 : window.endpointIds[c]!.get(remoteAddress) ?? -1;
}

/** Requests of entry `r` its route weights do not account for (the join attributes them to ("", "")); 0 none. */
export function unreportedRequests(window: ReportWindow, r: number): number {
  const rest = window.records.requests[r]! - window.records.routeRequests[r]!;
  return rest > 0 ? rest : 0;
}

/** Errors among unreportedRequests(window, r). */
export function unreportedErrors(window: ReportWindow, r: number): number {
  const records = window.records;
  return Math.min(Math.max(0, records.errors[r]! - records.routeErrors[r]!), unreportedRequests(window, r));
}

/** Entry `r` as the views show it. */
export function connectionRecord(window: ReportWindow, r: number): ConnectionRecord {
  const records = window.records;
  const slot = records.connection[r]!;
  const address = window.connections.address[slot]!;
  const cluster = window.clusters.names[records.cluster[r]!]!;
  const routes: KeyedRouteWeight[] = [];
  for (let w = records.firstWeight[r]!; w >= 0; w = window.weights.next[w]!) {
    const route = window.weights.route[w]!;
    routes.push({
      pathTemplate: window.routes.pathTemplate[route]!, tenant: window.routes.tenant[route]!, requests: window.weights.requests[w]!,
      errors: window.weights.errors[w]!, cluster, routeId: route,
    });
  }
  const first = r * DURATION_BUCKET_COUNT;
  return {
    proxyId: window.proxies.names[window.connections.proxy[slot]!]!, localAddress: window.addressLocal[address]!,
    remoteAddress: window.addressRemote[address]!, endpointId: records.endpoint[r]!, cluster, requests: records.requests[r]!,
    errors: records.errors[r]!, slowCalls: records.slowCalls[r]!, durationMsSum: records.durationMsSum[r]!,
    buckets: Array.from(records.buckets.subarray(first, first + records.bucketCount[r]!)), routes,
  };
}

/** Every entry of `window`, in order of arrival. */
export function connectionRecords(window: ReportWindow): ConnectionRecord[] {
  return Array.from({ length: window.records.count }, (_, r) => connectionRecord(window, r));
}

/** Flow `f` as the views show it. */
export function flowRecord(window: ReportWindow, f: number): KernelFlowRecord {
  const flows = window.flows;
  const namespace = flows.namespace[f]!;
  const address = flows.address[f]!;
  return {
    nodeName: window.namespaceNode[namespace]!, netns: window.namespaceNetns[namespace]!, localAddress: window.addressLocal[address]!,
    remoteAddress: window.addressRemote[address]!, retransSegs: flows.retransSegs[f]!, segsOut: flows.segsOut[f]!, srttUs: flows.srttUs[f]!,
    direction: flows.direction[f]!,
  };
}

export class CorrelationWindows {
  readonly windowMs: number;
  readonly maxWindows: number;
  readonly maxFlowsPerWindow: number;
  readonly maxConnectionsPerWindow: number;
  readonly maxIdentitiesPerWindow: number;
  readonly maxRoutesPerWindow: number;
  readonly maxSources: number;
  readonly dropped: DroppedCounts = { flows: 0, connections: 0, identities: 0, lateReports: 0, sources: 0, routes: 0 };
  readonly #windows = new Map<number, ReportWindow>();
  // Reporting sources (a filter VM, a node agent) → the latest window they reported into. A source reports each
  // window once, with intervals of at least windowMs (filters report on the first tick after their interval, agents
  // sleep an interval between reads), so once it reported into window k or later it has nothing more for k.
  readonly #sources = new Map<string, number>();

  constructor(options: CorrelationWindowsOptions = {}) {
    this.windowMs = options.windowMs ?? 1000;
    this.maxWindows = options.maxWindows ?? 10;
    this.maxFlowsPerWindow = options.maxFlowsPerWindow ?? 20_000;
    this.maxConnectionsPerWindow = options.maxConnectionsPerWindow ?? 20_000;
    this.maxIdentitiesPerWindow = options.maxIdentitiesPerWindow ?? 10_000;
    this.maxRoutesPerWindow = options.maxRoutesPerWindow ?? 10_000;
    this.maxSources = options.maxSources ?? 10_000;
  }

  #reported(source: string, startMs: number, endMs: number): void {
    const index = Math.floor((startMs + endMs) / 2 / this.windowMs);
    const latest = this.#sources.get(source);
    if (latest === undefined && this.#sources.size >= this.maxSources) {
      // Untracked sources hold no window back; windows still close at the correlator's deadline.
      this.dropped.sources++;
      return;
    }
    if (latest === undefined || index > latest) this.#sources.set(source, index);
  }

  /**
   * Whether every source heard from in the two windows before `index` has reported into `index` or a later one, so
   * the window can be judged before its deadline. A source silent for longer (its proxy or agent gone) is not waited
   * for.
   */
  complete(index: number): boolean {
    for (const latest of this.#sources.values()) if (latest < index && latest >= index - 2) return false;
    return true;
  }

  /** The window a report covering [startMs, endMs) belongs to, or undefined when it is older than every kept window. */
  #window(startMs: number, endMs: number): ReportWindow | undefined {
    const index = Math.floor((startMs + endMs) / 2 / this.windowMs);
    let window = this.#windows.get(index);
    if (window) return window;
    if (this.#windows.size >= this.maxWindows) {
      const oldest = Math.min(...this.#windows.keys());
      if (index < oldest) {
        this.dropped.lateReports++;
        return undefined;
      }
      this.#windows.delete(oldest);
      // Sources not heard from since before every kept window are gone.
      for (const [source, latest] of this.#sources) if (latest < oldest) this.#sources.delete(source);
    }
    window = newWindow(index, this.windowMs);
    this.#windows.set(index, window);
    return window;
  }

  /** The number of address pair `key`, given a row when new. */
  #address(window: ReportWindow, key: string, localAddress: string, remoteAddress: string): number {
    let address = window.addresses.ids.get(key);
    if (address !== undefined) return address;
    address = nameNumber(window.addresses, key);
    window.addressLocal.push(localAddress);
    window.addressRemote.push(remoteAddress);
    const first = window.addressFirst;
    reserve(first, this.maxFlowsPerWindow + this.maxConnectionsPerWindow);
    first.connection[address] = -1;
    first.flow[address] = -1;
    first.count++;
    return address;
  }

  /** `worker` names the proxy's VM: each VM of a proxy reports on its own (Envoy runs one per worker thread). */
  addFilterReport(proxyId: string, startMs: number, endMs: number, entries: readonly ConnectionInput[], worker = ''): void {
    this.#reported(`filter\u0000${proxyId}\u0000${worker}`, startMs, endMs);
    if (entries.length === 0) return;
    const window = this.#window(startMs, endMs);
    if (!window) return;
    window.version++;
    let proxy = window.proxies.ids.get(proxyId) ?? -1;
    for (const entry of entries) {
      const key = addressKey(entry.localAddress, entry.remoteAddress);
      let slot = connectionAt(window, proxy, addressNumber(window, key));
      const cluster = window.clusters.ids.get(entry.cluster) ?? -1;
      let records = window.records;
      let r = -1;
      if (slot >= 0 && cluster >= 0) {
        for (r = window.connections.firstRecord[slot]!; r >= 0; r = records.nextOfConnection[r]!) if (records.cluster[r] === cluster) break;
      }
      if (r < 0) {
        if (records.count >= this.maxConnectionsPerWindow) {
          this.dropped.connections++;
          continue;
        }
        if (slot < 0) {
          if (proxy < 0) {
            proxy = nameNumber(window.proxies, proxyId);
            window.proxyFirst.push(-1);
            window.proxyLast.push(-1);
          }
          slot = this.#connection(window, proxy, this.#address(window, key, entry.localAddress, entry.remoteAddress));
        }
        r = this.#record(window, slot, entry.cluster, entry.remoteAddress);
        records = window.records;
      }
      // Several VMs of one proxy, or two reports of one VM in one bucket: their requests add up.
      records.requests[r] += entry.requests;
      records.errors[r] += entry.errors;
      records.slowCalls[r] += entry.slowCalls;
      records.durationMsSum[r] += entry.durationMsSum;
      const first = r * DURATION_BUCKET_COUNT;
      const buckets = entry.buckets;
      for (let i = 0; i < buckets.length; i++) {
        // Reports are validated to at most DURATION_BUCKET_COUNT buckets (telemetry.ts); a longer histogram from a
        // caller that did not would only count its tail in the last bucket, which counts everything above anyway.
        records.buckets[first + Math.min(i, DURATION_BUCKET_COUNT - 1)] += buckets[i]!;
      }
      if (buckets.length > records.bucketCount[r]!) records.bucketCount[r] = Math.min(buckets.length, DURATION_BUCKET_COUNT);
      this.#addRoutes(window, r, entry.routes);
    }
  }

  #connection(window: ReportWindow, proxy: number, address: number): number {
    const connections = window.connections;
    reserve(connections, this.maxConnectionsPerWindow);
    const c = window.connections;
    const slot = c.count++;
    c.proxy[slot] = proxy;
    c.address[slot] = address;
    c.nextAtAddress[slot] = window.addressFirst.connection[address]!;
    window.addressFirst.connection[address] = slot;
    c.nextOfProxy[slot] = -1;
    c.firstRecord[slot] = -1;
    c.lastRecord[slot] = -1;
    const last = window.proxyLast[proxy]!;
    if (last < 0) window.proxyFirst[proxy] = slot;
    else c.nextOfProxy[last] = slot;
    window.proxyLast[proxy] = slot;
    return slot;
  }

  #record(window: ReportWindow, slot: number, clusterName: string, remoteAddress: string): number {
    reserve(window.records, this.maxConnectionsPerWindow);
    const records = window.records;
    const r = records.count++;
    const cluster = nameNumber(window.clusters, clusterName);
    if (cluster === window.endpointIds.length) window.endpointIds.push(new Map());
    const endpoints = window.endpointIds[cluster]!;
    let endpoint = endpoints.get(remoteAddress);
    if (endpoint === undefined) {
      endpoints.set(remoteAddress, (endpoint = window.endpointCluster.length));
      window.endpointCluster.push(clusterName);
      window.endpointAddress.push(remoteAddress);
    }
    records.connection[r] = slot;
    records.cluster[r] = cluster;
    records.endpoint[r] = endpoint;
    records.nextOfConnection[r] = -1;
    records.firstWeight[r] = -1;
    records.lastWeight[r] = -1;
    const c = window.connections;
    if (c.lastRecord[slot]! < 0) c.firstRecord[slot] = r;
    else records.nextOfConnection[c.lastRecord[slot]!] = r;
    c.lastRecord[slot] = r;
    return r;
  }

  /** Adds route weights to entry `r`, merging equal (path, tenant) and folding pairs beyond the cap into "~other". */
  #addRoutes(window: ReportWindow, r: number, routes: readonly RouteWeight[]): void {
    const records = window.records;
    const clusterName = window.clusters.names[records.cluster[r]!]!;
    for (const route of routes) {
      let { pathTemplate, tenant } = route;
      let id = routeNumber(window.routes, clusterName, pathTemplate, tenant, false);
      if (id < 0 && window.routes.size >= this.maxRoutesPerWindow) {
        // A new name beyond the window's cap counts under its cluster's "~other" (one name per cluster, past the cap).
        this.dropped.routes++;
        pathTemplate = tenant = '~other';
        id = routeNumber(window.routes, clusterName, pathTemplate, tenant, false);
      }
      // Every weight of an entry has the entry's cluster, so equal (path, tenant) is equal route number.
      let target = findWeight(window, r, id);
      if (target < 0 && records.weights[r]! >= MAX_ROUTES_PER_CONNECTION) {
        target = findWeight(window, r, routeNumber(window.routes, clusterName, '~other', '~other', false));
        // Else the last slot becomes the overflow share, keeping what it held.
        if (target < 0) window.weights.route[(target = records.lastWeight[r]!)] = routeNumber(window.routes, clusterName, '~other', '~other', true);
      }
      if (target < 0) {
        reserve(window.weights, this.maxConnectionsPerWindow * MAX_ROUTES_PER_CONNECTION);
        const w = window.weights;
        target = w.count++;
        w.route[target] = routeNumber(window.routes, clusterName, pathTemplate, tenant, true);
        w.next[target] = -1;
        if (records.lastWeight[r]! < 0) records.firstWeight[r] = target;
        else w.next[records.lastWeight[r]!] = target;
        records.lastWeight[r] = target;
        records.weights[r]++;
      }
      window.weights.requests[target] += route.requests;
      window.weights.errors[target] += route.errors;
      records.routeRequests[r] += route.requests;
      records.routeErrors[r] += route.errors;
    }
  }

  addKernelReport(nodeName: string, startMs: number, endMs: number, flows: readonly FlowInput[],
    identities: readonly { netns: number; proxyId: string }[]): void {
    this.#reported(`kernel\u0000${nodeName}`, startMs, endMs);
    if (flows.length === 0 && identities.length === 0) return;
    const window = this.#window(startMs, endMs);
    if (!window) return;
    window.version++;
    // An agent reports a namespace's flows together: its number is looked up once per run of them.
    let netns = -1;
    let key = '';
    let namespace = -1;
    for (const flow of flows) {
      if (key === '' || flow.netns !== netns) {
        netns = flow.netns;
        key = identityKey(nodeName, netns);
        namespace = window.namespaces.ids.get(key) ?? -1;
      }
      const pair = addressKey(flow.localAddress, flow.remoteAddress);
      let f = namespace < 0 ? -1 : window.addresses.ids.get(pair) ?? -1;
      if (f >= 0) {
        const fl = window.flows;
        for (f = window.addressFirst.flow[f]!; f >= 0; f = fl.nextAtAddress[f]!) if (fl.namespace[f] === namespace) break;
      }
      if (f < 0) {
        if (window.flows.count >= this.maxFlowsPerWindow) {
          this.dropped.flows++;
          continue;
        }
        if (namespace < 0) {
          namespace = nameNumber(window.namespaces, key);
          window.namespaceNode.push(nodeName);
          window.namespaceNetns.push(netns);
        }
        const address = this.#address(window, pair, flow.localAddress, flow.remoteAddress);
        reserve(window.flows, this.maxFlowsPerWindow);
        const fl = window.flows;
        f = fl.count++;
        fl.namespace[f] = namespace;
        fl.address[f] = address;
        fl.nextAtAddress[f] = window.addressFirst.flow[address]!;
        window.addressFirst.flow[address] = f;
        fl.retransSegs[f] = 0;
        fl.segsOut[f] = 0;
        fl.srttUs[f] = 0;
        fl.direction[f] = flow.direction;
      }
      const fl = window.flows;
      fl.retransSegs[f] += flow.retransSegs;
      fl.segsOut[f] += flow.segsOut;
      if (flow.srttUs > 0) fl.srttUs[f] = flow.srttUs;
    }
    for (const identity of identities) {
      const key = identityKey(nodeName, identity.netns);
      if (!window.identities.has(key) && window.identities.size >= this.maxIdentitiesPerWindow) {
        this.dropped.identities++;
        continue;
      }
      window.identities.set(key, identity.proxyId);
    }
  }

  /** Kept windows, oldest first. */
  windows(): ReportWindow[] {
    return [...this.#windows.values()].sort((a, b) => a.index - b.index);
  }

  get size(): number {
    return this.#windows.size;
  }
}

/** The weight of route number `route` among entry `r`'s, or -1. */
function findWeight(window: ReportWindow, r: number, route: number): number {
  if (route < 0) return -1;
  const w = window.weights;
  for (let i = window.records.firstWeight[r]!; i >= 0; i = w.next[i]!) if (w.route[i] === route) return i;
  return -1;
}
