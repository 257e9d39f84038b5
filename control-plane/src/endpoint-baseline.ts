// Per upstream endpoint: the signals of one window (retransmit ratio, smoothed RTT, error ratio, slow-call ratio,
// latency-tail ratio) and the endpoint's own baseline, an exponentially weighted moving average fed only by windows
// in which nothing departed, so a fault never teaches the baseline that it is normal. Pure.
import { slowCallsFromBuckets } from './telemetry-store.ts';
import type { EndpointWindow } from './correlation.ts';

export interface EndpointSignals {
  requests: number;
  errors: number;
  slowCalls: number;           // as the filters counted them under the governing policy's slowCallMs
  tailCalls: number;           // requests slower than tailMs (from the duration histogram)
  tailMs: number;
  flows: number;
  retransSegs: number;
  segsOut: number;
  srttUs: number;
  meanLatencyMs: number;
  errorRatio: number;
  slowRatio: number;
  tailRatio: number;
  retransRatio: number;        // retransmitted / sent segments; 0 without sent segments
  // Retransmitted segments per completed request.
  retransPerRequest: number;
  // Latency against the other endpoints of the cluster in the same window (their requests' mean; 0 without them). A
  // loaded client host slows every endpoint alike, an endpoint's own trouble slows only it: the ratio to its peers
  // keeps the first out and the second in, where a ratio to the endpoint's own history would track the host's load.
  peersLatencyMs: number;
  relativeLatency: number;     // meanLatencyMs / peersLatencyMs; 0 when either is unknown
  peersSrttUs: number;         // the peers' smoothed RTT (sent-segment weighted); 0 without them
  // The same ratio for the requests on connections that retransmitted in the window (lossyRequests of EndpointWindow).
  lossyRequests: number;
  lossyRelativeLatency: number;
}

export interface EndpointBaseline {
  windows: number;             // windows that fed the outcome averages
  kernelWindows: number;       // windows that fed the kernel averages
  errorRatio: number;
  slowRatio: number;
  tailRatio: number;
  meanLatencyMs: number;
  retransRatio: number;
  retransPerRequest: number;
  srttUs: number;
  relativeLatency: number;     // 0 until a window with peers fed it
}

/** Tail threshold for an endpoint: 4 × its baseline mean latency, never below `minTailMs`. */
export function tailThresholdMs(baseline: EndpointBaseline | undefined, minTailMs: number): number {
  return Math.max(minTailMs, 4 * (baseline && baseline.windows > 0 ? baseline.meanLatencyMs : 0));
}

export function signalsOf(window: EndpointWindow, tailMs: number, peersLatencyMs = 0, peersSrttUs = 0): EndpointSignals {
  const requests = window.requests;
  const tailCalls = slowCallsFromBuckets(window.buckets, tailMs) ?? 0;
  const meanLatencyMs = requests > 0 ? window.durationMsSum / requests : 0;
  const lossyLatencyMs = window.lossyRequests > 0 ? window.lossyDurationMsSum / window.lossyRequests : 0;
  return {
    peersLatencyMs,
    peersSrttUs,
    relativeLatency: peersLatencyMs > 0 ? meanLatencyMs / peersLatencyMs : 0,
    lossyRequests: window.lossyRequests,
    lossyRelativeLatency: peersLatencyMs > 0 ? lossyLatencyMs / peersLatencyMs : 0,
    requests, errors: window.errors, slowCalls: window.slowCalls, tailCalls, tailMs,
    flows: window.flows, retransSegs: window.retransSegs, segsOut: window.segsOut, srttUs: window.srttUs,
    meanLatencyMs,
    errorRatio: requests > 0 ? window.errors / requests : 0,
    slowRatio: requests > 0 ? window.slowCalls / requests : 0,
    tailRatio: requests > 0 ? tailCalls / requests : 0,
    retransRatio: window.segsOut > 0 ? window.retransSegs / window.segsOut : 0,
    retransPerRequest: requests > 0 ? window.retransSegs / requests : 0,
  };
}

/**
 * Two consecutive windows of one endpoint as one: verdicts judge a sliding span of the last two windows, so a fault
 * is judged on twice the requests and segments of one window (a few retransmits per second at a modest request
 * rate), and still shows within two report intervals of its onset.
 */
export function mergeWindows(a: EndpointWindow, b: EndpointWindow): EndpointWindow {
  const buckets: number[] = [];
  for (let i = 0; i < Math.max(a.buckets.length, b.buckets.length); i++) buckets.push((a.buckets[i] ?? 0) + (b.buckets[i] ?? 0));
  const srttWeightA = a.srttUs > 0 ? a.segsOut : 0;
  const srttWeightB = b.srttUs > 0 ? b.segsOut : 0;
  return {
    cluster: b.cluster, endpoint: b.endpoint, requests: a.requests + b.requests, errors: a.errors + b.errors,
    slowCalls: a.slowCalls + b.slowCalls, durationMsSum: a.durationMsSum + b.durationMsSum, buckets,
    flows: a.flows + b.flows, covered: a.covered || b.covered, retransSegs: a.retransSegs + b.retransSegs, segsOut: a.segsOut + b.segsOut,
    srttUs: srttWeightA + srttWeightB > 0 ? (a.srttUs * srttWeightA + b.srttUs * srttWeightB) / (srttWeightA + srttWeightB) : 0,
    lossyRequests: a.lossyRequests + b.lossyRequests, lossyDurationMsSum: a.lossyDurationMsSum + b.lossyDurationMsSum,
  };
}

const ewma = (previous: number, sample: number, alpha: number) => previous + alpha * (sample - previous);

/**
 * The baseline after one undisturbed window. The first sample of each part sets it; afterwards each moves by `alpha`
 * of the difference (0.1: a step change is ~65 % absorbed after 10 windows). Parts without data in the window
 * (no requests, no sent segments) keep their value.
 */
export function updateBaseline(baseline: EndpointBaseline | undefined, signals: EndpointSignals, alpha: number, minRequests: number,
  minSegs: number): EndpointBaseline {
  const next: EndpointBaseline = baseline
    ? { ...baseline }
    : { windows: 0, kernelWindows: 0, errorRatio: 0, slowRatio: 0, tailRatio: 0, meanLatencyMs: 0, retransRatio: 0, retransPerRequest: 0, srttUs: 0, relativeLatency: 0 };
  if (signals.requests >= minRequests) {
    const first = next.windows === 0;
    next.errorRatio = first ? signals.errorRatio : ewma(next.errorRatio, signals.errorRatio, alpha);
    next.slowRatio = first ? signals.slowRatio : ewma(next.slowRatio, signals.slowRatio, alpha);
    next.tailRatio = first ? signals.tailRatio : ewma(next.tailRatio, signals.tailRatio, alpha);
    next.meanLatencyMs = first ? signals.meanLatencyMs : ewma(next.meanLatencyMs, signals.meanLatencyMs, alpha);
    next.retransPerRequest = first ? signals.retransPerRequest : ewma(next.retransPerRequest, signals.retransPerRequest, alpha);
    if (signals.relativeLatency > 0) {
      next.relativeLatency = next.relativeLatency === 0 ? signals.relativeLatency : ewma(next.relativeLatency, signals.relativeLatency, alpha);
    }
    next.windows++;
  }
  if (signals.segsOut >= minSegs) {
    const first = next.kernelWindows === 0;
    next.retransRatio = first ? signals.retransRatio : ewma(next.retransRatio, signals.retransRatio, alpha);
    if (signals.srttUs > 0) next.srttUs = next.srttUs === 0 ? signals.srttUs : ewma(next.srttUs, signals.srttUs, alpha);
    next.kernelWindows++;
  }
  return next;
}
