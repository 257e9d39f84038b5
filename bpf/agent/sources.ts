// Counter sources feeding the agent: the BPF loader (supervised child process), the `ss -ti` fallback and a replay
// of recorded NDJSON. Each turns its input into IntervalLine values and reports gaps; none knows about gRPC or
// Prometheus.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createReadStream } from 'node:fs';
import { parseLoaderLine, type FlowDelta, type IntervalLine } from './ndjson.ts';
import type { GapReasonName } from './metrics.ts';

export interface Gap {
  reason: GapReasonName;
  startMs: number;
  endMs: number;
  detail: string;
}

export interface SourceSink {
  interval(line: IntervalLine): void;
  gap(gap: Gap): void;
  badLine(error: Error, line: string): void;
}

export type SourceKind = 'bpf' | 'ss' | 'replay';

export interface CounterSource {
  readonly kind: SourceKind;
  start(sink: SourceSink): void;
  stop(): Promise<void>;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export interface LoaderSourceOptions {
  command: string;
  args?: string[];
  backoff?: BackoffOptions;
  now?: () => number;
  /** Called on every (re)start with the attempt number; for logs. */
  onSpawn?: (attempt: number, pid: number | undefined) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null, stderrTail: string) => void;
}

const STDERR_TAIL_BYTES = 2048;

/** Runs the loader, restarts it with exponential backoff when it dies, and reports the lost span as a gap. */
export class LoaderSource implements CounterSource {
  readonly kind = 'bpf' as const;
  private child: ChildProcess | undefined;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private failures = 0;
  private lastGoodMs: number | undefined;
  private pendingGap: { startMs: number; detail: string } | undefined;
  private readonly backoff: BackoffOptions;
  private readonly now: () => number;

  constructor(private readonly opts: LoaderSourceOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    if (!(this.backoff.initialMs > 0 && this.backoff.maxMs >= this.backoff.initialMs)) {
      throw new Error('invalid loader options: backoff.maxMs must be ≥ backoff.initialMs > 0');
    }
    this.now = opts.now ?? Date.now;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(sink: SourceSink): void {
    this.stopped = false;
    this.spawnLoader(sink);
  }

  private spawnLoader(sink: SourceSink): void {
    this.attempt++;
    const child = spawn(this.opts.command, this.opts.args ?? [], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderrTail = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderrTail = (stderrTail + d).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (err) => {
      stderrTail = (stderrTail + String(err.message)).slice(-STDERR_TAIL_BYTES);
    });
    this.opts.onSpawn?.(this.attempt, child.pid);
    const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    lines.on('line', (text) => this.handleLine(sink, text));
    child.on('close', (code, signal) => {
      lines.close();
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.opts.onExit?.(code, signal, stderrTail);
      this.failures++;
      const detail = `loader exited with ${signal ? `signal ${signal}` : `code ${code}`}: ${stderrTail.trim().split('\n').pop() ?? ''}`;
      if (!this.pendingGap) this.pendingGap = { startMs: this.lastGoodMs ?? this.now(), detail };
      const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (this.failures - 1));
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) this.spawnLoader(sink);
      }, delay);
    });
  }

  private handleLine(sink: SourceSink, text: string): void {
    let line;
    try {
      line = parseLoaderLine(text);
    } catch (err) {
      const nowMs = this.now();
      sink.badLine(err as Error, text);
      sink.gap({ reason: 'bad_output', startMs: this.lastGoodMs ?? nowMs, endMs: nowMs, detail: (err as Error).message });
      this.lastGoodMs = nowMs;
      return;
    }
    if (line.type === 'start') return;
    if (this.pendingGap) {
      // the restarted loader's first interval ends the gap; its counts start from a fresh map
      sink.gap({ reason: 'loader_exited', startMs: this.pendingGap.startMs, endMs: line.tsMs - line.intervalMs, detail: this.pendingGap.detail });
      this.pendingGap = undefined;
    }
    this.failures = 0;
    this.lastGoodMs = line.tsMs;
    sink.interval(line);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/** One socket as `ss -tinH` prints it. */
export interface SsSocket {
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  state: string;
  totalRetrans: number;
  segsOut: number;
  rttUs: number;
}

function splitEndpoint(text: string): { addr: string; port: number; family: 4 | 6 } | undefined {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(text);
  if (!m) return undefined;
  let addr = m[1]!.replace(/%.*$/, '');
  const family: 4 | 6 = addr.includes(':') ? 6 : 4;
  if (addr === '*') return undefined;
  return { addr, port: Number(m[2]), family };
}

/** Parses `ss -tinH` output; sockets whose endpoints do not parse are skipped. */
export function parseSsOutput(text: string): SsSocket[] {
  const sockets: SsSocket[] = [];
  let current: SsSocket | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (/^\s/.test(line)) {
      if (!current) continue;
      const retrans = /\bretrans:\d+\/(\d+)/.exec(line);
      const segsOut = /\bsegs_out:(\d+)/.exec(line);
      const rtt = /\brtt:([\d.]+)\//.exec(line);
      if (retrans) current.totalRetrans = Number(retrans[1]);
      if (segsOut) current.segsOut = Number(segsOut[1]);
      if (rtt) current.rttUs = Math.round(Number(rtt[1]) * 1000);
      continue;
    }
    const cols = line.trim().split(/\s+/);
    const local = cols.length >= 5 ? splitEndpoint(cols[3]!) : undefined;
    const peer = cols.length >= 5 ? splitEndpoint(cols[4]!) : undefined;
    current = undefined;
    if (!local || !peer) continue;
    current = {
      family: local.family, laddr: local.addr, lport: local.port, raddr: peer.addr, rport: peer.port,
      state: cols[0]!, totalRetrans: 0, segsOut: 0, rttUs: 0,
    };
    sockets.push(current);
  }
  return sockets;
}

interface SsSeen {
  socket: SsSocket;
  firstSeenMs: number;
}

/**
 * Turns successive `ss -ti` samples into interval deltas. The first sample is only a baseline; sockets that appear
 * later count as opened (all their retransmits are new), sockets that vanish count as closed with the lifetime seen.
 * Flows that open and close between two samples are invisible, which is why this is only the fallback.
 */
export class SsDeltaTracker {
  private seen: Map<string, SsSeen> | undefined;
  private seq = 0;
  constructor(private readonly netns: number) {}

  next(sockets: SsSocket[], nowMs: number, intervalMs: number): IntervalLine {
    const current = new Map<string, SsSeen>();
    const flows: FlowDelta[] = [];
    const baseline = this.seen === undefined;
    for (const socket of sockets) {
      const key = `${socket.laddr}|${socket.lport}|${socket.raddr}|${socket.rport}`;
      const prev = this.seen?.get(key);
      current.set(key, { socket, firstSeenMs: prev?.firstSeenMs ?? nowMs });
      if (baseline) continue;
      const opened = prev === undefined;
      const retransSegs = Math.max(0, socket.totalRetrans - (prev?.socket.totalRetrans ?? 0));
      const segsOut = Math.max(0, socket.segsOut - (prev?.socket.segsOut ?? 0));
      if (!opened && retransSegs === 0 && segsOut === 0) continue;
      flows.push(this.flow(socket, { retransSegs, segsOut, opened, closed: false, durationUs: 0 }));
    }
    for (const [key, prev] of this.seen ?? []) {
      if (current.has(key)) continue;
      flows.push(this.flow(prev.socket, {
        retransSegs: 0, segsOut: 0, opened: false, closed: true, durationUs: Math.max(0, nowMs - prev.firstSeenMs) * 1000,
      }));
    }
    this.seen = current;
    return {
      type: 'interval', seq: ++this.seq, tsMs: nowMs, intervalMs, attach: 'ss',
      activeConnections: sockets.filter((s) => s.state === 'ESTAB').length,
      mapFullDrops: 0, evictedFlows: 0, retransFailed: 0, flowsTracked: sockets.length, missedEvents: 0, flows,
    };
  }

  private flow(socket: SsSocket, d: Pick<FlowDelta, 'retransSegs' | 'segsOut' | 'opened' | 'closed' | 'durationUs'>): FlowDelta {
    return {
      netns: this.netns, family: socket.family, laddr: socket.laddr, lport: socket.lport, raddr: socket.raddr,
      rport: socket.rport, events: { rto: 0, fast: 0, tlp: 0, syn: 0, other: 0 }, srttUs: socket.rttUs,
      direction: 'unknown', ...d, // ss -ti does not say which end connected
    };
  }
}

export interface SsSourceOptions {
  /** The command printing `ss -tinH` output; prefix with `ip netns exec <ns>` to watch another namespace. */
  command?: string[];
  intervalMs: number;
  netns: number;
  now?: () => number;
}

export class SsSource implements CounterSource {
  readonly kind = 'ss' as const;
  private timer: NodeJS.Timeout | undefined;
  private readonly tracker: SsDeltaTracker;
  private inFlight: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: SsSourceOptions) {
    this.tracker = new SsDeltaTracker(opts.netns);
    this.now = opts.now ?? Date.now;
  }

  start(sink: SourceSink): void {
    const tick = () => {
      this.inFlight = this.sample(sink).finally(() => {
        this.inFlight = undefined;
      });
    };
    tick();
    this.timer = setInterval(() => {
      if (!this.inFlight) tick();
    }, this.opts.intervalMs);
  }

  private sample(sink: SourceSink): Promise<void> {
    const [cmd, ...args] = this.opts.command ?? ['ss', '-tinH'];
    return new Promise((resolve) => {
      execFile(cmd!, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
        const nowMs = this.now();
        if (err) {
          sink.gap({ reason: 'bad_output', startMs: nowMs, endMs: nowMs, detail: `ss failed: ${err.message}` });
        } else {
          const line = this.tracker.next(parseSsOutput(stdout), nowMs, this.opts.intervalMs);
          if (line.seq > 1) sink.interval(line);
        }
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
  }
}

/** Replays recorded loader NDJSON as fast as it reads it; `done` resolves at end of file. */
export class ReplaySource implements CounterSource {
  readonly kind = 'replay' as const;
  done: Promise<void> = Promise.resolve();
  private stream: ReturnType<typeof createReadStream> | undefined;

  constructor(private readonly path: string) {}

  start(sink: SourceSink): void {
    this.stream = createReadStream(this.path, { encoding: 'utf8' });
    const lines = createInterface({ input: this.stream, crlfDelay: Infinity });
    let lastTs = 0;
    lines.on('line', (text) => {
      if (!text.trim()) return;
      try {
        const line = parseLoaderLine(text);
        if (line.type === 'interval') {
          lastTs = line.tsMs;
          sink.interval(line);
        }
      } catch (err) {
        sink.badLine(err as Error, text);
        sink.gap({ reason: 'bad_output', startMs: lastTs, endMs: lastTs, detail: (err as Error).message });
      }
    });
    this.done = new Promise((resolve, reject) => {
      lines.on('close', resolve);
      this.stream!.on('error', reject);
    });
  }

  async stop(): Promise<void> {
    this.stream?.destroy();
  }
}
