import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLoaderLine, LoaderOutputError } from '../../bpf/agent/ndjson.ts';

const flow = {
  netns: 4026531840, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retrans_segs: 3,
  rto: 1, fast: 1, tlp: 0, syn: 0, other: 0, segs_out: 100, srtt_us: 250, opened: false, closed: true, duration_us: 5,
};
const interval = {
  type: 'interval', seq: 1, ts_ms: 1000, interval_ms: 1000, attach: 'tp_btf', active_connections: 2, map_full_drops: 0,
  evicted_flows: 0, retrans_failed: 0, flows_tracked: 1, missed_events: 0, flows: [flow],
};

const Parse = suite('loader NDJSON parser');

Parse('accepts a valid interval and maps snake_case to the typed form', () => {
  const line = parseLoaderLine(JSON.stringify(interval));
  assert.is(line.type, 'interval');
  if (line.type !== 'interval') return;
  assert.is(line.flows[0]!.retransSegs, 3);
  assert.equal(line.flows[0]!.events, { rto: 1, fast: 1, tlp: 0, syn: 0, other: 0 });
  assert.is(line.activeConnections, 2);
  assert.is(line.flows[0]!.direction, 'unknown', 'recordings from before the loader printed direction');
  const inbound = parseLoaderLine(JSON.stringify({ ...interval, flows: [{ ...flow, direction: 'inbound' }] }));
  assert.is(inbound.type === 'interval' && inbound.flows[0]!.direction, 'inbound');
});

const bad: [string, unknown, RegExp][] = [
  ['not JSON', 'nope{', /line must be valid JSON/],
  ['array', [], /line must be a JSON object/],
  ['unknown type', { ...interval, type: 'x' }, /type must be "start" or "interval"/],
  ['flows missing', { ...interval, flows: undefined }, /flows must be an array/],
  ['negative seq', { ...interval, seq: -1 }, /seq must be an integer/],
  ['port out of range', { ...interval, flows: [{ ...flow, lport: 70000 }] }, /flows\[0\]\.lport must be an integer in \[0, 65535\]/],
  ['bad family', { ...interval, flows: [{ ...flow, family: 5 }] }, /flows\[0\]\.family must be 4 or 6/],
  ['v4 garbage', { ...interval, flows: [{ ...flow, laddr: '300.1.1.1' }] }, /flows\[0\]\.laddr must be an IPv4 address/],
  ['v6 without colon', { ...interval, flows: [{ ...flow, family: 6, laddr: 'abc', raddr: '::1' }] }, /laddr must be an IPv6 address/],
  ['fractional counter', { ...interval, flows: [{ ...flow, retrans_segs: 1.5 }] }, /retrans_segs must be an integer/],
  ['string bool', { ...interval, flows: [{ ...flow, closed: 'true' }] }, /closed must be a boolean/],
  ['duration on open flow', { ...interval, flows: [{ ...flow, closed: false }] }, /duration_us must be 0 unless closed is true/],
  ['unknown direction', { ...interval, flows: [{ ...flow, direction: 'sideways' }] }, /flows\[0\]\.direction must be "outbound", "inbound" or "unknown"/],
  ['missing cause', { ...interval, flows: [{ ...flow, tlp: undefined }] }, /flows\[0\]\.tlp must be/],
];

for (const [name, value, message] of bad) {
  Parse(`rejects ${name}`, () => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    assert.throws(() => parseLoaderLine(text), (err: Error) => err instanceof LoaderOutputError && message.test(err.message));
  });
}

Parse('accepts the start line; one without its sampling mode predates the per-segment sampler', () => {
  const line = parseLoaderLine('{"type":"start","attach":"tracepoint","sampling":"tcp_probe","interval_ms":100,"max_flows":64,"netns":0,"pid":9,"ts_ms":5}');
  assert.equal(line, { type: 'start', attach: 'tracepoint', sampling: 'tcp_probe', intervalMs: 100, maxFlows: 64, pid: 9, tsMs: 5 });
  const old = parseLoaderLine('{"type":"start","attach":"tracepoint","interval_ms":100,"max_flows":64,"netns":0,"pid":9,"ts_ms":5}');
  assert.is((old as { sampling: string }).sampling, 'events');
  assert.throws(() => parseLoaderLine('{"type":"start","attach":"tp_btf","sampling":"sometimes","interval_ms":100,"max_flows":64,"netns":0,"pid":9,"ts_ms":5}'),
    (err: Error) => err instanceof LoaderOutputError && /sampling must be "tcp_probe" or "events"/.test(err.message));
});

Parse.run();
