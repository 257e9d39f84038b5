// Prometheus metrics of the node agent. Labels are bounded: one `destination` per server endpoint ("ip:port") up to
// a cap, then "~other", so a port scan or a churn of ephemeral peers cannot blow up the series count. `direction`
// follows Linkerd: outbound connections were opened from this node and their destination is the remote endpoint;
// inbound ones were accepted here and their destination is the local (server) endpoint, never a client's ephemeral
// port.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RETRANS_CAUSES, type FlowDelta, type FlowDirection, type IntervalLine } from './ndjson.ts';

export const OVERFLOW_LABEL = '~other';
export const DEFAULT_MAX_DESTINATIONS = 200;
// Connection lifetimes run from sub-millisecond RPC connections to hour-long pools.
export const DURATION_BUCKETS_S = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600];

export interface PortRange {
  low: number;
  high: number;
}
/** Linux's default net.ipv4.ip_local_port_range. */
export const LINUX_EPHEMERAL_PORTS: PortRange = { low: 32768, high: 60999 };
/** The IANA dynamic range (RFC 6335), which other systems' clients pick from. */
const IANA_EPHEMERAL_PORTS: PortRange = { low: 49152, high: 65535 };

/** A metric's direction: the flow's, with unknown resolved from the ports. */
export type MetricDirection = Exclude<FlowDirection, 'unknown'>;

/**
 * The server end of a flow. The kernel tells the direction of every connection it saw open; for older ones (and
 * for ss -ti) a flow whose remote port is ephemeral and whose local port is not is taken to be inbound.
 */
export function serverEndpoint(flow: FlowDelta, ephemeral: PortRange): { direction: MetricDirection; addr: string; port: number } {
  let direction = flow.direction;
  if (direction === 'unknown') {
    const isEphemeral = (port: number) => (port >= ephemeral.low && port <= ephemeral.high) || port >= IANA_EPHEMERAL_PORTS.low;
    direction = isEphemeral(flow.rport) && !isEphemeral(flow.lport) ? 'inbound' : 'outbound';
  }
  return direction === 'inbound'
    ? { direction, addr: flow.laddr, port: flow.lport }
    : { direction, addr: flow.raddr, port: flow.rport };
}

export class DestinationLabels {
  private readonly known = new Set<string>();
  constructor(private readonly cap: number) {
    if (!Number.isInteger(cap) || cap < 1) throw new Error('invalid metrics options: maxDestinations must be an integer ≥ 1');
  }
  label(addr: string, port: number): string {
    const endpoint = addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
    if (this.known.has(endpoint)) return endpoint;
    if (this.known.size >= this.cap) return OVERFLOW_LABEL;
    this.known.add(endpoint);
    return endpoint;
  }
  get size(): number {
    return this.known.size;
  }
}

/** Counts of one (direction, destination) not yet handed to prom-client. */
interface PendingTotals {
  labels: { direction: MetricDirection; destination: string };
  retransSegs: number;
  segsOut: number;
  /** indexed like RETRANS_CAUSES */
  events: number[];
}

export type GapReasonName = 'loader_exited' | 'bad_output' | 'report_dropped' | 'source_changed';

export class AgentMetrics {
  readonly destinations: DestinationLabels;
  private readonly ephemeralPorts: PortRange;
  /** one entry per (direction, destination) label pair ever seen, so bounded by twice the destination cap */
  private readonly pending = new Map<string, PendingTotals>();
  private readonly retransmits: Counter<'direction' | 'destination'>;
  private readonly retransmitEvents: Counter<'direction' | 'destination' | 'cause'>;
  private readonly segmentsSent: Counter<'direction' | 'destination'>;
  private readonly activeConnections: Gauge;
  private readonly connectionDuration: Histogram<'direction' | 'destination'>;
  private readonly mapFullDrops: Counter;
  private readonly evictedFlows: Counter;
  private readonly missedEvents: Counter;
  private readonly gaps: Counter<'reason'>;
  private readonly loaderRestarts: Counter;
  private readonly badLines: Counter;
  private readonly source: Gauge<'source'>;

  constructor(registry: Registry, opts: { maxDestinations?: number; ephemeralPorts?: PortRange } = {}) {
    this.destinations = new DestinationLabels(opts.maxDestinations ?? DEFAULT_MAX_DESTINATIONS);
    this.ephemeralPorts = opts.ephemeralPorts ?? LINUX_EPHEMERAL_PORTS;
    const registers = [registry];
    // Per-destination counts reach prom-client when it is scraped, not every interval: a storm reports every
    // connection each second, and hashing each label set per interval was most of the agent's metrics cost.
    const pending = this.pending;
    this.retransmits = new Counter({
      name: 'meshlens_tcp_retransmits_total',
      help: 'Retransmitted TCP segments (GSO segments, as TcpRetransSegs counts) by direction and server endpoint',
      labelNames: ['direction', 'destination'], registers,
      collect() {
        for (const t of pending.values()) {
          if (t.retransSegs) this.inc(t.labels, t.retransSegs);
          t.retransSegs = 0;
        }
      },
    });
    this.retransmitEvents = new Counter({
      name: 'meshlens_tcp_retransmit_events_total',
      help: 'tcp_retransmit_skb events by direction, server endpoint and cause (rto, fast, tlp, syn, other)',
      labelNames: ['direction', 'destination', 'cause'], registers,
      collect() {
        for (const t of pending.values()) {
          for (let i = 0; i < RETRANS_CAUSES.length; i++) {
            if (t.events[i]) this.inc({ ...t.labels, cause: RETRANS_CAUSES[i]! }, t.events[i]!);
            t.events[i] = 0;
          }
        }
      },
    });
    this.segmentsSent = new Counter({
      name: 'meshlens_tcp_segments_sent_total',
      help: 'TCP segments sent from this node (tcp_sock.segs_out deltas) by direction and server endpoint',
      labelNames: ['direction', 'destination'], registers,
      collect() {
        for (const t of pending.values()) {
          if (t.segsOut) this.inc(t.labels, t.segsOut);
          t.segsOut = 0;
        }
      },
    });
    this.activeConnections = new Gauge({
      name: 'meshlens_tcp_active_connections',
      help: 'TCP connections established and not yet closed, as seen by the collector since it started',
      registers,
    });
    this.connectionDuration = new Histogram({
      name: 'meshlens_tcp_connection_duration_seconds',
      help: 'Lifetime of closed TCP connections from ESTABLISHED to CLOSE',
      labelNames: ['direction', 'destination'], buckets: DURATION_BUCKETS_S, registers,
    });
    this.mapFullDrops = new Counter({
      name: 'meshlens_tcp_collector_map_full_drops_total',
      help: 'Kernel flow updates lost because the flow map insertion failed', registers,
    });
    this.evictedFlows = new Counter({
      name: 'meshlens_tcp_collector_evicted_flows_total',
      help: 'Flows evicted from the LRU flow map, losing their counts since the last interval', registers,
    });
    this.missedEvents = new Counter({
      name: 'meshlens_tcp_collector_missed_events_total',
      help: 'Kernel events the collector programs were not run for (BPF recursion misses)', registers,
    });
    this.gaps = new Counter({
      name: 'meshlens_agent_collection_gaps_total',
      help: 'Intervals whose counts are missing or incomplete, by reason', labelNames: ['reason'], registers,
    });
    this.loaderRestarts = new Counter({
      name: 'meshlens_agent_loader_restarts_total', help: 'Times the BPF loader was restarted after exiting', registers,
    });
    this.badLines = new Counter({
      name: 'meshlens_agent_bad_loader_lines_total', help: 'Loader output lines rejected by validation', registers,
    });
    this.source = new Gauge({
      name: 'meshlens_agent_source', help: 'Counter source in use (1 for the active one)', labelNames: ['source'], registers,
    });
  }

  recordInterval(line: IntervalLine, includeActive = true): void {
    for (const flow of line.flows) {
      const server = serverEndpoint(flow, this.ephemeralPorts);
      const destination = this.destinations.label(server.addr, server.port);
      const key = `${server.direction} ${destination}`;
      let t = this.pending.get(key);
      if (!t) {
        t = { labels: { direction: server.direction, destination }, retransSegs: 0, segsOut: 0, events: [0, 0, 0, 0, 0] };
        this.pending.set(key, t);
      }
      t.retransSegs += flow.retransSegs;
      t.segsOut += flow.segsOut;
      for (let i = 0; i < RETRANS_CAUSES.length; i++) t.events[i] += flow.events[RETRANS_CAUSES[i]!];
      if (flow.closed && flow.durationUs > 0) this.connectionDuration.observe(t.labels, flow.durationUs / 1e6);
    }
    if (includeActive) this.activeConnections.set(line.activeConnections);
    if (line.mapFullDrops) this.mapFullDrops.inc(line.mapFullDrops);
    if (line.evictedFlows) this.evictedFlows.inc(line.evictedFlows);
    if (line.missedEvents) this.missedEvents.inc(line.missedEvents);
  }

  recordGap(reason: GapReasonName): void {
    this.gaps.inc({ reason });
  }
  recordLoaderRestart(): void {
    this.loaderRestarts.inc();
  }
  recordBadLine(): void {
    this.badLines.inc();
  }
  setSource(source: 'bpf' | 'ss' | 'replay'): void {
    this.source.reset();
    this.source.set({ source }, 1);
  }
}
