// The node agent: one counter source in, Prometheus metrics and KernelTelemetry reports out.
import { readFileSync } from 'node:fs';
import { AgentMetrics, type PortRange } from './metrics.ts';
import type { IntervalLine } from './ndjson.ts';
import { toKernelReport, type KernelReporter, type NodeIdentity } from './report.ts';
import type { CounterSource, Gap, SourceSink } from './sources.ts';
import type { NetnsIdentityResolver } from './netns-identity.ts';
import type { Registry } from 'prom-client';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** Whether the effective capability set (from /proc/self/status text) allows loading tracing BPF programs. */
export function canLoadBpf(procStatus: string): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(procStatus);
  if (!m) return false;
  const caps = BigInt(`0x${m[1]}`);
  const has = (bit: bigint) => (caps >> bit) & 1n;
  return Boolean(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)));
}

export function processCanLoadBpf(): boolean {
  try {
    return canLoadBpf(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    return false;
  }
}

const MAX_PENDING_GAPS = 64;

/** Keeps pending gaps bounded during a control-plane outage: consecutive report_dropped gaps collapse into one. */
export function mergeReportGaps(gaps: Gap[]): Gap[] {
  const dropped = gaps.filter((g) => g.reason === 'report_dropped');
  const others = gaps.filter((g) => g.reason !== 'report_dropped').slice(-MAX_PENDING_GAPS);
  if (dropped.length === 0) return others;
  const merged: Gap = {
    reason: 'report_dropped',
    startMs: Math.min(...dropped.map((g) => g.startMs)),
    endMs: Math.max(...dropped.map((g) => g.endMs)),
    detail: `${dropped.length} reports dropped; last error: ${dropped.reduce((a, b) => (b.endMs >= a.endMs ? b : a)).detail}`,
  };
  return [...others, merged].sort((a, b) => a.startMs - b.startMs);
}

export interface NodeAgentOptions {
  registry: Registry;
  source: CounterSource;
  node: NodeIdentity;
  reporter?: KernelReporter;
  /** resolves each reported namespace to the proxy living there (the control plane's join key); none: no identities */
  identities?: NetnsIdentityResolver;
  maxDestinations?: number;
  /** the node's ip_local_port_range, for telling a server's flows from a client's when the kernel could not */
  ephemeralPorts?: PortRange;
  log?: (message: string) => void;
  now?: () => number;
}

export interface AgentStats {
  intervals: number;
  badLines: number;
  reportsSent: number;
  reportsFailed: number;
  gaps: Gap[];
}

export class NodeAgent {
  readonly metrics: AgentMetrics;
  readonly stats: AgentStats = { intervals: 0, badLines: 0, reportsSent: 0, reportsFailed: 0, gaps: [] };
  private pendingGaps: Gap[] = [];
  private sequence = 0;
  private listeners: ((line: IntervalLine) => void)[] = [];
  private readonly log: (message: string) => void;
  private readonly now: () => number;
  private inFlight = new Set<Promise<void>>();
  private reportFailing = false;

  constructor(private readonly opts: NodeAgentOptions) {
    this.metrics = new AgentMetrics(opts.registry, { maxDestinations: opts.maxDestinations, ephemeralPorts: opts.ephemeralPorts });
    this.log = opts.log ?? ((m) => process.stderr.write(`meshlens-agent: ${m}\n`));
    this.now = opts.now ?? Date.now;
  }

  /** Calls `listener` after each interval is recorded (tests wait on it instead of sleeping). */
  onInterval(listener: (line: IntervalLine) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.metrics.setSource(this.opts.source.kind);
    const sink: SourceSink = {
      interval: (line) => this.handleInterval(line),
      gap: (gap) => this.handleGap(gap),
      badLine: (error) => {
        this.stats.badLines++;
        this.metrics.recordBadLine();
        this.log(`rejected loader output: ${error.message}`);
      },
    };
    this.opts.source.start(sink);
  }

  private handleGap(gap: Gap): void {
    this.stats.gaps.push(gap);
    this.pendingGaps.push(gap);
    this.metrics.recordGap(gap.reason);
    if (gap.reason === 'loader_exited') this.metrics.recordLoaderRestart();
    this.log(`collection gap (${gap.reason}) ${new Date(gap.startMs).toISOString()} → ${new Date(gap.endMs).toISOString()}: ${gap.detail}`);
  }

  private handleInterval(line: IntervalLine): void {
    this.stats.intervals++;
    this.metrics.recordInterval(line);
    if (this.opts.reporter) this.send(line);
    for (const listener of this.listeners) listener(line);
  }

  private send(line: IntervalLine): void {
    const gaps = this.pendingGaps;
    this.pendingGaps = [];
    const resolver = this.opts.identities;
    // The namespaces of this interval's flows, plus every namespace with a known proxy, flows or not (see known()).
    const identities = resolver ? [...new Map([...resolver.known(), ...resolver.resolve(line.flows.map((f) => f.netns))].map((i) => [i.netns, i])).values()] : [];
    const message = toKernelReport(line, this.opts.node, this.opts.source.kind, ++this.sequence, gaps, identities);
    const p = this.opts.reporter!.report(message).then(
      () => {
        this.stats.reportsSent++;
        this.reportFailing = false;
      },
      (err: Error) => {
        this.stats.reportsFailed++;
        const nowMs = this.now();
        const gap: Gap = { reason: 'report_dropped', startMs: line.tsMs - line.intervalMs, endMs: nowMs, detail: err.message };
        this.stats.gaps.push(gap);
        this.metrics.recordGap(gap.reason);
        if (!this.reportFailing) this.log(`KernelTelemetry.Report failed (${err.message}); reporting the loss once it recovers`);
        this.reportFailing = true;
        // the next report carries the loss, including the gaps this one was carrying; a long outage merges into one
        this.pendingGaps = mergeReportGaps([...gaps, gap, ...this.pendingGaps]);
      },
    ).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Waits for reports already handed to gRPC. */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async stop(): Promise<void> {
    await this.opts.source.stop();
    await this.flush();
  }
}
