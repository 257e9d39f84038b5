import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { AgentMetrics, DestinationLabels, OVERFLOW_LABEL } from '../../bpf/agent/metrics.ts';
import type { FlowDelta, IntervalLine } from '../../bpf/agent/ndjson.ts';

function flow(over: Partial<FlowDelta>): FlowDelta {
  return {
    netns: 1, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retransSegs: 0,
    events: { rto: 0, fast: 0, tlp: 0, syn: 0, other: 0 }, segsOut: 0, srttUs: 0, opened: false, closed: false,
    durationUs: 0, ...over,
  };
}

function interval(flows: FlowDelta[], over: Partial<IntervalLine> = {}): IntervalLine {
  return {
    type: 'interval', seq: 1, tsMs: 1000, intervalMs: 1000, attach: 'tp_btf', activeConnections: 0, mapFullDrops: 0,
    evictedFlows: 0, retransFailed: 0, flowsTracked: flows.length, missedEvents: 0, flows, ...over,
  };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const hit = (metric?.values as { value: number; labels: Record<string, string | number>; metricName?: string }[] | undefined)
    ?.find((v) => (v.metricName === undefined || v.metricName === name) &&
      Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
  return hit?.value;
}

const Labels = suite('destination labels');

Labels('caps distinct destinations and maps the rest to ~other, keeping known ones', () => {
  const labels = new DestinationLabels(2);
  assert.is(labels.label('10.0.0.1', 80), '10.0.0.1:80');
  assert.is(labels.label('fd00::1', 443), '[fd00::1]:443');
  assert.is(labels.label('10.0.0.9', 80), OVERFLOW_LABEL);
  assert.is(labels.label('10.0.0.1', 80), '10.0.0.1:80');
  assert.is(labels.size, 2);
});

Labels('rejects a cap below 1', () => {
  assert.throws(() => new DestinationLabels(0), /invalid metrics options: maxDestinations must be an integer ≥ 1/);
});

Labels.run();

const Metrics = suite('agent metrics');

Metrics('accumulates per-destination retransmits, causes, segments, durations and collector counters', async () => {
  const registry = new Registry();
  const metrics = new AgentMetrics(registry, { maxDestinations: 1 });
  metrics.recordInterval(interval([
    flow({ retransSegs: 5, events: { rto: 1, fast: 2, tlp: 0, syn: 0, other: 0 }, segsOut: 100 }),
    flow({ raddr: '10.0.0.3', retransSegs: 7, segsOut: 10, closed: true, durationUs: 2_500_000 }),
  ], { activeConnections: 3, mapFullDrops: 1, evictedFlows: 4 }));
  metrics.recordInterval(interval([flow({ retransSegs: 1, segsOut: 1 })], { activeConnections: 2 }));
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', { destination: '10.0.0.2:8080' }), 6);
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', { destination: OVERFLOW_LABEL }), 7);
  assert.is(await value(registry, 'meshlens_tcp_retransmit_events_total', { destination: '10.0.0.2:8080', cause: 'fast' }), 2);
  assert.is(await value(registry, 'meshlens_tcp_segments_sent_total', { destination: '10.0.0.2:8080' }), 101);
  assert.is(await value(registry, 'meshlens_tcp_active_connections'), 2);
  assert.is(await value(registry, 'meshlens_tcp_collector_map_full_drops_total'), 1);
  assert.is(await value(registry, 'meshlens_tcp_collector_evicted_flows_total'), 4);
  const text = await registry.metrics();
  assert.match(text, /meshlens_tcp_connection_duration_seconds_bucket\{le="5",destination="~other"\} 1/);
  assert.match(text, /meshlens_tcp_connection_duration_seconds_bucket\{le="1",destination="~other"\} 0/);
  assert.match(text, /meshlens_tcp_connection_duration_seconds_sum\{destination="~other"\} 2.5/);
});

Metrics.run();
