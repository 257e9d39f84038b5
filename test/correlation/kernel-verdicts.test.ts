// The third pillar end to end on this kernel (scenario.ts): B loses 3 % of its input packets → network-suspect,
// C answers 503 to 20 % → app-failing, D stays healthy, within 2 report intervals of the faults' onset; nothing is
// flagged in a clean warm-up; the routes and tenants that used B carry its retransmits; a twin namespace pair using the
// very addresses of the sidecar↔D flows (and losing 10 %) never mixes into D.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { kernelTestsMissing } from '../bpf/helpers/netns.ts';
import { needs } from '../support/skip.ts';
import { endpointAddress, NODE_ID, rootAddress, sleep, startScenario, WASM, type Scenario } from './scenario.ts';

const REPORT_INTERVAL_MS = 1000;
const e2e = suite('kernel correlation end to end');
const missing = kernelTestsMissing() ?? (existsSync(WASM) ? null : 'the release filter (npm run build:filter)');

needs(missing, e2e)('B network-suspect, C app-failing, D healthy within 2 report intervals; the twin namespace does not mix', async () => {
  let scenario: Scenario | undefined;
  try {
    scenario = await startScenario({ reportIntervalMs: REPORT_INTERVAL_MS, lossPercent: 3, twin: true });
    const { plane, traffic } = scenario;

    // Warm-up: 10 windows, long enough for the latency baselines (5 windows) and with nothing flagged.
    const flaggedInWarmup: string[] = [];
    const warmupEnd = Date.now() + 10 * REPORT_INTERVAL_MS;
    while (Date.now() < warmupEnd) {
      await sleep(200);
      for (const [name, verdict] of Object.entries(scenario.verdicts())) if (verdict !== 'healthy' && verdict !== 'unknown') flaggedInWarmup.push(`${name} ${verdict}`);
    }
    assert.equal(scenario.verdicts(), { B: 'healthy', C: 'healthy', D: 'healthy' }, `sent ${traffic.sent}, windows ${plane.correlator.evaluatedWindows}`);
    assert.equal(flaggedInWarmup, [], 'a clean warm-up flags nothing');

    const onset = scenario.faults();
    const seenAt: Record<string, number> = {};
    const deadline = onset + 8 * REPORT_INTERVAL_MS;
    const expected = { B: 'network-suspect', C: 'app-failing' } as Record<string, string>;
    while (Date.now() < deadline && Object.keys(seenAt).length < 2) {
      await sleep(50);
      for (const [name, verdict] of Object.entries(scenario.verdicts())) if (verdict === expected[name] && seenAt[name] === undefined) seenAt[name] = Date.now() - onset;
    }
    // Two more windows of faults, so D's verdict and the twin are judged on a faulty period too.
    await sleep(2 * REPORT_INTERVAL_MS);
    const final = scenario.endpoints();
    const summary = final.map((e) => `${e.name} ${e.verdict}: ${e.history.map((h) => `${h.to} (${h.reason})`).join(' → ')}; last span ${JSON.stringify(e.signals)}; baseline ${JSON.stringify(e.baseline)}`).join('\n');
    process.stdout.write(`verdict after onset: ${JSON.stringify(seenAt)} ms; requests sent ${traffic.sent}, failed ${traffic.failed}\n${summary}\n`);
    assert.equal(scenario.verdicts(), { B: 'network-suspect', C: 'app-failing', D: 'healthy' }, summary);
    // A window is judged half a window after it ends and the correlator looks every quarter window: 2 report
    // intervals plus those 750 ms is the latest a fault that fills its second window can show.
    const bound = 2 * REPORT_INTERVAL_MS + 750;
    assert.ok(seenAt.B! <= bound && seenAt.C! <= bound, `verdicts within 2 report intervals (+ evaluation delay): ${JSON.stringify(seenAt)}`);

    // The routes and tenants that used B carry its retransmits, and nothing is invented: they add up to B's.
    const joins = plane.correlator.joins().filter((j) => j.evaluated && j.endMs > onset + REPORT_INTERVAL_MS);
    let bRetrans = 0;
    let attributed = 0;
    const tenantsWithRetrans = new Set<string>();
    for (const join of joins) {
      for (const c of join.connections) {
        if (c.proxyId !== NODE_ID || c.remoteAddress !== `${endpointAddress(0)}:8080`) continue;
        bRetrans += c.retransSegs;
        for (const share of c.routes) {
          attributed += share.retransSegs;
          if (share.retransSegs > 0) tenantsWithRetrans.add(`${share.pathTemplate} ${share.tenant}`);
        }
      }
    }
    assert.ok(bRetrans > 0, 'B retransmitted');
    assert.ok(Math.abs(attributed - bRetrans) < 1e-6 * bRetrans + 1e-9, `attributed ${attributed} of ${bRetrans}`);
    assert.ok(tenantsWithRetrans.size >= 6, `routes × tenants carrying B's retransmits: ${[...tenantsWithRetrans].join(', ')}`);

    // The twin's flows were seen, lossy, with the sidecar↔D addresses, and joined nothing; D's figures exclude them.
    const twinFlows = joins.flatMap((j) => j.connections).filter((c) => c.netns === scenario!.twinNetns);
    assert.ok(twinFlows.length > 0, 'the twin namespace was observed');
    assert.ok(twinFlows.every((c) => c.proxyId === '' && c.cluster === '' && c.requests === 0), 'the twin joins no proxy');
    assert.ok(twinFlows.some((c) => c.remoteAddress === `${endpointAddress(2)}:8080` && c.localAddress.startsWith(`${rootAddress(2)}:`)),
      'the twin used the very addresses of the sidecar ↔ D flows');
    const twinRetrans = twinFlows.reduce((n, c) => n + c.retransSegs, 0);
    const d = final.find((e) => e.name === 'D')!;
    const dRetrans = joins.flatMap((j) => j.endpoints).filter((e) => e.endpoint === `${endpointAddress(2)}:8080`).reduce((n, e) => n + e.retransSegs, 0);
    process.stdout.write(`twin retransmitted ${twinRetrans} segments; D ${dRetrans}; D retransmit ratio ${d.signals.retransRatio}\n`);
    assert.ok(twinRetrans > dRetrans, `the twin's loss (${twinRetrans}) is not D's (${dRetrans})`);
  } finally {
    await scenario?.stop();
  }
});

e2e.run();
