// The agent's netns → proxy identity: parsing the environment (explicit MESHLENS_NODE_ID, Istio's injected
// variables), the configured mapping, caching with a TTL, and a real network namespace found through the real /proc.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { NodeAgent } from '../../bpf/agent/agent.ts';
import { parseAgentArgs } from '../../bpf/agent/main.ts';
import { identityFromEnviron, NetnsIdentityResolver, parseNetnsIdentity } from '../../bpf/agent/netns-identity.ts';
import { KernelReporter } from '../../bpf/agent/report.ts';
import { ReplaySource } from '../../bpf/agent/sources.ts';
import { needs } from '../support/skip.ts';
import { startKernelTelemetryServer } from './helpers/kernel-telemetry-server.ts';

const env = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\0') + '\0';

const Identity = suite('netns identity');

Identity('MESHLENS_NODE_ID wins; else Istio\'s pod variables rebuild pilot-agent\'s node id; else nothing', () => {
  assert.equal(identityFromEnviron(env({ PATH: '/bin', MESHLENS_NODE_ID: 'sidecar~10.1.0.7~a.b~b.svc.cluster.local', POD_NAME: 'x' })),
    { proxyId: 'sidecar~10.1.0.7~a.b~b.svc.cluster.local', source: 'env_node_id' });
  assert.equal(identityFromEnviron(env({ POD_NAME: 'orders-7f9c', POD_NAMESPACE: 'shop', INSTANCE_IP: '10.1.0.8' }), 'corp.local'),
    { proxyId: 'sidecar~10.1.0.8~orders-7f9c.shop~shop.svc.corp.local', source: 'env_istio' });
  assert.is(identityFromEnviron(env({ POD_NAME: 'orders-7f9c', POD_NAMESPACE: 'shop' })), undefined, 'no INSTANCE_IP: not an istio-proxy');
  assert.is(identityFromEnviron(''), undefined);
});

Identity('--netns-identity INODE=NODE_ID is validated and repeatable', () => {
  assert.equal(parseNetnsIdentity('4026532001=sidecar~1~a.b~b'), [4026532001, 'sidecar~1~a.b~b']);
  for (const bad of ['x=y', '0=a', '4026532001=', '4026532001=a b', '99999999999=a']) {
    assert.throws(() => parseNetnsIdentity(bad), /^invalid agent option: --netns-identity must be INODE=NODE_ID/, bad);
  }
  const config = parseAgentArgs(['--netns-identity', '11=a', '--netns-identity', '12=b', '--cluster-domain', 'corp.local']);
  assert.equal([...config.netnsIdentities], [[11, 'a'], [12, 'b']]);
  assert.is(config.clusterDomain, 'corp.local');
  assert.throws(() => parseAgentArgs(['--cluster-domain', 'Bad_Domain']), /--cluster-domain must be a DNS name/);
});

Identity('a /proc tree: configured first, first identified process per namespace, misses cached until the TTL', () => {
  const proc = mkdtempSync(join(tmpdir(), 'meshlens-proc-'));
  const processIn = (pid: number, netns: number, environ: string) => {
    mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
    symlinkSync(`net:[${netns}]`, join(proc, String(pid), 'ns/net'));
    writeFileSync(join(proc, String(pid), 'environ'), environ);
  };
  try {
    processIn(10, 100, env({ PATH: '/bin' }));                                   // the pause container: no identity
    processIn(11, 100, env({ POD_NAME: 'orders-1', POD_NAMESPACE: 'shop', INSTANCE_IP: '10.1.0.9' }));
    processIn(20, 200, env({ MESHLENS_NODE_ID: 'node-200' }));
    processIn(30, 300, env({ HOME: '/' }));
    mkdirSync(join(proc, 'self'));                                              // non-numeric entries are skipped
    const clock = { now: 0 };
    const resolver = new NetnsIdentityResolver({ procRoot: proc, configured: new Map([[400, 'configured-400']]), ttlMs: 1000, now: () => clock.now });
    const first = resolver.resolve([100, 200, 300, 400, 100]);
    assert.equal(first.sort((a, b) => a.netns - b.netns), [
      { netns: 100, proxyId: 'sidecar~10.1.0.9~orders-1.shop~shop.svc.cluster.local', source: 'env_istio' },
      { netns: 200, proxyId: 'node-200', source: 'env_node_id' },
      { netns: 400, proxyId: 'configured-400', source: 'config' },
    ]);
    assert.is(resolver.scans, 1);
    assert.equal(resolver.known().map((i) => i.netns).sort(), [100, 200, 400], 'known namespaces are named in reports even without flows');
    processIn(31, 300, env({ MESHLENS_NODE_ID: 'late' }));
    assert.is(resolver.resolve([100, 300]).length, 1, 'the miss of 300 is cached');
    assert.is(resolver.scans, 1, 'cached namespaces do not rescan /proc');
    clock.now = 1000;
    assert.equal(resolver.resolve([300]), [{ netns: 300, proxyId: 'late', source: 'env_node_id' }], 'after the TTL the namespace is looked up again');
    assert.is(resolver.scans, 2);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

Identity('the cache is bounded', () => {
  const proc = mkdtempSync(join(tmpdir(), 'meshlens-proc-'));
  try {
    const resolver = new NetnsIdentityResolver({ procRoot: proc, maxCached: 8, now: () => 0 });
    resolver.resolve(Array.from({ length: 100 }, (_, i) => i + 1));
    resolver.resolve([100]);
    assert.is(resolver.scans, 1, 'the most recent namespaces are still cached');
    resolver.resolve([1]);
    assert.is(resolver.scans, 2, 'the oldest were evicted');
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

const isRoot = process.getuid?.() === 0;
const live: ChildProcess[] = [];
process.on('exit', () => { for (const child of live) child.kill('SIGKILL'); });

needs(isRoot ? null : 'root (unshare -n to make a network namespace)', Identity)(
  'a process in its own network namespace is found through the real /proc and its identity reaches the control plane', async () => {
    const child = spawn('unshare', ['-n', 'sleep', '30'], { env: { ...process.env, MESHLENS_NODE_ID: 'sidecar~10.9.9.9~real.ns~ns.svc.cluster.local' }, stdio: 'ignore' });
    live.push(child);
    const server = await startKernelTelemetryServer();
    const dir = mkdtempSync(join(tmpdir(), 'meshlens-netns-'));
    try {
      // unshare execs sleep once the namespace exists: wait until the child's netns differs from ours.
      const own = readlinkSync('/proc/self/ns/net');
      let link = own;
      for (let i = 0; i < 200 && link === own; i++) {
        await new Promise((r) => setTimeout(r, 10));
        try { link = readlinkSync(`/proc/${child.pid}/ns/net`); } catch { /* not yet */ }
      }
      const inode = Number(/\[(\d+)\]/.exec(link)![1]);
      assert.ok(link !== own, 'the child lives in its own namespace');
      const file = join(dir, 'flows.ndjson');
      const line = (netns: number) => ({
        netns, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retrans_segs: 1, rto: 1, fast: 0, tlp: 0,
        syn: 0, other: 0, segs_out: 10, srtt_us: 100, opened: false, closed: false, duration_us: 0, direction: 'outbound',
      });
      writeFileSync(file, JSON.stringify({
        type: 'interval', seq: 1, ts_ms: Date.now(), interval_ms: 1000, attach: 'tp_btf', active_connections: 1, map_full_drops: 0,
        evicted_flows: 0, retrans_failed: 0, flows_tracked: 2, missed_events: 0, flows: [line(inode), line(1)],
      }) + '\n');
      const source = new ReplaySource(file);
      const reporter = new KernelReporter(server.address);
      const agent = new NodeAgent({
        registry: new Registry(), source, reporter, log: () => {}, identities: new NetnsIdentityResolver(),
        node: { nodeName: 'node-a', agentId: 'agent-1', kernelRelease: 'test' },
      });
      agent.start();
      await source.done;
      await agent.flush();
      reporter.close();
      const [report] = server.reports as any[];
      assert.equal(report.netnsIdentities, [{ netns: String(inode), proxyId: 'sidecar~10.9.9.9~real.ns~ns.svc.cluster.local', source: 'IDENTITY_SOURCE_ENV_NODE_ID' }],
        'only the namespace with a proxy is named; inode 1 has none');
    } finally {
      child.kill('SIGKILL');
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

Identity.run();
