// The network-aware breaker on this kernel, option on against option off in one run (scenario.ts underneath: the
// release filter in the Node sidecar, the eBPF node agent, the real control plane), shared by
// test/correlation/network-aware-kernel.test.ts and bench:correlation.
//
// Three clusters, the driver sending each the same traffic (same tenants, routes and request count):
//   lossy-on   B    breaker.networkAware on
//   lossy-off  B    breaker.networkAware off (the same policy otherwise)
//   broken-on  C    breaker.networkAware on
// B loses `lossPercent` % of its input packets, C answers 503 to 20 %. What a failure served by B is here: nftables
// drops a request's segment and the sidecar's kernel sends it again after the tail-loss probe or retransmission
// timeout, at least ~200 ms later (TCP_RTO_MIN, and TCP_DELACK_MAX in the probe's timeout with one segment in flight;
// Linux net/ipv4/tcp_output.c tcp_schedule_loss_probe), so the request succeeds late: a slow call, which the
// breaker counts under slowCallMs / slowCallRateThreshold and the network-aware breaker excuses like a failure
// (filter/assembly/resilience/resilience.ts record). A route timeout short enough to turn those stalls into 504s
// (UT) would reset the connection before its first retransmission, and the kernel would see no loss at all.
//
// The race the option cannot avoid: until the control plane has judged B network-suspect and every filter VM has
// ACKed the suspect set (about 2–3 report intervals), B's slow calls count on lossy-on too. The breaker window
// (BREAKER_WINDOW_MS) dilutes them with the requests before onset, so at ~15 % slow calls the window reaches the
// 10 % threshold ~13 s after onset on lossy-off and stays near 3 % on lossy-on; a window shorter than the verdict
// latency would let B open lossy-on's breaker before the set arrives. So the policies are applied once the traffic
// runs (the first requests of a starting sidecar are slow: new connections, cold code) and the faults start only
// after a full breaker window of clean traffic under them.
import { defaultPolicy, type ResiliencePolicy } from '../../control-plane/src/policy-model.ts';
import { sleep, startScenario, type HostTraffic, type Scenario } from './scenario.ts';

export const NETWORK_AWARE = {
  on: { name: 'outbound|8080||lossy-on.shop.svc.cluster.local', authority: 'lossy-on.shop', endpoints: [0] },
  off: { name: 'outbound|8080||lossy-off.shop.svc.cluster.local', authority: 'lossy-off.shop', endpoints: [0] },
  broken: { name: 'outbound|8080||broken-on.shop.svc.cluster.local', authority: 'broken-on.shop', endpoints: [1] },
} as const;
type Arm = keyof typeof NETWORK_AWARE;
const ARMS = Object.keys(NETWORK_AWARE) as Arm[];
export const BREAKER_WINDOW_MS = 20_000;
// A request whose one segment is lost waits for the tail-loss probe, 2 × srtt + TCP_RTO_MIN (200 ms) with one
// segment in flight (torvalds/linux net/ipv4/tcp_output.c tcp_schedule_loss_probe), or the retransmission timeout:
// every loss-delayed request is slower than this, and a loaded host's stalls rarely are.
export const SLOW_CALL_MS = 180;
export const LOSS_PERCENT = 20;

function policy(cluster: string, networkAware: boolean): ResiliencePolicy {
  const p = defaultPolicy();
  p.target.cluster = cluster;
  // openMs beyond the run: a scope opens at most once, so opens count scopes.
  Object.assign(p.breaker, {
    errorRateThreshold: 0.1, slowCallMs: SLOW_CALL_MS, slowCallRateThreshold: 0.1, minRequests: 30, windowMs: BREAKER_WINDOW_MS,
    openMs: 120_000, networkAware,
  });
  // No retries anywhere: the arms differ in the breaker option only.
  p.retry.enabled = false;
  return p;
}

export interface ArmResult {
  sent: number;                // requests sent to the arm's authority from fault onset to the end
  failed: number;              // of which the client saw fail (5xx or transport error)
  breakerOpen: number;         // of which the filter rejected (x-meshlens-breaker: open)
  clientErrorRate: number;
  opens: number;               // breaker scopes (cluster × tenant) that went Open after onset
  networkSuspectFailures: number; // failures and slow calls the arm's breaker excused (filter telemetry)
}

export interface NetworkAwareResult {
  onset: number;
  cleanWindows: number;
  opensBeforeOnset: number;
  suspectAckedMs: number | undefined;     // onset → every VM ACKed a suspect set with B
  verdicts: Record<Arm, string>;          // B on lossy-on and lossy-off, C on broken-on, at the end
  arms: Record<Arm, ArmResult>;
  summary: string;
}

export interface NetworkAwareOptions {
  reportIntervalMs: number;
  lossPercent?: number;
  /** Windows judged before the faults (baselines). */
  warmupWindows?: number;
  /** Requests each authority must have been sent after onset before the run ends, */
  requestsAfterOnset?: number;
  /** and after both lossy-off and broken-on opened, so the open breakers' effect on the clients shows. */
  requestsAfterOpen?: number;
  /** Gives up waiting for the outcome this long after onset (the result then shows what did not happen). */
  maxWaitMs?: number;
  /** Called with the running scenario before it stops (Prometheus checks). */
  inspect?: (scenario: Scenario, result: NetworkAwareResult) => Promise<void>;
}

export async function runNetworkAware(options: NetworkAwareOptions): Promise<NetworkAwareResult> {
  const interval = options.reportIntervalMs;
  const scenario = await startScenario({
    reportIntervalMs: interval, lossPercent: options.lossPercent ?? LOSS_PERCENT, twin: false, concurrency: 12,
    clusters: ARMS.map((arm) => ({ ...NETWORK_AWARE[arm], endpoints: [...NETWORK_AWARE[arm].endpoints] })),
  });
  try {
    const { plane, traffic } = scenario;
    const verdictOf = (arm: Arm) => scenario.verdicts(NETWORK_AWARE[arm].name)[arm === 'broken' ? 'C' : 'B'] ?? 'none';
    const opened = (since: number) => {
      const out: Record<Arm, number> = { on: 0, off: 0, broken: 0 };
      for (const t of plane.operations.breakers().transitions) {
        const arm = ARMS.find((a) => NETWORK_AWARE[a].name === t.cluster);
        if (arm && t.to === 'Open' && t.atUnixMs >= since) out[arm]++;
      }
      return out;
    };
    // Baselines: every arm's endpoint judged healthy (not only unknown) for the warm-up windows.
    const start = plane.correlator.evaluatedWindows;
    const warmup = options.warmupWindows ?? 8;
    const warmupDeadline = Date.now() + (warmup + 40) * interval;
    while (plane.correlator.evaluatedWindows - start < warmup || ARMS.some((arm) => verdictOf(arm) !== 'healthy')) {
      if (Date.now() > warmupDeadline) throw new Error(`no clean baseline after ${plane.correlator.evaluatedWindows - start} windows: ${JSON.stringify(Object.fromEntries(ARMS.map((a) => [a, verdictOf(a)])))}`);
      await sleep(100);
    }
    const hostsAt = (): Record<Arm, HostTraffic> =>
      Object.fromEntries(ARMS.map((arm) => [arm, { ...(traffic.hosts?.[NETWORK_AWARE[arm].authority] ?? { sent: 0, failed: 0, breakerOpen: 0 }) }])) as Record<Arm, HostTraffic>;

    // The policies, then a breaker window of clean traffic under them (and at least 300 requests per cluster).
    await plane.operations.set('test', 'lossy-on', 0, policy(NETWORK_AWARE.on.name, true));
    await plane.operations.set('test', 'lossy-off', 0, policy(NETWORK_AWARE.off.name, false));
    await plane.operations.set('test', 'broken-on', 0, policy(NETWORK_AWARE.broken.name, true));
    const ackDeadline = Date.now() + 60_000;
    while (!policiesAcked(scenario)) {
      if (Date.now() > ackDeadline) throw new Error(`the policies were not ACKed: ${JSON.stringify(plane.operations.rolloutStatus())}`);
      await sleep(100);
    }
    const applied = hostsAt();
    const cleanUntil = Date.now() + BREAKER_WINDOW_MS;
    while (Date.now() < cleanUntil || ARMS.some((arm) => hostsAt()[arm].sent - applied[arm].sent < 300)) await sleep(100);
    const cleanWindows = plane.correlator.evaluatedWindows - start;
    const opensBeforeOnset = Object.values(opened(0)).reduce((a, b) => a + b, 0);

    const before = hostsAt();
    const excusedBefore = excused(scenario);
    const onset = await scenario.faults();
    let suspectAckedMs: number | undefined;
    const wanted = options.requestsAfterOnset ?? 600;
    const wantedAfterOpen = options.requestsAfterOpen ?? 300;
    const deadline = onset + (options.maxWaitMs ?? 60_000);
    let atOpen: Record<Arm, HostTraffic> | undefined;
    for (;;) {
      await sleep(100);
      if (suspectAckedMs === undefined && suspectSetAcked(scenario, verdictOf('on'))) suspectAckedMs = Date.now() - onset;
      const now = hostsAt();
      const o = opened(onset);
      if (!atOpen && o.off > 0 && o.broken > 0) atOpen = now;
      const enough = ARMS.every((arm) => now[arm].sent - before[arm].sent >= wanted && atOpen && now[arm].sent - atOpen[arm].sent >= wantedAfterOpen);
      // Done once the traffic is in and what the option decides has happened: both non-excused arms opened.
      if ((enough && suspectAckedMs !== undefined) || Date.now() > deadline) break;
    }
    const after = hostsAt();
    const o = opened(onset);
    const excusedAfter = excused(scenario);
    const arms = Object.fromEntries(ARMS.map((arm) => {
      const sent = after[arm].sent - before[arm].sent;
      const failed = after[arm].failed - before[arm].failed;
      return [arm, {
        sent, failed, breakerOpen: after[arm].breakerOpen - before[arm].breakerOpen, clientErrorRate: sent > 0 ? failed / sent : 0, opens: o[arm],
        networkSuspectFailures: excusedAfter[arm] - excusedBefore[arm],
      }];
    })) as Record<Arm, ArmResult>;
    const verdicts = Object.fromEntries(ARMS.map((arm) => [arm, verdictOf(arm)])) as Record<Arm, string>;
    const summary = [
      `clean windows ${cleanWindows}, opens before onset ${opensBeforeOnset}, suspect set ACKed ${suspectAckedMs ?? 'never'} ms after onset`,
      ...ARMS.map((arm) => `${arm}: verdict ${verdicts[arm]}, ${JSON.stringify(arms[arm])}`),
      ...plane.operations.breakers().breakers.filter((b) => ARMS.some((a) => NETWORK_AWARE[a].name === b.cluster))
        .map((b) => `breaker ${b.cluster} ${b.tenant}: ${b.state} (${b.reason})`),
    ].join('\n');
    const result: NetworkAwareResult = { onset, cleanWindows, opensBeforeOnset, suspectAckedMs, verdicts, arms, summary };
    await options.inspect?.(scenario, result);
    return result;
  } finally {
    await scenario.stop();
  }
}

/** Whether every connected VM of the sidecar ACKed the current suspect set, which holds B when B's verdict is
 * network-suspect or both (the set is rebuilt from the verdicts in the same evaluation). */
function suspectSetAcked(scenario: Scenario, bVerdict: string): boolean {
  if (bVerdict !== 'network-suspect' && bVerdict !== 'both') return false;
  const status = scenario.plane.operations.rolloutStatus();
  const vms = status.nodes.filter((n) => n.connected);
  return status.suspectsVersion !== '' && vms.length > 0 && vms.every((n) => n.suspectsVersion === status.suspectsVersion);
}

/** Whether every connected VM of the sidecar ACKed the current policy snapshot. */
function policiesAcked(scenario: Scenario): boolean {
  const status = scenario.plane.operations.rolloutStatus();
  const vms = status.nodes.filter((n) => n.connected);
  return vms.length > 0 && vms.every((n) => n.ackedVersion === status.snapshotVersion);
}

/** Network-suspect failures the filters reported per arm so far (the control plane's telemetry store). */
function excused(scenario: Scenario): Record<Arm, number> {
  const out: Record<Arm, number> = { on: 0, off: 0, broken: 0 };
  for (const route of scenario.plane.telemetry.routes(0, Infinity)) {
    const arm = ARMS.find((a) => NETWORK_AWARE[a].name === route.cluster);
    if (arm) for (const slot of route.slots) out[arm] += slot.networkSuspectFailures ?? 0;
  }
  return out;
}

