// The network-aware breaker on this kernel (network-aware.ts): B losing 20 % of its input packets, C answering 503 to
// 20 %, the same traffic to a lossy cluster with the option on, one with it off and C's cluster with it on. With the
// option on, B's loss opens no tenant breaker and the client sees fewer errors than with it off, where B's slow calls
// open every tenant's breaker; C's failures still open its breaker; the excused requests are reported by the filters
// and exported by the control plane as meshlens_cp_network_suspect_failures_total, which real Prometheus scrapes.
//
// Judged on request counts, not wall time: the run ends once each cluster got the same number of requests after the
// faults and the breakers that must open did (or after a generous cap), so a loaded host only makes it longer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { kernelTestsMissing } from '../bpf/helpers/netns.ts';
import { needs } from '../support/skip.ts';
import { Prometheus, prometheusMissing } from '../support/prometheus.ts';
import { WASM } from './scenario.ts';
import { NETWORK_AWARE, runNetworkAware } from './network-aware.ts';

const REPORT_INTERVAL_MS = 1500;
const test = suite('network-aware breaker on this kernel');
const missing = kernelTestsMissing() ?? prometheusMissing() ?? (existsSync(WASM) ? null : 'the release filter (npm run build:filter)');

needs(missing, test)('B\'s loss opens no breaker with the option on and lowers the client error rate against off; C still opens its breaker; excused requests reach Prometheus', async () => {
  let prom: Prometheus | undefined;
  let exported: { series: Record<string, number>; store: number } | undefined;
  try {
    const result = await runNetworkAware({
      reportIntervalMs: REPORT_INTERVAL_MS, requestsAfterOnset: 600, maxWaitMs: 240_000,
      inspect: async (scenario, r) => {
        process.stdout.write(`${r.summary}\n`);
        prom = await Prometheus.start({ targets: [{ job: 'meshlens-control-plane', address: `127.0.0.1:${scenario.plane.httpPort}` }], scrapeIntervalMs: 500 });
        // /metrics and the telemetry store are updated by the same ingest call: read together, they agree exactly.
        const text = await (await fetch(`http://127.0.0.1:${scenario.plane.httpPort}/metrics`)).text();
        let store = 0;
        for (const route of scenario.plane.telemetry.routes(0, Infinity)) {
          if (route.cluster === NETWORK_AWARE.on.name) for (const slot of route.slots) store += slot.networkSuspectFailures ?? 0;
        }
        const series: Record<string, number> = {};
        for (const m of text.matchAll(/^meshlens_cp_network_suspect_failures_total\{(.*)\} (\S+)$/gm)) series[m[1]!] = Number(m[2]);
        exported = { series, store };
        process.stdout.write(`/metrics: ${JSON.stringify(series)} (store ${store})\n`);
        // Prometheus sees the excused requests per tenant of lossy-on under Istio's service labels, none elsewhere.
        await prom.waitForQuery(
          'sum by (destination_service, destination_service_name, destination_service_namespace, tenant) (meshlens_cp_network_suspect_failures_total) > 0',
          (samples) => samples.length === 3 && samples.every((s) => s.metric.destination_service === 'lossy-on.shop.svc.cluster.local' &&
            s.metric.destination_service_name === 'lossy-on' && s.metric.destination_service_namespace === 'shop') &&
            new Set(samples.map((s) => s.metric.tenant)).size === 3,
          30_000);
        process.stdout.write(`prometheus: excused requests of lossy-on by tenant seen (${r.arms.on.networkSuspectFailures} after onset)\n`);
      },
    });
    const { arms, verdicts, summary } = result;
    assert.is(result.opensBeforeOnset, 0, `the clean run opens nothing: ${summary}`);
    assert.ok(result.suspectAckedMs !== undefined, `every VM ACKed the suspect set with B: ${summary}`);
    assert.ok(verdicts.on === 'network-suspect' || verdicts.on === 'both', `B judged from the network: ${summary}`);
    assert.is(verdicts.broken, 'app-failing', summary);

    // The same traffic: every driver worker alternates the three clusters, ±1 request each at either reading.
    assert.ok(Math.abs(arms.on.sent - arms.off.sent) <= 24, `same request counts on and off: ${summary}`);
    assert.ok(arms.on.sent >= 600 && arms.off.sent >= 600 && arms.broken.sent >= 600, `enough traffic after onset: ${summary}`);

    // Off: B's slow calls open the tenants' breakers, which then reject the clients' requests.
    assert.ok(arms.off.opens >= 1, `B's loss opens a breaker with the option off: ${summary}`);
    assert.ok(arms.off.breakerOpen > 0, summary);
    assert.is(arms.off.networkSuspectFailures, 0, 'nothing is excused with the option off');
    // On: none opens, the requests B served slowly are excused and reported as such, and the client error rate is lower.
    assert.is(arms.on.opens, 0, `B's loss opens no breaker with the option on: ${summary}`);
    assert.is(arms.on.breakerOpen, 0, summary);
    assert.ok(arms.on.networkSuspectFailures > 0, `excused requests reported: ${summary}`);
    assert.ok(arms.on.clientErrorRate < arms.off.clientErrorRate, `client error rate on ${arms.on.clientErrorRate} < off ${arms.off.clientErrorRate}`);
    // C is not suspect: its failures still open its breaker with the option on, and none is excused.
    assert.ok(arms.broken.opens >= 1, `C's failures open the breaker with the option on: ${summary}`);
    assert.is(arms.broken.networkSuspectFailures, 0);

    const { series, store } = exported!;
    const total = Object.values(series).reduce((a, b) => a + b, 0);
    assert.ok(store > 0 && total === store, `exported ${total} vs reported ${store}: ${JSON.stringify(series)}`);
    assert.ok(Object.keys(series).every((labels) => labels.includes(`upstream_cluster="${NETWORK_AWARE.on.name}"`)), JSON.stringify(series));
  } finally {
    await prom?.stop();
  }
});

test.run();
