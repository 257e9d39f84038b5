import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { AgentMetrics, DestinationLabels, OVERFLOW_LABEL, serverEndpoint } from '../../bpf/agent/metrics.ts';
import type { FlowDelta, IntervalLine } from '../../bpf/agent/ndjson.ts';

function flow(over: Partial<FlowDelta>): FlowDelta {
  return {
    netns: 1, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retransSegs: 0,
    events: { rto: 0, fast: 0, tlp: 0, syn: 0, other: 0 }, segsOut: 0, srttUs: 0, opened: false, closed: false,
    durationUs: 0, direction: 'unknown', ...over,
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
  const out = { direction: 'outbound' };
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', { ...out, destination: '10.0.0.2:8080' }), 6);
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', { ...out, destination: OVERFLOW_LABEL }), 7);
  assert.is(await value(registry, 'meshlens_tcp_retransmit_events_total', { ...out, destination: '10.0.0.2:8080', cause: 'fast' }), 2);
  assert.is(await value(registry, 'meshlens_tcp_segments_sent_total', { ...out, destination: '10.0.0.2:8080' }), 101);
  assert.is(await value(registry, 'meshlens_tcp_active_connections'), 2);
  assert.is(await value(registry, 'meshlens_tcp_collector_map_full_drops_total'), 1);
  assert.is(await value(registry, 'meshlens_tcp_collector_evicted_flows_total'), 4);
  const text = await registry.metrics();
  assert.match(text, /meshlens_tcp_connection_duration_seconds_bucket\{le="5",direction="outbound",destination="~other"\} 1/);
  assert.match(text, /meshlens_tcp_connection_duration_seconds_bucket\{le="1",direction="outbound",destination="~other"\} 0/);
  assert.match(text, /meshlens_tcp_connection_duration_seconds_sum\{direction="outbound",destination="~other"\} 2.5/);
});

Metrics('inbound flows are labelled by the server endpoint, so a busy server\'s clients take one label, not the cap', async () => {
  const registry = new Registry();
  const metrics = new AgentMetrics(registry, { maxDestinations: 200 });
  // 300 clients of 10.0.0.1:50051 (a port inside the ephemeral range, so only the kernel's word makes it inbound)
  const clients = Array.from({ length: 300 }, (_, i) => flow({
    laddr: '10.0.0.1', lport: 50051, raddr: '10.0.0.9', rport: 33000 + i, direction: 'inbound', retransSegs: 1, segsOut: 2,
  }));
  metrics.recordInterval(interval(clients));
  metrics.recordInterval(interval([flow({ direction: 'outbound', retransSegs: 4 })]));
  assert.is(metrics.destinations.size, 2);
  const inbound = { direction: 'inbound', destination: '10.0.0.1:50051' };
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', inbound), 300);
  assert.is(await value(registry, 'meshlens_tcp_segments_sent_total', inbound), 600);
  assert.is(await value(registry, 'meshlens_tcp_retransmits_total', { direction: 'outbound', destination: '10.0.0.2:8080' }), 4);
  assert.not.match(await registry.metrics(), /~other|10\.0\.0\.9/);
});

Metrics('without the kernel\'s word, an ephemeral remote port facing a non-ephemeral local port means inbound', () => {
  const linux = { low: 32768, high: 60999 };
  const at = (f: Partial<FlowDelta>, ports = linux) => {
    const s = serverEndpoint(flow(f), ports);
    return `${s.direction} ${s.addr}:${s.port}`;
  };
  assert.is(at({ laddr: '10.0.0.1', lport: 8080, raddr: '10.0.0.9', rport: 45000 }), 'inbound 10.0.0.1:8080');
  assert.is(at({ lport: 45000, rport: 8080 }), 'outbound 10.0.0.2:8080');
  // another system's client port from the IANA range (above Linux's) still reads as a client's
  assert.is(at({ lport: 443, rport: 62000 }), 'inbound 10.0.0.1:443');
  // both ephemeral: no way to tell, so the remote endpoint, as before the direction was known
  assert.is(at({ lport: 50051, rport: 45000 }), 'outbound 10.0.0.2:45000');
  // the kernel's word wins over the ports
  assert.is(at({ lport: 50051, rport: 45000, direction: 'inbound' }), 'inbound 10.0.0.1:50051');
  assert.is(at({ lport: 8080, rport: 45000, direction: 'outbound' }), 'outbound 10.0.0.2:45000');
  // the node's own ip_local_port_range is honoured
  assert.is(at({ lport: 8080, rport: 25000 }, { low: 20000, high: 30000 }), 'inbound 10.0.0.1:8080');
  assert.is(at({ lport: 8080, rport: 25000 }), 'outbound 10.0.0.2:25000');
});

Metrics.run();
