// The third pillar end to end on this kernel (scenario.ts): B loses some of its input packets → network-suspect,
// C answers 503 to 20 % → app-failing, D stays healthy; a clean run of 60 windows first flags nothing; the verdicts
// reach real Prometheus scraping the control plane; the routes and tenants that used B carry its retransmits; a twin
// namespace pair using the very addresses of the sidecar↔D flows (and losing 10 %) never mixes into D.
//
// "Within 2 report intervals of onset" is read on the verdict's own window: the first window judged network-suspect
// (app-failing) ends at most 2 report intervals after the faults are in place. The control plane judges a window as
// soon as every reporting source has reported into it, and at the latest one window after its end (late reports on a
// loaded host), so the verdict is observable at most 3 intervals after onset; both are asserted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { kernelTestsMissing } from '../bpf/helpers/netns.ts';
import { needs } from '../support/skip.ts';
import { Prometheus, prometheusMissing } from '../support/prometheus.ts';
import { endpointAddress, NODE_ID, rootAddress, sleep, startScenario, WASM, type Scenario } from './scenario.ts';

// 1.5 s: on this shared 2-core host the scenario carries as few as 20 requests a second to each endpoint when the
// other suites are busy; a 1 s window then held 1 or 2 lost segments at 5 % loss, too few to judge in 2 windows.
const REPORT_INTERVAL_MS = 1500;
const CLEAN_WINDOWS = 60;
const e2e = suite('kernel correlation end to end');
const missing = kernelTestsMissing() ?? prometheusMissing() ?? (existsSync(WASM) ? null : 'the release filter (npm run build:filter)');

needs(missing, e2e)('60 clean windows flag nothing; then B network-suspect, C app-failing, D healthy within 2 report intervals, in Prometheus too; the twin namespace does not mix', async () => {
  let scenario: Scenario | undefined;
  let prom: Prometheus | undefined;
  try {
    scenario = await startScenario({ reportIntervalMs: REPORT_INTERVAL_MS, lossPercent: 5, twin: true, concurrency: 12 });
    const { plane, traffic } = scenario;
    prom = await Prometheus.start({ targets: [{ job: 'meshlens-control-plane', address: `127.0.0.1:${plane.httpPort}` }], scrapeIntervalMs: 500 });

    // Clean run: every window judged while nothing is wrong flags nothing (unknown only before kernel data joins).
    const flagged: string[] = [];
    const cleanStart = plane.correlator.evaluatedWindows;
    const cleanEnd = Date.now() + (CLEAN_WINDOWS + 2) * REPORT_INTERVAL_MS;
    while (Date.now() < cleanEnd || plane.correlator.evaluatedWindows - cleanStart < CLEAN_WINDOWS) {
      await sleep(100);
      for (const e of scenario.endpoints()) if (e.verdict !== 'healthy' && e.verdict !== 'unknown') flagged.push(`${e.name} ${e.verdict}: ${e.history.at(-1)?.reason}`);
      if (Date.now() > cleanEnd + 30 * REPORT_INTERVAL_MS) break;
    }
    const cleanWindows = plane.correlator.evaluatedWindows - cleanStart;
    process.stdout.write(`clean: ${cleanWindows} windows judged, ${traffic.sent} requests\n`);
    assert.ok(cleanWindows >= CLEAN_WINDOWS, `${cleanWindows} windows judged in the clean run`);
    assert.equal([...new Set(flagged)], [], 'a clean run flags nothing');
    assert.equal(scenario.verdicts(), { B: 'healthy', C: 'healthy', D: 'healthy' });

    const onset = await scenario.faults();
    const seenAt: Record<string, number> = {};
    const expected: Record<string, string> = { B: 'network-suspect', C: 'app-failing' };
    while (Date.now() < onset + 8 * REPORT_INTERVAL_MS && Object.keys(seenAt).length < 2) {
      await sleep(50);
      for (const [name, verdict] of Object.entries(scenario.verdicts())) if (verdict === expected[name] && seenAt[name] === undefined) seenAt[name] = Date.now() - onset;
    }
    // Two more windows of faults, so D's verdict and the twin are judged on a faulty period too.
    await sleep(2 * REPORT_INTERVAL_MS);
    const final = scenario.endpoints();
    const summary = final.map((e) => `${e.name} ${e.verdict}: ${e.history.map((h) => `${h.to} at ${h.windowEndUnixMs - onset} ms (${h.reason})`).join(' → ')}; last span ${JSON.stringify(e.signals)}`).join('\n');
    process.stdout.write(`verdicts seen ${JSON.stringify(seenAt)} ms after onset; requests sent ${traffic.sent}, failed ${traffic.failed}\n${summary}\n`);
    assert.equal(scenario.verdicts(), { B: 'network-suspect', C: 'app-failing', D: 'healthy' }, summary);
    for (const name of ['B', 'C']) {
      const entered = final.find((e) => e.name === name)!.history.find((h) => h.to === expected[name]);
      assert.ok(entered && entered.windowEndUnixMs - onset <= 2 * REPORT_INTERVAL_MS, `${name}'s verdict window ends within 2 report intervals of onset: ${summary}`);
      assert.ok(seenAt[name]! <= 3 * REPORT_INTERVAL_MS, `${name} observable within 3 report intervals: ${JSON.stringify(seenAt)}`);
    }

    // Real Prometheus, scraping the control plane, has the same verdicts.
    const cluster = 'outbound|8080||orders.shop.svc.cluster.local';
    const verdictOf = async (i: number) => (await prom!.waitForQuery(
      `meshlens_cp_endpoint_verdict{upstream_cluster="${cluster}",endpoint="${endpointAddress(i)}:8080"} == 1`, (s) => s.length === 1, 30_000))[0]!.metric.verdict;
    assert.equal([await verdictOf(0), await verdictOf(1), await verdictOf(2)], ['network-suspect', 'app-failing', 'healthy']);
    // The per-route retransmits the control plane exports reach Prometheus, route × tenant by route × tenant.
    const exported = new Set([...(await (await fetch(`http://127.0.0.1:${plane.httpPort}/metrics`)).text())
      .matchAll(/^meshlens_cp_route_retransmitted_segments_total\{[^}]*path="([^"]*)",tenant="([^"]*)"\} (\S+)$/gm)]
      .filter((m) => Number(m[3]) > 0).map((m) => `${m[1]} ${m[2]}`));
    assert.ok(exported.size > 0, 'the control plane exports retransmits per route and tenant');
    await prom.waitForQuery(`sum by (path, tenant) (meshlens_cp_route_retransmitted_segments_total{upstream_cluster="${cluster}"}) > 0`,
      (samples) => [...exported].every((pair) => samples.some((s) => `${s.metric.path} ${s.metric.tenant}` === pair)), 30_000);

    // The routes and tenants that used B carry its retransmits: on each of B's connections, every route × tenant with
    // requests on it in the window gets the connection's retransmits in proportion to them, and nothing is invented.
    const joins = plane.correlator.joins().filter((j) => j.evaluated && j.endMs > onset + REPORT_INTERVAL_MS);
    let bRetrans = 0;
    let attributed = 0;
    const carrying = new Set<string>();
    for (const join of joins) {
      for (const c of join.connections) {
        if (c.proxyId !== NODE_ID || c.remoteAddress !== `${endpointAddress(0)}:8080`) continue;
        bRetrans += c.retransSegs;
        for (const share of c.routes) {
          attributed += share.retransSegs;
          if (c.requests > 0 && c.retransSegs > 0) {
            const expected = (c.retransSegs * share.requests) / c.requests;
            assert.ok(Math.abs(share.retransSegs - expected) < 1e-9, `${share.pathTemplate} ${share.tenant}: ${share.retransSegs} of ${c.retransSegs} for ${share.requests}/${c.requests} requests`);
            if (share.requests > 0) carrying.add(`${share.pathTemplate} ${share.tenant}`);
          }
        }
      }
    }
    assert.ok(bRetrans > 0, 'B retransmitted');
    assert.ok(Math.abs(attributed - bRetrans) < 1e-6 * bRetrans + 1e-9, `attributed ${attributed} of ${bRetrans}`);
    assert.ok(new Set([...carrying].map((pair) => pair.split(' ')[1])).size >= 2, `tenants carrying B's retransmits: ${[...carrying].join(', ')}`);

    // The twin's flows were seen, lossy, with the sidecar↔D addresses, and joined nothing; D's figures exclude them.
    const twinFlows = joins.flatMap((j) => j.connections).filter((c) => c.netns === scenario!.twinNetns);
    assert.ok(twinFlows.length > 0, 'the twin namespace was observed');
    assert.ok(twinFlows.every((c) => c.proxyId === '' && c.cluster === '' && c.requests === 0), 'the twin joins no proxy');
    assert.ok(twinFlows.some((c) => c.remoteAddress === `${endpointAddress(2)}:8080` && c.localAddress.startsWith(`${rootAddress(2)}:`)),
      'the twin used the very addresses of the sidecar ↔ D flows');
    const twinRetrans = twinFlows.reduce((n, c) => n + c.retransSegs, 0);
    const dRetrans = joins.flatMap((j) => j.endpoints).filter((e) => e.endpoint === `${endpointAddress(2)}:8080`).reduce((n, e) => n + e.retransSegs, 0);
    process.stdout.write(`twin retransmitted ${twinRetrans} segments; D ${dRetrans}\n`);
    assert.ok(twinRetrans > dRetrans, `the twin's loss (${twinRetrans}) is not D's (${dRetrans})`);
  } finally {
    await prom?.stop();
    await scenario?.stop();
  }
});

e2e.run();
