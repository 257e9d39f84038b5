// Per endpoint and window: which signals depart from the endpoint's baseline, the verdict they point to, and the
// hysteresis that keeps a verdict from flapping. Pure.
//
// Verdicts:
//   unknown          no kernel evidence for the endpoint in the window: no flow joined and no agent covered the
//                    namespace of a proxy that used it (no evidence either way)
//   network-suspect  the retransmit ratio (or retransmits per request, or smoothed RTT) departs while latency rises
//                    and errors do not. Latency rising, for this verdict, is also read against the endpoint's peers
//                    (the other endpoints of its cluster in the same window): its requests, or those on the very
//                    connections that retransmitted, are slower than the peers' by more than its usual ratio. A
//                    loaded client host slows every endpoint and moves the endpoint's own latency history with it;
//                    a lost segment stalls only its own exchange, for a retransmission timeout (>= 200 ms).
//   app-failing      errors or latency rise while retransmits and RTT stay at baseline
//   both             the retransmit ratio departs and errors rise: loss delays requests (retransmission timeouts) but
//                    does not answer 5xx, so errors next to loss are not explained by the network alone
//   healthy          nothing departs, or retransmits depart without any effect on the requests (loss absorbed)
// Hysteresis, twice over: each signal departs at an enter threshold and returns only below a lower exit threshold
// (a Schmitt trigger); and a verdict other than healthy/unknown is left only after `exitWindows` consecutive windows
// pointing elsewhere, while healthy/unknown are left after `enterWindows` (default 1, so a fault shows within one
// window of the first window it fills).
import type { EndpointBaseline, EndpointSignals } from './endpoint-baseline.ts';

export type Verdict = 'healthy' | 'network-suspect' | 'app-failing' | 'both' | 'unknown';
export const VERDICTS: readonly Verdict[] = ['healthy', 'network-suspect', 'app-failing', 'both', 'unknown'];

export interface Departures {
  retransmits: boolean;
  retransPerRequest: boolean;
  rtt: boolean;
  errors: boolean;
  slowCalls: boolean;
  latencyTail: boolean;
  relativeLatency: boolean;    // slower than its peers beyond its usual ratio
  lossLatency: boolean;        // requests on its retransmitting connections slower than its peers beyond that ratio
  // Its latency departs from its own baseline but so does every peer's: the client side (a loaded host, the proxy)
  // slowed the whole cluster, which is no verdict on this endpoint.
  sharedSlowdown: boolean;
}

export const NO_DEPARTURES: Departures = {
  retransmits: false, retransPerRequest: false, rtt: false, errors: false, slowCalls: false, latencyTail: false, relativeLatency: false,
  lossLatency: false, sharedSlowdown: false,
};

/** A departure test: enter when value ≥ base × enterFactor + enterDelta, stay while value ≥ base × exitFactor + exitDelta. */
export interface Threshold { enterFactor: number; enterDelta: number; exitFactor: number; exitDelta: number; minCount: number }

export interface VerdictOptions {
  minRequests: number;         // fewer requests in a window: outcome signals do not depart
  minSegs: number;             // fewer sent segments: the retransmit ratio does not depart
  warmupWindows: number;       // latency signals need this many baseline windows (a mean to compare against)
  retransmits: Threshold;      // on the retransmit ratio; minCount on retransmitted segments
  retransPerRequest: Threshold; // on retransmitted segments per request; minCount on retransmitted segments
  rttUs: Threshold;            // on the smoothed RTT in microseconds
  errors: Threshold;           // on the error ratio; minCount on errors
  slowCalls: Threshold;        // on the slow-call ratio
  latencyTail: Threshold;      // on the share of requests slower than the tail threshold
  relativeLatency: Threshold;  // on mean latency / the peers' mean latency, against its baseline (1 before one)
  lossLatency: Threshold;      // the same ratio for requests on retransmitting connections; minCount on those requests
  enterWindows: number;
  latencyEnterWindows: number; // app-failing on latency alone (no errors) needs this many windows in a row
  exitWindows: number;
  alpha: number;               // baseline EWMA weight
  minTailMs: number;
}

export const DEFAULT_VERDICT_OPTIONS: VerdictOptions = {
  minRequests: 10,
  minSegs: 20,
  warmupWindows: 5,
  // Clean links retransmit nothing for minutes; 0.5 points above 3 × baseline with 3 segments is far above that and
  // below the 2 % loss the end-to-end test injects.
  retransmits: { enterFactor: 3, enterDelta: 0.005, exitFactor: 1.5, exitDelta: 0.002, minCount: 3 },
  // A request/response exchange is a few segments each way: 1 retransmit per 100 requests is ~0.5 % loss.
  retransPerRequest: { enterFactor: 3, enterDelta: 0.01, exitFactor: 1.5, exitDelta: 0.004, minCount: 3 },
  rttUs: { enterFactor: 2, enterDelta: 10_000, exitFactor: 1.5, exitDelta: 5_000, minCount: 0 },
  errors: { enterFactor: 1, enterDelta: 0.05, exitFactor: 1, exitDelta: 0.02, minCount: 3 },
  slowCalls: { enterFactor: 1, enterDelta: 0.05, exitFactor: 1, exitDelta: 0.02, minCount: 3 },
  // On the share of requests slower than max(minTailMs, 4 × the baseline mean).
  latencyTail: { enterFactor: 2, enterDelta: 0.01, exitFactor: 1.5, exitDelta: 0.005, minCount: 3 },
  // Clean endpoints of one cluster stayed within 0.76 to 1.15 of their peers per window on this shared host; 3 % loss
  // raised the lossy endpoint to 1.2 to 3.5 and its retransmitting connections to 2 and more.
  relativeLatency: { enterFactor: 1.3, enterDelta: 0, exitFactor: 1.15, exitDelta: 0, minCount: 0 },
  lossLatency: { enterFactor: 1.5, enterDelta: 0, exitFactor: 1.25, exitDelta: 0, minCount: 3 },
  enterWindows: 1,
  // One stalled upstream process slows its endpoint for a window (and the two-window span after it) on a shared host;
  // an application that got slow stays slow.
  latencyEnterWindows: 3,
  exitWindows: 3,
  alpha: 0.1,
  // Just under the 200 ms that a lost segment costs at least (Linux TCP_RTO_MIN, also the tail-loss probe's floor with
  // one segment in flight): loss-delayed requests land above it, while a loaded host's stalls mostly stay below.
  minTailMs: 150,
};

function departs(value: number, base: number, count: number, threshold: Threshold, active: boolean): boolean {
  if (active) return value >= base * threshold.exitFactor + threshold.exitDelta;
  return count >= threshold.minCount && value >= base * threshold.enterFactor + threshold.enterDelta;
}

export function departures(signals: EndpointSignals, baseline: EndpointBaseline | undefined, previous: Departures,
  options: VerdictOptions = DEFAULT_VERDICT_OPTIONS): Departures {
  const base = baseline ?? {
    windows: 0, kernelWindows: 0, errorRatio: 0, slowRatio: 0, tailRatio: 0, meanLatencyMs: 0, retransRatio: 0, retransPerRequest: 0, srttUs: 0,
    relativeLatency: 0,
  };
  const relativeBase = base.relativeLatency > 0 ? base.relativeLatency : 1;
  const outcomes = signals.requests >= options.minRequests;
  const kernel = signals.segsOut >= options.minSegs;
  const warm = base.windows >= options.warmupWindows;
  const d: Departures = {
    retransmits: kernel && departs(signals.retransRatio, base.retransRatio, signals.retransSegs, options.retransmits, previous.retransmits),
    retransPerRequest: outcomes && departs(signals.retransPerRequest, base.retransPerRequest, signals.retransSegs, options.retransPerRequest, previous.retransPerRequest),
    // The same host-wide rise as latency: a busy host delays every flow's ACKs alike, so RTT departs only when it
    // also stands out from the peers' (their smoothed RTT × the enter factor).
    rtt: kernel && base.srttUs > 0 && signals.srttUs > 0 && departs(signals.srttUs, base.srttUs, 1, options.rttUs, previous.rtt) &&
      !(signals.peersSrttUs > 0 && signals.srttUs < signals.peersSrttUs * options.rttUs.enterFactor),
    errors: outcomes && departs(signals.errorRatio, base.errorRatio, signals.errors, options.errors, previous.errors),
    slowCalls: outcomes && departs(signals.slowRatio, base.slowRatio, signals.slowCalls, options.slowCalls, previous.slowCalls),
    latencyTail: outcomes && warm && departs(signals.tailRatio, base.tailRatio, signals.tailCalls, options.latencyTail, previous.latencyTail),
    relativeLatency: outcomes && signals.relativeLatency > 0 &&
      departs(signals.relativeLatency, relativeBase, 1, options.relativeLatency, previous.relativeLatency),
    lossLatency: signals.lossyRelativeLatency > 0 &&
      departs(signals.lossyRelativeLatency, relativeBase, signals.lossyRequests, options.lossLatency, previous.lossLatency),
    sharedSlowdown: false,
  };
  d.sharedSlowdown = (d.slowCalls || d.latencyTail) && signals.peersLatencyMs > 0 && !d.relativeLatency;
  return d;
}

/** Entering app-failing on latency alone: slower than usual and than its peers, without errors. */
export const latencyOnly = (d: Departures) => !d.errors && !d.sharedSlowdown && (d.slowCalls || d.latencyTail);

export const anyDeparture = (d: Departures) =>
  d.retransmits || d.retransPerRequest || d.rtt || d.errors || d.slowCalls || d.latencyTail || d.relativeLatency || d.lossLatency;

/** The verdict one window points to, before hysteresis. */
export function classify(d: Departures, hasKernelData: boolean): Verdict {
  if (!hasKernelData) return 'unknown';
  const network = d.retransmits || d.retransPerRequest || d.rtt;
  const latency = (d.slowCalls || d.latencyTail) && !d.sharedSlowdown;
  if (network && d.errors) return 'both';
  // Peer-relative slowness only corroborates loss: alone it would call a host's uneven scheduling an application fault.
  if (network && (latency || d.relativeLatency || d.lossLatency)) return 'network-suspect';
  if (d.errors || latency) return 'app-failing';
  return 'healthy';
}

export interface VerdictState {
  verdict: Verdict;
  sinceWindow: number;         // index of the window the verdict was entered in
  pending: Verdict | undefined;
  pendingWindows: number;
}

export const initialVerdictState = (): VerdictState => ({ verdict: 'unknown', sinceWindow: -1, pending: undefined, pendingWindows: 0 });

export function nextVerdict(state: VerdictState, raw: Verdict, window: number, options: Pick<VerdictOptions, 'enterWindows' | 'exitWindows'> = DEFAULT_VERDICT_OPTIONS): VerdictState {
  if (raw === state.verdict) return { ...state, pending: undefined, pendingWindows: 0 };
  const pendingWindows = raw === state.pending ? state.pendingWindows + 1 : 1;
  const settled = state.verdict === 'healthy' || state.verdict === 'unknown';
  // Into unknown only after exitWindows too: an endpoint whose flows come and go must not toggle every window.
  const required = settled && raw !== 'unknown' ? options.enterWindows : options.exitWindows;
  if (pendingWindows >= required) return { verdict: raw, sinceWindow: window, pending: undefined, pendingWindows: 0 };
  return { ...state, pending: raw, pendingWindows };
}
