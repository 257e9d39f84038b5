import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { NodeAgent, canLoadBpf, mergeReportGaps } from '../../bpf/agent/agent.ts';
import { chooseSource, parseAgentArgs, readEphemeralPorts, readProxyToken, serveMetrics } from '../../bpf/agent/main.ts';
import { KernelReporter } from '../../bpf/agent/report.ts';
import { LoaderSource, ReplaySource, SsDeltaTracker, SsSource, parseSsOutput } from '../../bpf/agent/sources.ts';
import { startKernelTelemetryServer, type RecordingServer } from './helpers/kernel-telemetry-server.ts';
import { startTestPlane } from '../control-plane/helpers.ts';

const fakeLoader = fileURLToPath(new URL('./fixtures/fake-loader.mjs', import.meta.url));
const node = { nodeName: 'node-a', agentId: 'agent-1', kernelRelease: 'test' };
const flow = {
  netns: 7, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retrans_segs: 3, rto: 1,
  fast: 1, tlp: 0, syn: 0, other: 0, segs_out: 100, srtt_us: 250, opened: false, closed: false, duration_us: 0,
};

let dir = '';
let server: RecordingServer;

function waitIntervals(agent: NodeAgent, n: number): Promise<void> {
  return new Promise((resolve) => {
    if (agent.stats.intervals >= n) return resolve();
    agent.onInterval(() => {
      if (agent.stats.intervals >= n) resolve();
    });
  });
}

const Agent = suite('node agent');
Agent.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshlens-agent-'));
  server = await startKernelTelemetryServer();
});
Agent.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

Agent('replay: every interval becomes a KernelReport and metrics; a bad line is counted and skipped', async () => {
  const file = join(dir, 'replay.ndjson');
  const line = (seq: number, flows: unknown[]) => JSON.stringify({
    type: 'interval', seq, ts_ms: 10_000 + seq * 1000, interval_ms: 1000, attach: 'tp_btf', active_connections: 4,
    map_full_drops: 0, evicted_flows: 2, retrans_failed: 0, flows_tracked: 1, missed_events: 0, flows,
  });
  const flow6 = { ...flow, family: 6, laddr: 'fd00::1', raddr: 'fd00::2', retrans_segs: 0, rto: 0, fast: 0, closed: true, duration_us: 1500, direction: 'inbound' };
  writeFileSync(file, [line(1, [flow, flow6]), '{"type":"interval","seq":"x"}', line(2, [{ ...flow, retrans_segs: 4 }])].join('\n') + '\n');
  const registry = new Registry();
  const source = new ReplaySource(file);
  const reporter = new KernelReporter(server.address);
  const agent = new NodeAgent({ registry, source, reporter, node, log: () => {} });
  const before = server.reports.length;
  agent.start();
  await source.done;
  await agent.flush();
  await server.waitFor(before + 2);
  reporter.close();
  assert.is(agent.stats.intervals, 2);
  assert.is(agent.stats.badLines, 1);
  const [first, second] = server.reports.slice(before);
  assert.is(first.node.source, 'KERNEL_SOURCE_REPLAY');
  assert.is(first.sequence, '1');
  assert.is(first.intervalEndUnixMs, '11000');
  assert.is(first.flows[0].remoteAddress, '10.0.0.2');
  assert.is(first.flows[0].family, 'ADDRESS_FAMILY_IPV4');
  assert.is(first.flows[1].family, 'ADDRESS_FAMILY_IPV6');
  assert.is(first.flows[1].remoteAddress, 'fd00::2');
  assert.is(first.flows[1].closed, true);
  assert.is(first.flows[1].durationUs, '1500');
  assert.is(first.flows[0].retransEvents.rto, '1');
  assert.equal(first.flows.map((f: any) => f.direction), ['FLOW_DIRECTION_UNSPECIFIED', 'FLOW_DIRECTION_INBOUND'], 'a line without direction is unknown');
  assert.is(first.evictedFlows, '2');
  assert.is(second.gaps.length, 1, 'the bad line is reported as a gap on the next report');
  assert.is(second.gaps[0].reason, 'GAP_REASON_BAD_OUTPUT');
  const text = await registry.metrics();
  assert.match(text, /meshlens_tcp_retransmits_total\{direction="outbound",destination="10.0.0.2:8080"\} 7/);
  assert.match(text, /meshlens_agent_bad_loader_lines_total 1/);
});

Agent('the metrics endpoint serves the registry on /metrics and 404 elsewhere', async () => {
  const registry = new Registry();
  const file = join(dir, 'one.ndjson');
  writeFileSync(file, JSON.stringify({
    type: 'interval', seq: 1, ts_ms: 1, interval_ms: 1, attach: 'tp_btf', active_connections: 9, map_full_drops: 0,
    evicted_flows: 0, retrans_failed: 0, flows_tracked: 1, missed_events: 0, flows: [flow],
  }) + '\n');
  const source = new ReplaySource(file);
  const agent = new NodeAgent({ registry, source, node, log: () => {} });
  const server = await serveMetrics(registry, '127.0.0.1', 0);
  try {
    agent.start();
    await source.done;
    const port = (server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.is(res.status, 200);
    const body = await res.text();
    assert.match(body, /meshlens_tcp_retransmits_total\{direction="outbound",destination="10.0.0.2:8080"\} 3/);
    assert.match(body, /meshlens_tcp_active_connections 9/);
    assert.match(body, /meshlens_agent_source\{source="replay"\} 1/);
    assert.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    server.close();
  }
});

Agent('loader crash: restarted with backoff, the gap is reported, counting continues', async () => {
  const script = join(dir, 'crash.json');
  const state = join(dir, 'crash.state');
  writeFileSync(script, JSON.stringify({
    runs: [
      { lines: [{ interval: { flows: [flow] } }], exitCode: 3, stderr: 'libbpf: map full, giving up' },
      { lines: ['garbage that is not json', { interval: { flows: [{ ...flow, retrans_segs: 10 }] } }], exitCode: 139 },
      { lines: [{ interval: { flows: [{ ...flow, retrans_segs: 100 }] } }] },
    ],
  }));
  const registry = new Registry();
  const spawns: number[] = [];
  const source = new LoaderSource({
    command: process.execPath, args: [fakeLoader, script, state], backoff: { initialMs: 20, maxMs: 40 },
    onSpawn: (attempt) => spawns.push(attempt),
  });
  const reporter = new KernelReporter(server.address);
  const agent = new NodeAgent({ registry, source, reporter, node, log: () => {} });
  const before = server.reports.length;
  agent.start();
  await waitIntervals(agent, 3);
  await agent.flush();
  await agent.stop();
  reporter.close();
  assert.equal(spawns, [1, 2, 3]);
  const reasons = agent.stats.gaps.map((g) => g.reason);
  assert.equal(reasons, ['bad_output', 'loader_exited', 'loader_exited']);
  assert.ok(agent.stats.gaps.some((g) => /code 3: libbpf: map full, giving up/.test(g.detail)), 'exit code and stderr in the gap detail');
  const reports = server.reports.slice(before);
  assert.is(reports.length, 3);
  assert.ok(reports[1].gaps.some((g: any) => g.reason === 'GAP_REASON_LOADER_EXITED'));
  const text = await registry.metrics();
  assert.match(text, /meshlens_tcp_retransmits_total\{direction="outbound",destination="10.0.0.2:8080"\} 113/);
  assert.match(text, /meshlens_agent_loader_restarts_total 2/);
  assert.match(text, /meshlens_agent_collection_gaps_total\{reason="loader_exited"\} 2/);
});

Agent('reports reach the real control plane with the proxy token; without it they are refused and kept as a gap', async () => {
  const plane = await startTestPlane();
  const address = `127.0.0.1:${plane.grpcPort}`;
  const replay = (name: string, remote: string) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({
      type: 'interval', seq: 1, ts_ms: plane.clock.now, interval_ms: 1000, attach: 'tp_btf', active_connections: 1,
      map_full_drops: 0, evicted_flows: 0, retrans_failed: 0, flows_tracked: 1, missed_events: 0, flows: [{ ...flow, raddr: remote, direction: 'outbound' }],
    }) + '\n');
    return new ReplaySource(file);
  };
  const run = async (source: ReplaySource, reporter: KernelReporter) => {
    const agent = new NodeAgent({ registry: new Registry(), source, reporter, node, log: () => {} });
    agent.start();
    await source.done;
    await agent.flush();
    reporter.close();
    return agent;
  };
  try {
    const tokenFile = join(dir, 'tokens.json');
    writeFileSync(tokenFile, JSON.stringify({ admin: { admin: plane.adminToken }, proxy: plane.proxyToken }));
    const withToken = await run(replay('with-token.ndjson', '10.9.0.1'), new KernelReporter(address, { token: readProxyToken({ tokenFile }) }));
    assert.is(withToken.stats.reportsSent, 1);
    const stored = plane.operations.correlations().filter((c) => c.remoteAddress.startsWith('10.9.0.'));
    assert.equal(stored.map((c) => [c.remoteAddress, c.retransSegs, c.direction]), [['10.9.0.1:8080', 3, 'FLOW_DIRECTION_OUTBOUND']]);

    const without = await run(replay('without-token.ndjson', '10.9.0.2'), new KernelReporter(address));
    assert.is(without.stats.reportsFailed, 1);
    assert.is(without.stats.gaps[0]!.reason, 'report_dropped');
    assert.match(without.stats.gaps[0]!.detail, /UNAUTHENTICATED/);
    assert.is(plane.operations.correlations().filter((c) => c.remoteAddress === '10.9.0.2:8080').length, 0, 'nothing stored');
  } finally {
    await plane.stop();
  }
});

Agent('the proxy token comes from --token-file (a bare token or tokens.json) or MESHLENS_PROXY_TOKEN', () => {
  const bare = join(dir, 'proxy-token');
  writeFileSync(bare, 'abcdefghijklmnopqrstuvwx\n');
  assert.is(readProxyToken({ tokenFile: bare }), 'abcdefghijklmnopqrstuvwx');
  const json = join(dir, 'tokens-file.json');
  writeFileSync(json, JSON.stringify({ admin: { admin: 'x'.repeat(32) }, proxy: 'p'.repeat(32) }));
  assert.is(readProxyToken({ tokenFile: json }), 'p'.repeat(32));
  assert.is(readProxyToken({}, { MESHLENS_PROXY_TOKEN: 'from-env-0123456789' }), 'from-env-0123456789');
  assert.is(readProxyToken({}, {}), undefined);
  assert.throws(() => readProxyToken({ tokenFile: join(dir, 'absent') }), /invalid agent option: --token-file must be a readable file/);
  const short = join(dir, 'short-token');
  writeFileSync(short, 'tiny');
  assert.throws(() => readProxyToken({ tokenFile: short }), /--token-file must hold a token of 16 to 4096 non-space characters/);
  writeFileSync(json, '{"proxy": 1');
  assert.throws(() => readProxyToken({ tokenFile: json }), /--token-file must hold a token or JSON with a "proxy" token/);
});

Agent('the ephemeral port range is the node\'s ip_local_port_range, Linux\'s default when unreadable or nonsense', () => {
  const file = join(dir, 'ip_local_port_range');
  writeFileSync(file, '20000\t30000\n');
  assert.equal(readEphemeralPorts(file), { low: 20000, high: 30000 });
  for (const nonsense of ['30000\t20000\n', '0\t100\n', '1024\n', 'a b\n']) {
    writeFileSync(file, nonsense);
    assert.equal(readEphemeralPorts(file), { low: 32768, high: 60999 }, JSON.stringify(nonsense));
  }
  assert.equal(readEphemeralPorts(join(dir, 'absent')), { low: 32768, high: 60999 });
});

Agent('a failed report is retried as a gap on the next report, not lost silently', async () => {
  const script = join(dir, 'report.json');
  const state = join(dir, 'report.state');
  writeFileSync(script, JSON.stringify({ runs: [{ lines: [{ interval: { flows: [flow] } }] }] }));
  const source = new LoaderSource({ command: process.execPath, args: [fakeLoader, script, state] });
  const reporter = new KernelReporter(server.address);
  const agent = new NodeAgent({ registry: new Registry(), source, reporter, node, log: () => {} });
  server.failNext(1);
  agent.start();
  await waitIntervals(agent, 1);
  await agent.flush();
  await agent.stop();
  reporter.close();
  assert.is(agent.stats.reportsFailed, 1);
  assert.is(agent.stats.gaps[0]!.reason, 'report_dropped');
});

Agent('a long control-plane outage keeps one merged report_dropped gap, other gaps kept', () => {
  const dropped = (i: number) => ({ reason: 'report_dropped' as const, startMs: i * 1000, endMs: i * 1000 + 900, detail: `err ${i}` });
  const merged = mergeReportGaps([
    dropped(1), { reason: 'loader_exited', startMs: 1500, endMs: 1600, detail: 'x' }, ...Array.from({ length: 500 }, (_, i) => dropped(i + 2)),
  ]);
  assert.is(merged.length, 2);
  assert.equal(merged[0], { reason: 'report_dropped', startMs: 1000, endMs: 501_900, detail: '501 reports dropped; last error: err 501' });
  assert.is(merged[1]!.reason, 'loader_exited');
});

Agent.run();

const Fallback = suite('fallback selection and ss parsing');

Fallback('CapEff decides whether BPF can load', () => {
  assert.is(canLoadBpf('Name:\tx\nCapEff:\t0000000000000000\n'), false);
  assert.is(canLoadBpf('CapEff:\t000001ffffffffff\n'), true);
  assert.is(canLoadBpf(`CapEff:\t${((1n << 39n) | (1n << 38n)).toString(16).padStart(16, '0')}\n`), true);
  assert.is(canLoadBpf(`CapEff:\t${(1n << 39n).toString(16).padStart(16, '0')}\n`), false, 'CAP_BPF alone cannot attach tracing programs');
  assert.is(canLoadBpf('no caps line'), false);
});

Fallback('without BPF the agent says so once and uses ss', () => {
  const logs: string[] = [];
  const config = parseAgentArgs(['--no-bpf', '--control-plane', 'none', '--interval-ms', '50']);
  const source = chooseSource(config, true, (m) => logs.push(m));
  assert.ok(source instanceof SsSource);
  assert.is(logs.length, 1);
  assert.match(logs[0]!, /eBPF collection disabled: --no-bpf given; falling back to per-socket counters from `ss -ti`/);
  const noCaps = chooseSource(parseAgentArgs(['--control-plane', 'none']), false, (m) => logs.push(m));
  assert.ok(noCaps instanceof SsSource);
  assert.match(logs[1]!, /lacks CAP_BPF/);
});

Fallback('agent options are validated', () => {
  assert.throws(() => parseAgentArgs(['--interval-ms', '5']), /invalid agent option: --interval-ms must be an integer in \[10, 3600000\]/);
  assert.throws(() => parseAgentArgs(['--attach', 'kprobe']), /invalid agent option: --attach must be auto, tp_btf or tracepoint/);
});

const ssText = `ESTAB 0      0      10.77.0.1:8080 10.77.0.2:38010
\t cubic wscale:7,7 rto:204 rtt:0.452/0.2 mss:1448 segs_out:1277 segs_in:300 retrans:0/80 lost:0
ESTAB 0      0      [::ffff:10.0.0.5]:443 [::ffff:10.0.0.6]:51000
\t bbr rtt:1.5/0.7 segs_out:10 segs_in:9
LISTEN 0 4096 *:22 *:*
`;

Fallback('parses ss -tinH including IPv6 brackets and missing retrans', () => {
  const sockets = parseSsOutput(ssText);
  assert.is(sockets.length, 2);
  assert.equal(sockets[0], { family: 4, laddr: '10.77.0.1', lport: 8080, raddr: '10.77.0.2', rport: 38010, state: 'ESTAB', totalRetrans: 80, segsOut: 1277, rttUs: 452 });
  assert.is(sockets[1]!.family, 6);
  assert.is(sockets[1]!.raddr, '::ffff:10.0.0.6');
  assert.is(sockets[1]!.totalRetrans, 0);
});

Fallback('ss deltas: first sample is a baseline, then retransmit deltas, opens and closes', () => {
  const tracker = new SsDeltaTracker(9);
  const [a, b] = parseSsOutput(ssText);
  assert.is(tracker.next([a!], 1000, 1000).flows.length, 0);
  const second = tracker.next([{ ...a!, totalRetrans: 85, segsOut: 1300 }, b!], 2000, 1000);
  assert.equal(second.flows.map((f) => [f.lport, f.retransSegs, f.segsOut, f.opened]), [[8080, 5, 23, false], [443, 0, 10, true]]);
  const third = tracker.next([{ ...a!, totalRetrans: 85, segsOut: 1300 }], 3500, 1000);
  assert.equal(third.flows.map((f) => [f.lport, f.closed, f.durationUs]), [[443, true, 1_500_000]]);
  assert.is(third.activeConnections, 1);
});

Fallback.run();
