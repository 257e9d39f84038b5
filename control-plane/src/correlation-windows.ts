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
//   `maxConnectionsPerWindow` filter connection entries (default 20,000) and `maxIdentitiesPerWindow` namespace
//   identities (default 10,000); at most `maxSources` reporting sources are followed for early window closing
//   (default 10,000, forgotten with the windows they reported into). Beyond a cap
//   an entry is dropped and counted in `dropped`; a report for a window older than the oldest kept is dropped whole.
//   With the defaults that is 10 × 40,000 entries of ~200 bytes: ≤ 80 MB in the worst case, ~2 MB at 1,000 flows.

import type { FlowDirection__Output } from './generated/meshlens/v1/FlowDirection.ts';

export interface KernelFlowRecord {
  nodeName: string;
  netns: number;
  localAddress: string;        // "ip:port" / "[ip6]:port", the filter's upstream.local_address form
  remoteAddress: string;
  addressKey: string;          // "local|remote", built once at ingest for the join's lookups
  retransSegs: number;
  segsOut: number;
  srttUs: number;              // latest sample in the window; 0 unknown
  direction: FlowDirection__Output;
}

export interface ConnectionRecord {
  proxyId: string;
  localAddress: string;
  remoteAddress: string;
  addressKey: string;          // "local|remote", built once at ingest for the join's lookups
  endpointId: number;          // the number of (cluster, remote) in its window (ReportWindow.endpointIds)
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
 * window (ReportWindow.routeIds), given at ingest rather than looked up on every join; -1 for a weight the join
 * makes up. */
export interface KeyedRouteWeight extends RouteWeight { cluster: string; routeId: number }
export const routeKey = (cluster: string, pathTemplate: string, tenant: string) => `${cluster}\u0000${pathTemplate}\u0000${tenant}`;

/** (cluster, path template, tenant) → number, nested so that no key string is built and hashed per route weight. */
export interface RouteNumbers { size: number; byCluster: Map<string, Map<string, Map<string, number>>> }

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
  }
  return id;
}

/** What a filter report contributes for one connection (ConnectionRecord before ingest). */
export type ConnectionInput = Omit<ConnectionRecord, 'proxyId' | 'routes' | 'addressKey' | 'endpointId'> & { routes: readonly RouteWeight[] };

/** One upstream connection of one proxy in a window: its records (one per cluster; more than one would be a filter
 * bug) and its position among the window's connections, which the join uses to index per-window arrays instead of
 * maps. Built at ingest, so a window's join does not regroup its entries. */
export interface IndexedConnection {
  slot: number;
  records: ConnectionRecord[];
}

/** proxy id → "local|remote" → the connection. */
export type ConnectionIndex = Map<string, Map<string, IndexedConnection>>;
/** What a kernel report contributes for one flow (KernelFlowRecord before ingest). */
export type FlowInput = Omit<KernelFlowRecord, 'nodeName' | 'addressKey'>;

/** Bound on the route weights kept per connection record, as the filter's own cap (telemetry.proto). */
export const MAX_ROUTES_PER_CONNECTION = 16;

export interface ReportWindow {
  index: number;               // floor(midpoint / windowMs)
  startMs: number;
  endMs: number;
  flows: KernelFlowRecord[];                        // in order of arrival
  // node \0 netns → "local|remote" → the flow: the address key a flow is stored under is the string the join looks
  // its connection up with, so its hash is computed once, here.
  flowsByNetns: Map<string, Map<string, KernelFlowRecord>>;
  connections: Map<string, ConnectionRecord>;       // key: proxy \0 local | remote \0 cluster
  byProxy: ConnectionIndex;                         // the same records grouped by proxy and local|remote
  slots: number;                                    // connections in `index`
  // node \0 netns → proxy id, for every namespace the agent's collector covered in the window: a named namespace
  // without flows had no retransmit and no state change (the collector samples a flow only on those events).
  identities: Map<string, string>;
  // Route keys and endpoint keys of the window's records numbered in order of arrival: the join keeps its per-route
  // and per-endpoint totals in arrays indexed by them instead of maps looked up by string for every entry and flow
  // (it runs once per window and again for every Admin view of the kept windows). At most one number per route weight
  // and per record kept, so within the bounds above.
  routeIds: RouteNumbers;
  endpointIds: Map<string, number>;
  weights: number;             // route weights of all records, so the join sizes its arrays once
  version: number;             // bumped on every change, so derived indexes know when to rebuild
}

export interface CorrelationWindowsOptions {
  windowMs?: number;
  maxWindows?: number;
  maxFlowsPerWindow?: number;
  maxConnectionsPerWindow?: number;
  maxIdentitiesPerWindow?: number;
  maxSources?: number;
}

export interface DroppedCounts { flows: number; connections: number; identities: number; lateReports: number; sources: number }

export const identityKey = (nodeName: string, netns: number) => `${nodeName}\u0000${netns}`;
export const connectionKey = (proxyId: string, localAddress: string, remoteAddress: string) =>
  `${proxyId}\u0000${localAddress}|${remoteAddress}`;

export class CorrelationWindows {
  readonly windowMs: number;
  readonly maxWindows: number;
  readonly maxFlowsPerWindow: number;
  readonly maxConnectionsPerWindow: number;
  readonly maxIdentitiesPerWindow: number;
  readonly maxSources: number;
  readonly dropped: DroppedCounts = { flows: 0, connections: 0, identities: 0, lateReports: 0, sources: 0 };
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
    window = {
      index, startMs: index * this.windowMs, endMs: (index + 1) * this.windowMs,
      flows: [], flowsByNetns: new Map(), connections: new Map(), byProxy: new Map(), slots: 0, identities: new Map(),
      routeIds: { size: 0, byCluster: new Map() }, endpointIds: new Map(), weights: 0, version: 0,
    };
    this.#windows.set(index, window);
    return window;
  }

  /** `worker` names the proxy's VM: each VM of a proxy reports on its own (Envoy runs one per worker thread). */
  addFilterReport(proxyId: string, startMs: number, endMs: number, entries: readonly ConnectionInput[], worker = ''): void {
    this.#reported(`filter\u0000${proxyId}\u0000${worker}`, startMs, endMs);
    if (entries.length === 0) return;
    const window = this.#window(startMs, endMs);
    if (!window) return;
    window.version++;
    let byAddress = window.byProxy.get(proxyId);
    for (const entry of entries) {
      const key = `${connectionKey(proxyId, entry.localAddress, entry.remoteAddress)}\u0000${entry.cluster}`;
      const existing = window.connections.get(key);
      if (existing) {
        // Several VMs of one proxy, or two reports of one VM in one bucket: their requests add up.
        existing.requests += entry.requests;
        existing.errors += entry.errors;
        existing.slowCalls += entry.slowCalls;
        existing.durationMsSum += entry.durationMsSum;
        entry.buckets.forEach((count, i) => { existing.buckets[i] = (existing.buckets[i] ?? 0) + count; });
        const before = existing.routes.length;
        addRoutes(existing.routes, entry.routes, entry.cluster, window.routeIds);
        window.weights += existing.routes.length - before;
        continue;
      }
      if (window.connections.size >= this.maxConnectionsPerWindow) {
        this.dropped.connections++;
        continue;
      }
      const record: ConnectionRecord = {
        ...entry, proxyId, addressKey: `${entry.localAddress}|${entry.remoteAddress}`,
        endpointId: numberOf(window.endpointIds, `${entry.cluster}\u0000${entry.remoteAddress}`),
        buckets: [...entry.buckets], routes: addRoutes([], entry.routes, entry.cluster, window.routeIds),
      };
      window.connections.set(key, record);
      window.weights += record.routes.length;
      if (!byAddress) window.byProxy.set(proxyId, (byAddress = new Map()));
      const connection = byAddress.get(record.addressKey);
      if (connection) connection.records.push(record);
      else byAddress.set(record.addressKey, { slot: window.slots++, records: [record] });
    }
  }

  addKernelReport(nodeName: string, startMs: number, endMs: number, flows: readonly FlowInput[],
    identities: readonly { netns: number; proxyId: string }[]): void {
    this.#reported(`kernel\u0000${nodeName}`, startMs, endMs);
    if (flows.length === 0 && identities.length === 0) return;
    const window = this.#window(startMs, endMs);
    if (!window) return;
    window.version++;
    // An agent reports a namespace's flows together: its map is looked up once per run of them.
    let netns = -1;
    let byAddress: Map<string, KernelFlowRecord> | undefined;
    for (const flow of flows) {
      if (!byAddress || flow.netns !== netns) {
        netns = flow.netns;
        const key = identityKey(nodeName, netns);
        byAddress = window.flowsByNetns.get(key);
        if (!byAddress) window.flowsByNetns.set(key, (byAddress = new Map()));
      }
      const addressKey = `${flow.localAddress}|${flow.remoteAddress}`;
      const existing = byAddress.get(addressKey);
      if (existing) {
        existing.retransSegs += flow.retransSegs;
        existing.segsOut += flow.segsOut;
        if (flow.srttUs > 0) existing.srttUs = flow.srttUs;
        continue;
      }
      if (window.flows.length >= this.maxFlowsPerWindow) {
        this.dropped.flows++;
        continue;
      }
      const record: KernelFlowRecord = { ...flow, nodeName, addressKey };
      byAddress.set(addressKey, record);
      window.flows.push(record);
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

/** The number of `key` in `ids`, given the next one when new. */
function numberOf(ids: Map<string, number>, key: string): number {
  let id = ids.get(key);
  if (id === undefined) ids.set(key, (id = ids.size));
  return id;
}

/** Adds route weights into `into`, merging equal (path, tenant) and folding pairs beyond the cap into "~other". */
function addRoutes(into: KeyedRouteWeight[], routes: readonly RouteWeight[], cluster: string, ids: RouteNumbers): KeyedRouteWeight[] {
  for (const route of routes) {
    let target = into.find((r) => r.pathTemplate === route.pathTemplate && r.tenant === route.tenant);
    if (!target && into.length >= MAX_ROUTES_PER_CONNECTION) {
      target = into.find((r) => r.pathTemplate === '~other' && r.tenant === '~other');
      if (!target) {
        // The last slot becomes the overflow share, keeping what it held.
        target = into[into.length - 1]!;
        target.pathTemplate = '~other';
        target.tenant = '~other';
        target.routeId = routeNumber(ids, cluster, '~other', '~other', true);
      }
    }
    if (!target) {
      target = {
        pathTemplate: route.pathTemplate, tenant: route.tenant, requests: 0, errors: 0, cluster,
        routeId: routeNumber(ids, cluster, route.pathTemplate, route.tenant, true),
      };
      into.push(target);
    }
    target.requests += route.requests;
    target.errors += route.errors;
  }
  return into;
}
