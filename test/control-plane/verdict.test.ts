// Per-endpoint signals, baselines and verdicts (pure, time injected): hand-derived figures, a clean run of 60
// windows that flags nothing, each fault classified within one window, and hysteresis that keeps verdicts still.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CorrelationWindows } from '../../control-plane/src/correlation-windows.ts';
import { Correlator } from '../../control-plane/src/correlator.ts';
import { signalsOf, tailThresholdMs, updateBaseline } from '../../control-plane/src/endpoint-baseline.ts';
import type { EndpointWindow } from '../../control-plane/src/correlation.ts';
import {
  classify, DEFAULT_VERDICT_OPTIONS, departures, initialVerdictState, latencyOnly, nextVerdict, NO_DEPARTURES, type Verdict,
} from '../../control-plane/src/verdict.ts';

const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
/** Duration histogram (telemetry.proto bounds 0.5, 1, 5, 10, 25, 50, 100, 250, 500, …) with `fast` calls in (1, 5] ms
 * and `slow` calls in (100, 250] ms. */
const buckets = (fast: number, slow: number) => [0, 0, fast, 0, 0, 0, 0, slow];
const window = (w: Partial<EndpointWindow>): EndpointWindow => ({
  cluster: CLUSTER, endpoint: '10.0.0.2:8080', requests: 100, errors: 0, slowCalls: 0, durationMsSum: 300, buckets: buckets(100, 0),
  flows: 1, covered: true, retransSegs: 0, segsOut: 400, srttUs: 200, lossyRequests: 0, lossyDurationMsSum: 0, ...w,
});

const Signals = suite('signals and baseline');

Signals('signals of a window, hand-derived', () => {
  // 100 requests, 5 errors, 4 calls in (100, 250] ms; tail threshold 50 ms lies below that bucket: all 4 count.
  const s = signalsOf(window({ errors: 5, slowCalls: 2, durationMsSum: 96 * 3 + 4 * 200, buckets: buckets(96, 4), retransSegs: 12, segsOut: 400 }), 50);
  assert.equal([s.errorRatio, s.slowRatio, s.tailRatio, s.retransRatio, s.meanLatencyMs], [0.05, 0.02, 0.04, 0.03, 10.88]);
  // A threshold of 175 ms splits the (100, 250] bucket linearly: 4 × (250 − 175) / 150 = 2 calls.
  assert.is(signalsOf(window({ buckets: buckets(96, 4) }), 175).tailCalls, 2);
});

Signals('the baseline: first sample sets it, then an EWMA with alpha 0.1; parts without data keep their value', () => {
  const o = DEFAULT_VERDICT_OPTIONS;
  let b = updateBaseline(undefined, signalsOf(window({ errors: 2, retransSegs: 4 }), 50), 0.1, o.minRequests, o.minSegs);
  assert.equal([b.windows, b.kernelWindows, b.errorRatio, b.retransRatio, b.meanLatencyMs, b.srttUs], [1, 1, 0.02, 0.01, 3, 200]);
  b = updateBaseline(b, signalsOf(window({ errors: 4, retransSegs: 0, srttUs: 300 }), 50), 0.1, o.minRequests, o.minSegs);
  // 0.02 + 0.1 × (0.04 − 0.02) = 0.022; 0.01 + 0.1 × (0 − 0.01) = 0.009; 200 + 0.1 × 100 = 210.
  assert.ok(Math.abs(b.errorRatio - 0.022) < 1e-12 && Math.abs(b.retransRatio - 0.009) < 1e-12 && b.srttUs === 210, JSON.stringify(b));
  const idle = updateBaseline(b, signalsOf(window({ requests: 3, errors: 3, segsOut: 5 }), 50), 0.1, o.minRequests, o.minSegs);
  assert.equal(idle, b, 'windows below minRequests / minSegs teach nothing');
  assert.is(tailThresholdMs(undefined, 50), 50);
  assert.is(tailThresholdMs({ ...b, meanLatencyMs: 30 }, 50), 120, '4 × the mean latency once it exceeds the floor');
});

const Verdicts = suite('verdicts');

Verdicts('departures and classification, hand-derived against a learned baseline', () => {
  const base = updateBaseline(undefined, signalsOf(window({}), 50), 0.1, 10, 20);
  const warm = { ...base, windows: 5 };
  const lossy = signalsOf(window({ retransSegs: 12, segsOut: 400, durationMsSum: 96 * 3 + 4 * 200, buckets: buckets(96, 4) }), 50);
  const d = departures(lossy, warm, NO_DEPARTURES);
  // retransmit ratio 0.03 ≥ 3 × 0 + 0.005 with 12 ≥ 3 segments; 0.12 retransmits per request ≥ 3 × 0 + 0.01;
  // tail 0.04 ≥ 2 × 0 + 0.01 with 4 ≥ 3 calls.
  assert.equal(d, {
    retransmits: true, retransPerRequest: true, rtt: false, errors: false, slowCalls: false, latencyTail: true, relativeLatency: false, lossLatency: false,
    sharedSlowdown: false,
  });
  assert.is(classify(d, true), 'network-suspect');
  assert.is(classify({ ...d, errors: true }, true), 'both');
  assert.is(classify({ ...NO_DEPARTURES, errors: true }, true), 'app-failing');
  assert.is(classify({ ...NO_DEPARTURES, retransmits: true }, true), 'healthy', 'loss that delays nothing is absorbed');
  assert.is(classify(d, false), 'unknown', 'no kernel data: no claim');
  assert.is(departures(lossy, base, NO_DEPARTURES).latencyTail, false, 'latency needs warmupWindows of baseline');
  const twoRetrans = departures(signalsOf(window({ retransSegs: 2, segsOut: 100 }), 50), warm, NO_DEPARTURES);
  assert.equal([twoRetrans.retransmits, twoRetrans.retransPerRequest], [false, false], 'ratio 0.02 but below 3 segments: noise');
  // Schmitt trigger: once departed, 0.003 (≥ 1.5 × 0 + 0.002) stays departed, though it would not enter.
  const low = signalsOf(window({ retransSegs: 3, segsOut: 1000, requests: 400 }), 50);
  assert.is(departures(low, warm, NO_DEPARTURES).retransmits, false);
  assert.is(departures(low, warm, { ...NO_DEPARTURES, retransmits: true }).retransmits, true);
  // Per request: 3 / 400 = 0.0075 < 0.01 does not enter; it stays (≥ 0.004) once departed.
  assert.is(departures(low, warm, NO_DEPARTURES).retransPerRequest, false);
  assert.is(departures(low, warm, { ...NO_DEPARTURES, retransPerRequest: true }).retransPerRequest, true);
});

Verdicts('latency against the cluster\'s other endpoints: a host slowing everyone is not the endpoint, a lost segment is', () => {
  // Learned beside its peers at 1.0 × their latency (mean 3 ms vs peers' 3 ms).
  const base = updateBaseline(undefined, signalsOf(window({}), 50, 3), 0.1, 10, 20);
  assert.is(base.relativeLatency, 1);
  // The whole host slows down: the endpoint's 30 ms is its peers' 30 ms, no departure however far from its own 3 ms.
  const host = signalsOf(window({ durationMsSum: 3000, retransSegs: 12 }), 50, 30);
  assert.equal([host.relativeLatency, departures(host, base, NO_DEPARTURES).relativeLatency], [1, false]);
  // 4 of 100 requests stalled 200 ms by retransmissions: mean 10.88 ms against peers at 3 ms → 3.63 ≥ 1.3 × 1.
  const lossy = signalsOf(window({ durationMsSum: 96 * 3 + 4 * 200, retransSegs: 12 }), 50, 3);
  const d = departures(lossy, base, NO_DEPARTURES);
  assert.ok(Math.abs(lossy.relativeLatency - 10.88 / 3) < 1e-12);
  assert.equal([d.retransmits, d.relativeLatency, d.latencyTail], [true, true, false], 'tail needs a warm baseline; peers do not');
  assert.is(classify(d, true), 'network-suspect');
  // The 20 requests on the connections that retransmitted carry the 4 stalls: (16 × 3 + 4 × 200) / 20 = 42.4 ms,
  // 14.1 × the peers'; with only 2 such requests the ratio is not trusted.
  const onLossy = signalsOf(window({ retransSegs: 12, lossyRequests: 20, lossyDurationMsSum: 16 * 3 + 4 * 200 }), 50, 3);
  assert.ok(Math.abs(onLossy.lossyRelativeLatency - 42.4 / 3) < 1e-12);
  assert.equal([departures(onLossy, base, NO_DEPARTURES).lossLatency, departures(onLossy, base, NO_DEPARTURES).relativeLatency], [true, false]);
  assert.is(departures(signalsOf(window({ retransSegs: 12, lossyRequests: 2, lossyDurationMsSum: 400 }), 50, 3), base, NO_DEPARTURES).lossLatency, false);
  // Slower than its peers without loss: not network evidence, and not app-failing either (host scheduling is uneven).
  assert.is(classify({ ...NO_DEPARTURES, relativeLatency: true, lossLatency: true }, true), 'healthy');
  // Its tail departs from its own warm baseline (4 of 100 over 50 ms vs none), but its peers are as slow (ratio 1):
  // a shared slowdown, no verdict; as slow without peers (a one-endpoint cluster), app-failing.
  const warm = { ...base, windows: 5 };
  const slowAll = signalsOf(window({ durationMsSum: 96 * 3 + 4 * 200, buckets: buckets(96, 4) }), 50, 10.88);
  const shared = departures(slowAll, warm, NO_DEPARTURES);
  assert.equal([shared.latencyTail, shared.relativeLatency, shared.sharedSlowdown, classify(shared, true)], [true, false, true, 'healthy']);
  const alone = departures(signalsOf(window({ durationMsSum: 96 * 3 + 4 * 200, buckets: buckets(96, 4) }), 50), warm, NO_DEPARTURES);
  assert.equal([alone.sharedSlowdown, classify(alone, true), latencyOnly(alone)], [false, 'app-failing', true]);
});

Verdicts('hysteresis: healthy leaves after one window; a fault verdict only after 3 windows pointing elsewhere', () => {
  let s = initialVerdictState();
  const seen: Verdict[] = [];
  const raws: Verdict[] = ['healthy', 'healthy', 'app-failing', 'healthy', 'app-failing', 'healthy', 'healthy', 'healthy', 'unknown', 'unknown', 'unknown'];
  raws.forEach((raw, i) => { s = nextVerdict(s, raw, i); seen.push(s.verdict); });
  assert.equal(seen, ['healthy', 'healthy', 'app-failing', 'app-failing', 'app-failing', 'app-failing', 'app-failing', 'healthy', 'healthy', 'healthy', 'unknown']);
});

/** Deterministic noise (LCG) so the clean run is the same on every machine. */
function rng(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

interface Profile { lossRatio?: number; errorRatio?: number }

/** Feeds one window of reports for three endpoints (B, C, D) through the real CorrelationWindows. */
function feed(windows: CorrelationWindows, w: number, next: () => number, faults: Record<string, Profile>) {
  const start = w * 1000;
  const flows = [];
  for (const [i, name] of ['B', 'C', 'D'].entries()) {
    const remote = `10.0.${i}.2:8080`;
    const local = `10.0.0.1:${40000 + i}`;
    const requests = 90 + Math.floor(next() * 20);
    const profile = faults[name] ?? {};
    // Clean noise: now and then one error, one 60 ms call, one retransmitted segment.
    let errors = next() < 0.2 ? 1 : 0;
    let slow = next() < 0.2 ? 1 : 0;
    const segsOut = requests * 2;
    let retrans = next() < 0.1 ? 1 : 0;
    if (profile.errorRatio) errors = Math.round(requests * profile.errorRatio);
    if (profile.lossRatio) {
      retrans = Math.round(segsOut * profile.lossRatio);
      slow = retrans;                     // each lost segment costs one request a ≥ 200 ms retransmission timeout
    }
    const fast = requests - slow;
    windows.addFilterReport('client', start, start + 1000, [{
      localAddress: local, remoteAddress: remote, cluster: CLUSTER, requests, errors, slowCalls: 0,
      durationMsSum: fast * 2 + slow * (profile.lossRatio ? 210 : 60), buckets: profile.lossRatio ? buckets(fast, slow) : [0, 0, fast, 0, 0, slow],
      routes: [{ pathTemplate: '/orders/{id}', tenant: 'acme', requests, errors }],
    }]);
    flows.push({ netns: 1, localAddress: local, remoteAddress: remote, retransSegs: retrans, segsOut, srttUs: 150 + Math.floor(next() * 100), direction: 'FLOW_DIRECTION_OUTBOUND' as const });
  }
  windows.addKernelReport('node', start + 300, start + 1300, flows, [{ netns: 1, proxyId: 'client' }]);
}

/** Feeds windows [from, to), each seeded by `seed` + its number (so two correlators see the same traffic), judging each as it closes. */
function judgeSeeded(correlator: Correlator, from: number, to: number, seed: number, profile: (w: number) => Record<string, Profile>): void {
  for (let w = from; w < to; w++) {
    feed(correlator.windows, w, rng(seed + w), profile(w));
    correlator.evaluate((w + 1) * 1000 + 500);
  }
}

const verdictsOf = (c: Correlator) => Object.fromEntries(c.endpoints().map((e) => [e.endpoint, e.verdict]));

Verdicts('a clean run of 60 windows flags nothing', () => {
  const windows = new CorrelationWindows();
  const correlator = new Correlator(windows);
  const next = rng(7);
  const flagged: string[] = [];
  for (let w = 0; w < 60; w++) {
    feed(windows, w, next, {});
    correlator.evaluate((w + 1) * 1000 + 500);
    for (const e of correlator.endpoints()) if (e.verdict !== 'healthy') flagged.push(`${w} ${e.endpoint} ${e.verdict}`);
  }
  assert.is(correlator.evaluatedWindows, 60);
  assert.equal(flagged, []);
  assert.ok(correlator.endpoints().every((e) => e.history.length === 1 && e.history[0]!.to === 'healthy'), 'one change each: unknown → healthy');
});

Verdicts('a joining replica judges nothing before evaluateFromMs, then every window it was sent, oldest first: as one that ran throughout', () => {
  // A replica that ran throughout, and one that starts during window 6: it receives windows 6-7 live before windows
  // 0-5 arrive as its peers' catch-up replay. Held until 9,500, it judges all 8 in order and agrees; judging window
  // 6 on arrival (no hold) would have skipped 0-5 for good. C fails from window 4. Each window's traffic is seeded by
  // its number, so both replicas see the same reports.
  const profile = (w: number): Record<string, Profile> => (w >= 4 ? { C: { errorRatio: 0.2 } } : {});
  const throughout = new Correlator(new CorrelationWindows());
  judgeSeeded(throughout, 0, 8, 100, profile);
  const joining = new Correlator(new CorrelationWindows(), { evaluateFromMs: 9_500 });
  for (const w of [6, 7]) {
    feed(joining.windows, w, rng(100 + w), profile(w));
    assert.is(joining.evaluate((w + 1) * 1000 + 500), 0, `held at window ${w}`);
  }
  for (let w = 0; w < 6; w++) feed(joining.windows, w, rng(100 + w), profile(w));
  assert.is(joining.evaluate(9_500), 8);
  assert.equal(joining.endpoints(), throughout.endpoints());
  assert.is(verdictsOf(joining)['10.0.1.2:8080'], 'app-failing');
});

Verdicts('a joining replica that takes a peer\'s state judges on the peer\'s baselines and history through a fault that began before its kept windows', () => {
  // The peer ran 20 windows, B losing 3 % of its packets from window 8. A replica joining at window 20 is sent only
  // the last windows (it keeps 10), all of them lossy for B. With the peer's state it judges windows 20-29 exactly as
  // the peer does.
  const profile = (w: number): Record<string, Profile> => (w >= 8 ? { B: { lossRatio: 0.03 } } : {});
  const peer = new Correlator(new CorrelationWindows());
  judgeSeeded(peer, 0, 20, 200, profile);
  const joining = new Correlator(new CorrelationWindows());
  const alone = new Correlator(new CorrelationWindows());
  assert.is(joining.importState(peer.exportState()), 3);
  for (let w = 10; w < 20; w++) for (const c of [joining, alone]) feed(c.windows, w, rng(200 + w), profile(w));   // the replay
  for (const c of [peer, joining, alone]) judgeSeeded(c, 20, 30, 200, profile);
  assert.equal(joining.endpoints(), peer.endpoints());
  // B's verdict is the same either way (loss reads against B's peers too), but alone it has no healthy history and no
  // baseline: every window it holds departs.
  const lossy = (c: Correlator) => c.endpoint(CLUSTER, '10.0.0.2:8080')!;
  assert.equal(lossy(joining).history.map((h) => [h.to, h.windowEndUnixMs]), [['healthy', 1000], ['network-suspect', 9000]]);
  assert.is(lossy(joining).baseline!.windows, 8);
  assert.equal(lossy(alone).history.map((h) => [h.from, h.to]), [['unknown', 'network-suspect']]);
  assert.is(lossy(alone).baseline, undefined);
  // Bounded: past maxBytes the least recently seen endpoints are left out (counted), the newest kept.
  const full = Buffer.byteLength(peer.exportState());
  const trimmed = JSON.parse(peer.exportState(full - 10));
  assert.equal([trimmed.endpoints.length, trimmed.omitted], [2, 1]);
  assert.ok(Buffer.byteLength(peer.exportState(full - 10)) <= full - 10);
  // Only before it judged anything, and only a state this version reads.
  assert.is(joining.importState(peer.exportState()), undefined);
  assert.is(new Correlator(new CorrelationWindows()).importState('{"format":2,"endpoints":[]}'), undefined);
});

Verdicts('faults from window 20: B 3 % loss → network-suspect, C 20 % errors → app-failing, D stays healthy; all in the first faulty window', () => {
  const windows = new CorrelationWindows();
  const correlator = new Correlator(windows);
  const next = rng(11);
  const onset = 20;
  const firstSeen: Record<string, number> = {};
  for (let w = 0; w < 40; w++) {
    feed(windows, w, next, w >= onset ? { B: { lossRatio: 0.03 }, C: { errorRatio: 0.2 } } : {});
    correlator.evaluate((w + 1) * 1000 + 500);
    for (const [endpoint, verdict] of Object.entries(verdictsOf(correlator))) {
      if (verdict !== 'healthy' && firstSeen[endpoint] === undefined) firstSeen[endpoint] = w;
    }
  }
  assert.equal(verdictsOf(correlator), { '10.0.0.2:8080': 'network-suspect', '10.0.1.2:8080': 'app-failing', '10.0.2.2:8080': 'healthy' });
  assert.equal(firstSeen, { '10.0.0.2:8080': onset, '10.0.1.2:8080': onset });
  const b = correlator.endpoint(CLUSTER, '10.0.0.2:8080')!;
  assert.is(b.history.length, 2, 'unknown → healthy → network-suspect, no flapping for 20 faulty windows');
  // Judged on the span of windows 19 (clean) and 20 (3 % loss): about half the loss shows in the first faulty span.
  assert.match(b.history[1]!.reason, /^retransmit ratio [12]\.\d\d% vs baseline 0\.\d\d% \(\d+\/\d+ segments\); retransmits per request 0\.0\d\d vs baseline 0\.00\d; requests over 150 ms/, b.history[1]!.reason);
  assert.ok(b.baseline!.retransRatio < 0.005, 'the fault did not teach the baseline');
  // The route that used B carries its retransmits.
  const [route] = correlator.routes().filter((r) => r.retransSegs > 0 && r.windowEndUnixMs === 40_000);
  assert.ok(route!.retransSegs >= 5, `attributed ${route!.retransSegs}`);

  // Faults end: verdicts return after exitWindows (3) clean spans, not before; span 40 still holds faulty window 39.
  const back: Record<string, number> = {};
  for (let w = 40; w < 50; w++) {
    feed(windows, w, next, {});
    correlator.evaluate((w + 1) * 1000 + 500);
    for (const [endpoint, verdict] of Object.entries(verdictsOf(correlator))) if (verdict === 'healthy' && back[endpoint] === undefined) back[endpoint] = w;
  }
  assert.equal(back, { '10.0.0.2:8080': 43, '10.0.1.2:8080': 43, '10.0.2.2:8080': 40 });
});

Verdicts('an error ratio hovering around the threshold does not flap the verdict', () => {
  const windows = new CorrelationWindows();
  const correlator = new Correlator(windows);
  const next = rng(3);
  for (let w = 0; w < 10; w++) {
    feed(windows, w, next, {});
    correlator.evaluate((w + 1) * 1000 + 500);
  }
  // Windows at 12 %, 4 %, 0 %, … make two-window spans of ~6 %, 8 %, 2 %, 6 %, …: the error signal enters at ≥ 5 points
  // and stays at ≥ 2 points above baseline, so it drops out once every third span, and one span is not 3.
  const ratios = [0.12, 0.04, 0, 0.12, 0.04, 0, 0.12, 0.04, 0, 0.12, 0.04, 0];
  ratios.forEach((errorRatio, i) => {
    const w = 10 + i;
    feed(windows, w, next, errorRatio ? { C: { errorRatio } } : {});
    correlator.evaluate((w + 1) * 1000 + 500);
  });
  const c = correlator.endpoint(CLUSTER, '10.0.1.2:8080')!;
  assert.is(c.verdict, 'app-failing');
  assert.equal(c.history.map((h) => h.to), ['healthy', 'app-failing'], 'one change in, none out');
});

Verdicts('a window is judged once every source reported into it or past it, else graceMs after its end; the endpoint table is bounded', () => {
  const windows = new CorrelationWindows();
  const correlator = new Correlator(windows, { maxEndpoints: 2 });
  feed(windows, 0, rng(1), {});
  assert.is(correlator.evaluate(999), 0, 'not before the window ends');
  assert.is(correlator.evaluate(1000), 1, 'the filter and the agent both reported into it: no need to wait');
  assert.is(correlator.evaluate(5000), 0, 'each window is evaluated once');
  assert.is(correlator.endpoints().length, 2, '3 endpoints, room for 2');
  // Window 1 has the filter's report only: the agent, heard from in window 0, may still report into it.
  windows.addFilterReport('client', 1000, 2000, [{
    localAddress: '10.0.0.1:40000', remoteAddress: '10.0.0.2:8080', cluster: CLUSTER, requests: 10, errors: 0, slowCalls: 0,
    durationMsSum: 20, buckets: [], routes: [],
  }]);
  assert.is(correlator.evaluate(2999), 0, 'waiting for the agent, up to graceMs (one window) after the end');
  assert.is(correlator.evaluate(3000), 1, 'then judged without it');
  // An agent reporting past window 2 closes it at once; a source silent for two windows holds nothing back.
  windows.addKernelReport('node', 2200, 3200, [], [{ netns: 1, proxyId: 'client' }]);
  windows.addFilterReport('client', 2000, 3000, [], '');
  assert.is(correlator.evaluate(3000), 1);
  windows.addKernelReport('node', 5000, 6000, [], [{ netns: 1, proxyId: 'client' }]);
  assert.ok(windows.complete(5), 'the filter, last heard in window 2, is not waited for in window 5');
  assert.not.ok(windows.complete(4), 'but is in window 4');
});

Signals.run();
Verdicts.run();
