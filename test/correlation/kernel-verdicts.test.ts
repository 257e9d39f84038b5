// The third pillar end to end on this kernel: the release filter in the Node sidecar sends steady traffic from several
// tenants over a few routes to three endpoints of one cluster, each in its own network namespace; the node agent runs
// the eBPF loader and reports to the control plane, which joins, attributes and judges per window.
//   B: nftables drops 3 % of the packets on its input   → network-suspect
//   C: answers 503 to 1 request in 5 (20 %)             → app-failing
//   D: clean                                            → healthy
// A twin pod (another namespace pair) uses exactly the addresses of the sidecar↔D flows and loses 10 % of its packets:
// its flows must not reach D. Nothing in the warm-up may be flagged.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { NodeAgent } from '../../bpf/agent/agent.ts';
import { NetnsIdentityResolver } from '../../bpf/agent/netns-identity.ts';
import { KernelReporter } from '../../bpf/agent/report.ts';
import { LoaderSource } from '../../bpf/agent/sources.ts';
import type { Sidecar } from '../../filter/host/sidecar/index.ts';
import type { EndpointStatus } from '../../control-plane/src/correlator.ts';
import { kernelTestsMissing, LOADER, NetnsPair } from '../bpf/helpers/netns.ts';
import { startTestPlane, type TestPlane } from '../control-plane/helpers.ts';
import { needs } from '../support/skip.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WASM = join(ROOT, 'filter/build/meshlens.wasm');
const UPSTREAM = fileURLToPath(new URL('./fixtures/upstream.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/client.mjs', import.meta.url));
const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
const NODE_ID = 'sidecar~10.210.0.1~client-1.shop~shop.svc.cluster.local';
const REPORT_INTERVAL_MS = 1000;
const TENANTS = ['acme', 'globex', 'initech'];
const ROUTES = ['/api/orders/1234', '/api/payments/77', '/api/inventory/sku-9'];
const SUBNET = `10.210.${100 + (process.pid % 100)}`;
/** root ↔ endpoint i over a /30: root .4i+1, endpoint .4i+2 */
const rootAddress = (i: number) => `${SUBNET}.${4 * i + 1}`;
const endpointAddress = (i: number) => `${SUBNET}.${4 * i + 2}`;

const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inodeOf = (link: string) => Number(/\[(\d+)\]/.exec(link)![1]);

/** The veth NetnsPair put into `ns` (the one link that is not lo). */
function vethIn(pair: NetnsPair, ns: string): string {
  const line = pair.exec(ns, ['ip', '-o', 'link', 'show']).split('\n').find((l) => /^\d+: /.test(l) && !/^\d+: lo:/.test(l))!;
  return /^\d+: ([^:@]+)/.exec(line)![1]!;
}

function firstLine(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (chunk) => { err += String(chunk); });
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Steady keep-alive traffic through the sidecar: every tenant × route, `concurrency` requests in flight. */
function drive(port: number, concurrency: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let stopped = false;
  const counts = { sent: 0, failed: 0 };
  const loop = async (worker: number) => {
    for (let i = worker; !stopped; i += concurrency) {
      const tenant = TENANTS[i % TENANTS.length]!;
      const path = ROUTES[Math.floor(i / TENANTS.length) % ROUTES.length]!;
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-tenant-id': tenant } }, (res) => {
          if ((res.statusCode ?? 0) >= 500) counts.failed++;
          res.resume().on('end', resolve);
        });
        req.on('error', () => { counts.failed++; resolve(); });
      });
      counts.sent++;
      await sleep(5);
    }
  };
  const loops = Array.from({ length: concurrency }, (_, w) => loop(w));
  return { counts, stop: async () => { stopped = true; await Promise.all(loops); agent.destroy(); } };
}

const e2e = suite('kernel correlation end to end');
const missing = kernelTestsMissing() ?? (existsSync(WASM) ? null : 'the release filter (npm run build:filter)');

needs(missing, e2e)('B network-suspect, C app-failing, D healthy within 2 report intervals; the twin namespace does not mix', async () => {
  const pairs = [new NetnsPair(), new NetnsPair(), new NetnsPair()];
  const twin = new NetnsPair();
  const children: ChildProcess[] = [];
  let plane: TestPlane | undefined;
  let sidecar: Sidecar | undefined;
  let agent: NodeAgent | undefined;
  let traffic: ReturnType<typeof drive> | undefined;
  const rootLinks: string[] = [];
  try {
    // One link from this (root) namespace to each endpoint's namespace.
    pairs.forEach((pair, i) => {
      const rootDev = `mlr${process.pid.toString(36)}${i}`.slice(0, 15);
      const endDev = `mle${process.pid.toString(36)}${i}`.slice(0, 15);
      run(['ip', 'link', 'add', rootDev, 'type', 'veth', 'peer', 'name', endDev, 'netns', pair.server]);
      rootLinks.push(rootDev);
      run(['ip', 'addr', 'add', `${rootAddress(i)}/30`, 'dev', rootDev]);
      run(['ip', 'link', 'set', rootDev, 'up']);
      pair.exec(pair.server, ['ip', 'addr', 'add', `${endpointAddress(i)}/30`, 'dev', endDev]);
      pair.exec(pair.server, ['ip', 'link', 'set', endDev, 'up']);
      const child = pair.spawnIn(pair.server, [process.execPath, UPSTREAM, endpointAddress(i), '8080']);
      children.push(child);
    });
    await Promise.all(children.map((c, i) => firstLine(c, `upstream ${i}`)));
    // The twin: the very addresses of the sidecar ↔ D link, in two other namespaces, losing 10 % of its packets.
    twin.exec(twin.client, ['ip', 'addr', 'add', `${rootAddress(2)}/30`, 'dev', vethIn(twin, twin.client)]);
    twin.exec(twin.server, ['ip', 'addr', 'add', `${endpointAddress(2)}/30`, 'dev', vethIn(twin, twin.server)]);
    const twinServer = twin.spawnIn(twin.server, [process.execPath, UPSTREAM, endpointAddress(2), '8080']);
    await firstLine(twinServer, 'twin upstream');
    twin.addInputRule(twin.server, `ip daddr ${endpointAddress(2)} tcp dport 8080 numgen random mod 100 < 10 drop`);
    const twinClient = twin.spawnIn(twin.client, [process.execPath, CLIENT, endpointAddress(2), '8080', '40']);
    await firstLine(twinClient, 'twin client');
    const twinNetns = inodeOf(twin.exec(twin.client, ['readlink', '/proc/self/ns/net']));

    plane = await startTestPlane({ now: Date.now, correlation: { windowMs: REPORT_INTERVAL_MS } });
    // The sidecar lives in this process's namespace, shared with everything else on the machine: its identity is
    // the operator-configured mapping (the /proc scan would find whichever process first carries a node id here).
    const ownNetns = inodeOf(readlinkSync('/proc/self/ns/net'));
    const source = new LoaderSource({ command: LOADER, args: ['-i', String(REPORT_INTERVAL_MS), '-m', '65536', '-a', 'auto'] });
    const reporter = new KernelReporter(`127.0.0.1:${plane.grpcPort}`, { token: plane.proxyToken });
    agent = new NodeAgent({
      registry: new Registry(), source, reporter, log: () => {},
      identities: new NetnsIdentityResolver({ configured: new Map([[ownNetns, NODE_ID]]) }),
      node: { nodeName: 'node-a', agentId: 'agent-e2e', kernelRelease: 'test' },
    });
    agent.start();

    const { startSidecar } = await import('../../filter/host/sidecar/index.ts');
    sidecar = await startSidecar({
      wasm: readFileSync(WASM),
      configuration: JSON.stringify({
        tenant: { headers: ['x-tenant-id'], maxTenants: 100 },
        paths: { templates: ['/api/orders/{id}', '/api/payments/{id}', '/api/inventory/{sku}'] },
        tickMs: 200, reportIntervalMs: REPORT_INTERVAL_MS,
        controlPlane: { cluster: 'meshlens-control-plane', timeoutMs: 5000, tokenEnv: 'MESHLENS_PROXY_TOKEN' },
        node: { id: NODE_ID, workload: 'client', namespace: 'shop' },
        // The verdicts are what is tested: no breaker may reject C's traffic and no retry may hide its 503s.
        defaultPolicy: { target: { cluster: '*', pathTemplate: '*' }, breaker: { minRequests: 1000000 }, retry: { enabled: false } },
      }),
      workers: 2,
      listener: { port: 0 },
      admin: { port: 0 },
      clusters: { [CLUSTER]: { endpoints: [0, 1, 2].map((i) => `${endpointAddress(i)}:8080`) } },
      routes: [{ prefix: '/', cluster: CLUSTER, timeoutMs: 15000 }],
      pluginOptions: {
        clusters: { 'meshlens-control-plane': { address: `127.0.0.1:${plane.grpcPort}` } },
        environment: { MESHLENS_PROXY_TOKEN: plane.proxyToken },
      },
    });
    traffic = drive(sidecar.listenerPort, 6);

    const names = ['B', 'C', 'D'];
    const endpointOf = (status: EndpointStatus) => names[[0, 1, 2].find((i) => status.endpoint === `${endpointAddress(i)}:8080`)!];
    const verdicts = () => Object.fromEntries(plane!.correlator.endpoints().filter((e) => e.cluster === CLUSTER && endpointOf(e)).map((e) => [endpointOf(e), e.verdict]));

    // Warm-up: 10 windows, long enough for the latency baselines (5 windows) and with nothing flagged.
    const flaggedInWarmup: string[] = [];
    const warmupEnd = Date.now() + 10 * REPORT_INTERVAL_MS;
    while (Date.now() < warmupEnd) {
      await sleep(200);
      for (const [name, verdict] of Object.entries(verdicts())) if (verdict !== 'healthy' && verdict !== 'unknown') flaggedInWarmup.push(`${name} ${verdict}`);
    }
    assert.equal(verdicts(), { B: 'healthy', C: 'healthy', D: 'healthy' }, `sent ${traffic.counts.sent}, windows ${plane.correlator.evaluatedWindows}`);
    assert.equal(flaggedInWarmup, [], 'a clean warm-up flags nothing');

    // Faults start together.
    const onset = Date.now();
    pairs[0]!.addInputRule(pairs[0]!.server, `ip daddr ${endpointAddress(0)} tcp dport 8080 numgen random mod 100 < 3 drop`);
    children[1]!.kill('SIGUSR1');
    const seenAt: Record<string, number> = {};
    const deadline = onset + 8 * REPORT_INTERVAL_MS;
    const expected = { B: 'network-suspect', C: 'app-failing' } as Record<string, string>;
    while (Date.now() < deadline && Object.keys(seenAt).length < 2) {
      await sleep(50);
      for (const [name, verdict] of Object.entries(verdicts())) if (verdict === expected[name] && seenAt[name] === undefined) seenAt[name] = Date.now() - onset;
    }
    // Two more windows of faults, so D's verdict and the twin are judged on a faulty period too.
    await sleep(2 * REPORT_INTERVAL_MS);
    const final = plane.correlator.endpoints().filter((e) => e.cluster === CLUSTER);
    const summary = final.map((e) => `${endpointOf(e)} ${e.verdict}: ${e.history.map((h) => `${h.to} (${h.reason})`).join(' → ')}`).join('\n');
    process.stdout.write(`verdict after onset: ${JSON.stringify(seenAt)} ms; requests sent ${traffic.counts.sent}, failed ${traffic.counts.failed}\n${summary}\n`);
    assert.equal(verdicts(), { B: 'network-suspect', C: 'app-failing', D: 'healthy' }, summary);
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
    const twinFlows = joins.flatMap((j) => j.connections).filter((c) => c.netns === twinNetns);
    assert.ok(twinFlows.length > 0, 'the twin namespace was observed');
    assert.ok(twinFlows.every((c) => c.proxyId === '' && c.cluster === '' && c.requests === 0), 'the twin joins no proxy');
    assert.ok(twinFlows.some((c) => c.remoteAddress === `${endpointAddress(2)}:8080` && c.localAddress.startsWith(`${rootAddress(2)}:`)),
      'the twin used the very addresses of the sidecar ↔ D flows');
    const twinRetrans = twinFlows.reduce((n, c) => n + c.retransSegs, 0);
    const d = final.find((e) => endpointOf(e) === 'D')!;
    const dRetrans = joins.flatMap((j) => j.endpoints).filter((e) => e.endpoint === `${endpointAddress(2)}:8080`).reduce((n, e) => n + e.retransSegs, 0);
    process.stdout.write(`twin retransmitted ${twinRetrans} segments; D ${dRetrans}; D retransmit ratio ${d.signals.retransRatio}\n`);
    assert.ok(twinRetrans > dRetrans, `the twin's loss (${twinRetrans}) is not D's (${dRetrans})`);
  } finally {
    await traffic?.stop();
    await sidecar?.close();
    await agent?.stop();
    await plane?.stop();
    for (const dev of rootLinks) {
      try { run(['ip', 'link', 'del', dev]); } catch { /* went with its namespace */ }
    }
    for (const pair of [...pairs, twin]) pair.cleanup();
  }
});

e2e.run();
