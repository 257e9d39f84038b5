// Runs the correlation once per closed window: join (correlation.ts), per-endpoint signals of the span of its last two
// windows against their baseline (endpoint-baseline.ts), verdicts with hysteresis (verdict.ts), and keeps what the Admin API, the CLI and the
// Prometheus export show. A window is judged once every source that reports (filter VMs, node agents) has reported
// into it or past it, and at the latest `graceMs` after its end: a report whose midpoint falls in a window ends at
// most half a window after the window does, so a fixed half-window grace lost the reports of sources whose phase put
// their midpoint late in the window whenever the host delayed them a little. A report for an already evaluated window
// is still kept in CorrelationWindows but changes no verdict. Time is passed in.
//
// Bounds: at most `maxEndpoints` endpoints keep a baseline and a verdict (default 1,000; the least recently seen is
// forgotten first), each with its last `historyLength` verdict changes (default 32); the joins of the windows
// CorrelationWindows keeps.
import { joinWindow, type EndpointWindow, type JoinedConnection, type RouteAttribution, type WindowJoin } from './correlation.ts';
import type { CorrelationWindows } from './correlation-windows.ts';
import { mergeWindows, signalsOf, tailThresholdMs, updateBaseline, type EndpointBaseline, type EndpointSignals } from './endpoint-baseline.ts';
import {
  anyDeparture, classify, latencyOnly, DEFAULT_VERDICT_OPTIONS, departures, initialVerdictState, nextVerdict, NO_DEPARTURES,
  type Departures, type Verdict, type VerdictOptions, type VerdictState,
} from './verdict.ts';

export interface VerdictChange {
  windowEndUnixMs: number;
  from: Verdict;
  to: Verdict;
  reason: string;
}

export interface EndpointStatus {
  cluster: string;
  endpoint: string;
  verdict: Verdict;
  windowEndUnixMs: number;     // the last window evaluated for this endpoint
  signals: EndpointSignals;
  baseline: EndpointBaseline | undefined;
  departures: Departures;
  history: VerdictChange[];    // newest last
}

export type CorrelationView = JoinedConnection & { windowEndUnixMs: number };
export type RouteView = RouteAttribution & { windowEndUnixMs: number };

export interface CorrelatorOptions {
  graceMs?: number;            // the latest a window is judged after its end; default: one window
  evaluateFromMs?: number;     // no window is judged before this (a joining replica's catch-up); default: at once
  maxEndpoints?: number;
  historyLength?: number;
  verdict?: Partial<VerdictOptions>;
  /** Called after each evaluated window (the Prometheus export). */
  onWindow?: (join: WindowJoin, endpoints: readonly EndpointStatus[]) => void;
}

interface EndpointState {
  cluster: string;
  endpoint: string;
  baseline: EndpointBaseline | undefined;
  verdict: VerdictState;
  departures: Departures;
  signals: EndpointSignals;
  windowEndUnixMs: number;
  history: VerdictChange[];
  lastSeenWindow: number;
  previous: EndpointWindow | undefined;     // the endpoint's window before, merged into the judged span
}

const endpointKey = (cluster: string, endpoint: string) => `${cluster}\u0000${endpoint}`;

export class Correlator {
  readonly windows: CorrelationWindows;
  readonly options: VerdictOptions;
  readonly #graceMs: number;
  readonly #maxEndpoints: number;
  readonly #historyLength: number;
  readonly #onWindow: CorrelatorOptions['onWindow'];
  readonly #evaluateFromMs: number;
  readonly #endpoints = new Map<string, EndpointState>();
  #lastEvaluated = -Infinity;
  evaluatedWindows = 0;
  lastJoinCpuMs = 0;

  constructor(windows: CorrelationWindows, options: CorrelatorOptions = {}) {
    this.windows = windows;
    this.options = { ...DEFAULT_VERDICT_OPTIONS, ...options.verdict };
    this.#graceMs = options.graceMs ?? windows.windowMs;
    this.#maxEndpoints = options.maxEndpoints ?? 1000;
    this.#historyLength = options.historyLength ?? 32;
    this.#onWindow = options.onWindow;
    this.#evaluateFromMs = options.evaluateFromMs ?? -Infinity;
  }

  /** Evaluates every kept window that closed by `nowMs` and was not evaluated yet, oldest first. */
  evaluate(nowMs: number): number {
    if (nowMs < this.#evaluateFromMs) return 0;
    const windows = this.windows.windows();
    let evaluated = 0;
    for (let position = 0; position < windows.length; position++) {
      const window = windows[position]!;
      if (window.index <= this.#lastEvaluated) continue;
      // In order: a later window is not judged before an earlier one, whose verdicts it builds on.
      if (window.endMs + this.#graceMs > nowMs && !(window.endMs <= nowMs && this.windows.complete(window.index))) break;
      // Windows nobody reported in are skipped, not evaluated as empty: an idle endpoint keeps its verdict.
      const started = process.cpuUsage();
      const join = joinWindow(windows, position, false);
      const cpu = process.cpuUsage(started);
      this.lastJoinCpuMs = (cpu.user + cpu.system) / 1000;
      this.#lastEvaluated = window.index;
      this.#apply(join);
      this.evaluatedWindows++;
      evaluated++;
      this.#onWindow?.(join, this.endpoints());
    }
    return evaluated;
  }

  #apply(join: WindowJoin): void {
    const options = this.options;
    // Spans first: an endpoint's latency is read against its cluster's other endpoints over the same span.
    const judged: { state: EndpointState; window: EndpointWindow; span: EndpointWindow }[] = [];
    const clusters = new Map<string, { requests: number; durationMsSum: number; srttSum: number; srttSegs: number }>();
    for (const window of join.endpoints) {
      const key = endpointKey(window.cluster, window.endpoint);
      let state = this.#endpoints.get(key);
      if (!state) {
        this.#makeRoom();
        state = {
          cluster: window.cluster, endpoint: window.endpoint, baseline: undefined, verdict: initialVerdictState(),
          departures: NO_DEPARTURES, signals: signalsOf(window, options.minTailMs), windowEndUnixMs: join.endMs, history: [],
          lastSeenWindow: join.index, previous: undefined,
        };
        this.#endpoints.set(key, state);
      }
      const span = state.previous && state.lastSeenWindow === join.index - 1 ? mergeWindows(state.previous, window) : window;
      state.previous = window;
      judged.push({ state, window, span });
      let cluster = clusters.get(window.cluster);
      if (!cluster) clusters.set(window.cluster, (cluster = { requests: 0, durationMsSum: 0, srttSum: 0, srttSegs: 0 }));
      cluster.requests += span.requests;
      cluster.durationMsSum += span.durationMsSum;
      if (span.srttUs > 0) {
        cluster.srttSum += span.srttUs * span.segsOut;
        cluster.srttSegs += span.segsOut;
      }
    }
    for (const { state, window, span } of judged) {
      const cluster = clusters.get(window.cluster)!;
      const peerRequests = cluster.requests - span.requests;
      const peersLatencyMs = peerRequests >= options.minRequests ? (cluster.durationMsSum - span.durationMsSum) / peerRequests : 0;
      const ownSegs = span.srttUs > 0 ? span.segsOut : 0;
      const peerSegs = cluster.srttSegs - ownSegs;
      const peersSrttUs = peerSegs >= options.minSegs ? (cluster.srttSum - span.srttUs * ownSegs) / peerSegs : 0;
      const signals = signalsOf(span, tailThresholdMs(state.baseline, options.minTailMs), peersLatencyMs, peersSrttUs);
      const d = departures(signals, state.baseline, state.departures, options);
      const raw = classify(d, window.flows > 0 || window.covered);
      const next = nextVerdict(state.verdict, raw, join.index,
        raw === 'app-failing' && latencyOnly(d) ? { ...options, enterWindows: options.latencyEnterWindows } : options);
      if (next.verdict !== state.verdict.verdict) {
        state.history.push({ windowEndUnixMs: join.endMs, from: state.verdict.verdict, to: next.verdict, reason: explain(signals, state.baseline, d) });
        if (state.history.length > this.#historyLength) state.history.shift();
      }
      if (!anyDeparture(d)) state.baseline = updateBaseline(state.baseline, signals, options.alpha, options.minRequests, options.minSegs);
      state.verdict = next;
      state.departures = d;
      state.signals = signals;
      state.windowEndUnixMs = join.endMs;
      state.lastSeenWindow = join.index;
    }
  }

  /**
   * Everything judging the next window needs (per endpoint: baseline, verdict with its hysteresis, departures, the
   * previous window of its span, history) and the last window judged, as JSON of at most `maxBytes`: what a joining
   * replica takes from a peer so its baselines reach as far back as the peer's, not only over the windows replayed.
   */
  exportState(maxBytes = Infinity): string {
    // Within maxBytes (a gRPC answer is bounded), the most recently seen endpoints; the others are left out and start
    // afresh on the joining replica. Listed in this correlator's own order, which its listings follow.
    const encoded = new Map<EndpointState, string>();
    let bytes = 128, omitted = 0;
    for (const state of [...this.#endpoints.values()].sort((a, b) => b.lastSeenWindow - a.lastSeenWindow)) {
      const json = JSON.stringify(state);
      const size = Buffer.byteLength(json) + 1;
      if (bytes + size > maxBytes) { omitted++; continue; }
      encoded.set(state, json);
      bytes += size;
    }
    const endpoints = [...this.#endpoints.values()].filter((state) => encoded.has(state)).map((state) => encoded.get(state)!);
    const lastEvaluated = Number.isFinite(this.#lastEvaluated) ? this.#lastEvaluated : null;
    return `{"format":1,"lastEvaluated":${lastEvaluated},"omitted":${omitted},"endpoints":[${endpoints.join(',')}]}`;
  }

  /**
   * Takes a peer's exportState() before this correlator judged anything: windows up to the peer's last judged one
   * count as judged here too, later ones are judged here on that state. Returns the endpoints taken, or undefined
   * (and changes nothing) once a window was judged here or when the state is not one this version reads.
   */
  importState(json: string): number | undefined {
    if (this.evaluatedWindows > 0) return undefined;
    const state = JSON.parse(json) as { format?: number; lastEvaluated?: number | null; endpoints?: EndpointState[] };
    if (state.format !== 1 || !Array.isArray(state.endpoints)) return undefined;
    const endpoints = state.endpoints.slice(-this.#maxEndpoints);
    this.#endpoints.clear();
    for (const endpoint of endpoints) this.#endpoints.set(endpointKey(endpoint.cluster, endpoint.endpoint), endpoint);
    if (typeof state.lastEvaluated === 'number') this.#lastEvaluated = state.lastEvaluated;
    return endpoints.length;
  }

  #makeRoom(): void {
    if (this.#endpoints.size < this.#maxEndpoints) return;
    let oldest: [string, EndpointState] | undefined;
    for (const entry of this.#endpoints) if (!oldest || entry[1].lastSeenWindow < oldest[1].lastSeenWindow) oldest = entry;
    if (oldest) this.#endpoints.delete(oldest[0]);
  }

  endpoints(): EndpointStatus[] {
    return [...this.#endpoints.values()].map((s) => ({
      cluster: s.cluster, endpoint: s.endpoint, verdict: s.verdict.verdict, windowEndUnixMs: s.windowEndUnixMs,
      signals: s.signals, baseline: s.baseline, departures: s.departures, history: [...s.history],
    })).sort((a, b) => a.cluster.localeCompare(b.cluster) || a.endpoint.localeCompare(b.endpoint));
  }

  endpoint(cluster: string, endpoint: string): EndpointStatus | undefined {
    return this.endpoints().find((e) => e.cluster === cluster && e.endpoint === endpoint);
  }

  /**
   * Joins of every kept window with their per-connection detail, newest first, computed on the spot for the Admin
   * views (evaluation keeps no per-connection objects). `evaluated: false` marks windows still open or not yet
   * judged: they change as reports arrive and feed no verdict until they close.
   */
  joins(): (WindowJoin & { evaluated: boolean })[] {
    const windows = this.windows.windows();
    return windows.map((window, position) => ({ ...joinWindow(windows, position), evaluated: window.index <= this.#lastEvaluated }))
      .sort((a, b) => b.index - a.index);
  }

  /** Joined connections of the kept windows, newest window first. */
  correlations(joins = this.joins()): CorrelationView[] {
    return joins.flatMap((join) => join.connections.map((c) => ({ ...c, windowEndUnixMs: join.endMs })));
  }

  /** Route attributions of the kept windows, newest window first. */
  routes(joins = this.joins()): RouteView[] {
    return joins.flatMap((join) => join.routes.map((r) => ({ ...r, windowEndUnixMs: join.endMs })));
  }
}

const pct = (value: number) => `${(value * 100).toFixed(2)}%`;

/** One line an operator reads in the verdict history: the signals that departed, against their baselines. */
export function explain(s: EndpointSignals, b: EndpointBaseline | undefined, d: Departures): string {
  const parts: string[] = [];
  if (d.retransmits) parts.push(`retransmit ratio ${pct(s.retransRatio)} vs baseline ${pct(b?.retransRatio ?? 0)} (${s.retransSegs}/${s.segsOut} segments)`);
  if (d.retransPerRequest) parts.push(`retransmits per request ${s.retransPerRequest.toFixed(3)} vs baseline ${(b?.retransPerRequest ?? 0).toFixed(3)}`);
  if (d.rtt) parts.push(`smoothed RTT ${(s.srttUs / 1000).toFixed(1)} ms vs baseline ${((b?.srttUs ?? 0) / 1000).toFixed(1)} ms`);
  if (d.errors) parts.push(`error ratio ${pct(s.errorRatio)} vs baseline ${pct(b?.errorRatio ?? 0)} (${s.errors}/${s.requests})`);
  if (d.slowCalls) parts.push(`slow-call ratio ${pct(s.slowRatio)} vs baseline ${pct(b?.slowRatio ?? 0)}`);
  if (d.latencyTail) parts.push(`requests over ${s.tailMs.toFixed(0)} ms ${pct(s.tailRatio)} vs baseline ${pct(b?.tailRatio ?? 0)}`);
  const usual = (b?.relativeLatency ?? 0) > 0 ? b!.relativeLatency : 1;
  if (d.relativeLatency) parts.push(`mean latency ${s.relativeLatency.toFixed(2)} × its peers' (${s.peersLatencyMs.toFixed(1)} ms) vs usually ${usual.toFixed(2)} ×`);
  if (d.lossLatency) parts.push(`${s.lossyRequests} requests on retransmitting connections ${s.lossyRelativeLatency.toFixed(2)} × its peers' latency vs usually ${usual.toFixed(2)} ×`);
  return parts.length > 0 ? parts.join('; ') : 'every signal at baseline';
}
