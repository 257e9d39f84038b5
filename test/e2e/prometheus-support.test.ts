// test/support/prometheus.ts on its own: a real Prometheus scraping a tiny exporter whose values the test controls.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { Prometheus, prometheusMissing, promtoolCheckMetrics, renderScrapeConfig } from '../support/prometheus.ts';

const helper = suite('Prometheus test helper');

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return String(err);
  }
  throw new Error('expected a rejection');
}
const missing = prometheusMissing();

helper('scrape config: loopback targets only, positive integer interval', () => {
  const text = renderScrapeConfig({ targets: [{ job: 'a', address: '127.0.0.1:9' }], scrapeIntervalMs: 250 });
  assert.match(text, /scrape_interval: 250ms/);
  assert.match(text, /targets: \["127\.0\.0\.1:9"\]/);
  assert.throws(() => renderScrapeConfig({ targets: [{ job: 'a', address: '10.0.0.1:9' }] }), /invalid scrape target: address must be a 127\.0\.0\.0\/8 host:port/);
  assert.throws(() => renderScrapeConfig({ targets: [], scrapeIntervalMs: 0.5 }), /invalid scrape interval: scrapeIntervalMs must be a positive integer/);
});

needs(missing, helper)('promtoolCheckMetrics reports lint problems per metric and nothing for a clean exposition', () => {
  const dirty = promtoolCheckMetrics('# TYPE x counter\nx 1\n');
  assert.equal(dirty.problems.map((p) => p.metric).sort(), ['x', 'x']);
  assert.ok(dirty.problems.some((p) => /_total/.test(p.problem)));
  const clean = promtoolCheckMetrics('# HELP x_total Things.\n# TYPE x_total counter\nx_total 1\n');
  assert.equal(clean.problems, []);
  assert.is(clean.status, 0);
});

needs(missing, helper)('scrapes a target, answers instant queries by label, and stops cleanly', async () => {
  let value = 0;
  const exporter: Server = createServer((_req, res) => {
    value += 1;
    res.end(`# TYPE hits_total counter\nhits_total{kind="a"} ${value}\nhits_total{kind="b"} ${value * 2}\n`);
  });
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', () => resolve()));
  const address = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  const prom = await Prometheus.start({ targets: [{ job: 'exporter', address }], scrapeIntervalMs: 200 });
  try {
    const [target] = await prom.waitTargetsUp();
    assert.is(target.job, 'exporter');
    assert.is(target.scrapeUrl, `http://${address}/metrics`);
    const samples = await prom.waitForQuery('hits_total', (s) => s.length === 2 && s.every((x) => x.value >= 3));
    const byKind = Object.fromEntries(samples.map((s) => [s.metric.kind, s.value]));
    assert.is(byKind.b, byKind.a * 2, 'both series come from the same scrape');
    const [stamp] = await prom.query('max(timestamp(hits_total))');
    const atStamp = await prom.queryBy('hits_total', 'kind', stamp.value);
    assert.is(atStamp.b, atStamp.a * 2);
    assert.match(await rejection(prom.query('sum((')), /bad_data: invalid parameter "query"/);
  } finally {
    await prom.stop();
    await new Promise<void>((resolve) => exporter.close(() => resolve()));
  }
  assert.not.ok(existsSync(prom.dir), 'storage directory removed');
  assert.match(await rejection(fetch(`${prom.baseUrl}/-/ready`)), /fetch failed/, 'nothing listens after stop');
});

helper.run();
