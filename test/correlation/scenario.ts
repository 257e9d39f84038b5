// The correlation scenario on this kernel, shared by test/correlation/kernel-verdicts.test.ts and
// test/bench/correlation.bench.ts: the release filter in the Node sidecar (in this process's namespace) sends steady
// traffic from several tenants over a few routes to three endpoints of one cluster, each in its own network
// namespace; the node agent runs the eBPF loader and reports to a real control plane, which joins, attributes and
// judges per window.
//   B: nftables drops `lossPercent` % of the packets on its input (from faults())  → network-suspect
//   C: answers 503 to 1 request in 5 (20 %) (from faults())                          → app-failing
//   D: clean                                                                       → healthy
// Optionally a twin pod (another namespace pair) uses exactly the addresses of the sidecar↔D flows and loses 10 %
// of its packets: its flows must never reach D.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
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
import { LOADER, NetnsPair } from '../bpf/helpers/netns.ts';
import { startTestPlane, type TestPlane } from '../control-plane/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WASM = join(ROOT, 'filter/build/meshlens.wasm');
const UPSTREAM = fileURLToPath(new URL('./fixtures/upstream.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/client.mjs', import.meta.url));
export const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
export const NODE_ID = 'sidecar~10.210.0.1~client-1.shop~shop.svc.cluster.local';
const TENANTS = ['acme', 'globex', 'initech'];
const ROUTES = ['/api/orders/1234', '/api/payments/77', '/api/inventory/sku-9'];
const SUBNET = `10.210.${100 + (process.pid % 100)}`;
/** root ↔ endpoint i over a /30: root .4i+1, endpoint .4i+2 */
export const rootAddress = (i: number) => `${SUBNET}.${4 * i + 1}`;
export const endpointAddress = (i: number) => `${SUBNET}.${4 * i + 2}`;
export const NAMES = ['B', 'C', 'D'] as const;

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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

export interface ScenarioOptions { reportIntervalMs: number; lossPercent: number; twin: boolean }

export interface Scenario {
  plane: TestPlane;
  traffic: { sent: number; failed: number };
  twinNetns: number | undefined;
  /** Verdicts of B, C and D now. */
  verdicts(): Record<string, string>;
  endpoints(): (EndpointStatus & { name: string })[];
  /** Starts both faults; returns the onset time (Date.now()). */
  faults(): number;
  stop(): Promise<void>;
}

export async function startScenario(options: ScenarioOptions): Promise<Scenario> {
  const pairs: NetnsPair[] = [];
  let twin: NetnsPair | undefined;
  const children: ChildProcess[] = [];
  const rootLinks: string[] = [];
  let plane: TestPlane | undefined;
  let sidecar: Sidecar | undefined;
  let agent: NodeAgent | undefined;
  let traffic: ReturnType<typeof drive> | undefined;
  const stop = async () => {
    await traffic?.stop();
    await sidecar?.close();
    await agent?.stop();
    await plane?.stop();
    for (const dev of rootLinks) {
      try { run(['ip', 'link', 'del', dev]); } catch { /* went with its namespace */ }
    }
    for (const pair of [...pairs, ...(twin ? [twin] : [])]) pair.cleanup();
  };
  try {
    // One link from this (root) namespace to each endpoint's namespace.
    for (let i = 0; i < 3; i++) {
      const pair = new NetnsPair();
      pairs.push(pair);
      const rootDev = `mlr${process.pid.toString(36)}${i}`.slice(0, 15);
      const endDev = `mle${process.pid.toString(36)}${i}`.slice(0, 15);
      run(['ip', 'link', 'add', rootDev, 'type', 'veth', 'peer', 'name', endDev, 'netns', pair.server]);
      rootLinks.push(rootDev);
      run(['ip', 'addr', 'add', `${rootAddress(i)}/30`, 'dev', rootDev]);
      run(['ip', 'link', 'set', rootDev, 'up']);
      pair.exec(pair.server, ['ip', 'addr', 'add', `${endpointAddress(i)}/30`, 'dev', endDev]);
      pair.exec(pair.server, ['ip', 'link', 'set', endDev, 'up']);
      children.push(pair.spawnIn(pair.server, [process.execPath, UPSTREAM, endpointAddress(i), '8080']));
    }
    await Promise.all(children.map((c, i) => firstLine(c, `upstream ${NAMES[i]}`)));
    let twinNetns: number | undefined;
    if (options.twin) {
      // The twin: the very addresses of the sidecar ↔ D link, in two other namespaces, losing 10 % of its packets.
      twin = new NetnsPair();
      twin.exec(twin.client, ['ip', 'addr', 'add', `${rootAddress(2)}/30`, 'dev', vethIn(twin, twin.client)]);
      twin.exec(twin.server, ['ip', 'addr', 'add', `${endpointAddress(2)}/30`, 'dev', vethIn(twin, twin.server)]);
      const twinServer = twin.spawnIn(twin.server, [process.execPath, UPSTREAM, endpointAddress(2), '8080']);
      await firstLine(twinServer, 'twin upstream');
      twin.addInputRule(twin.server, `ip daddr ${endpointAddress(2)} tcp dport 8080 numgen random mod 100 < 10 drop`);
      const twinClient = twin.spawnIn(twin.client, [process.execPath, CLIENT, endpointAddress(2), '8080', '40']);
      await firstLine(twinClient, 'twin client');
      twinNetns = inodeOf(twin.exec(twin.client, ['readlink', '/proc/self/ns/net']));
    }

    plane = await startTestPlane({ now: Date.now, correlation: { windowMs: options.reportIntervalMs } });
    // The sidecar lives in this process's namespace, shared with everything else on the machine: its identity is
    // the operator-configured mapping (the /proc scan would find whichever process first carries a node id here).
    const ownNetns = inodeOf(readlinkSync('/proc/self/ns/net'));
    const source = new LoaderSource({ command: LOADER, args: ['-i', String(options.reportIntervalMs), '-m', '65536', '-a', 'auto'] });
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
        tickMs: 200, reportIntervalMs: options.reportIntervalMs,
        controlPlane: { cluster: 'meshlens-control-plane', timeoutMs: 5000, tokenEnv: 'MESHLENS_PROXY_TOKEN' },
        node: { id: NODE_ID, workload: 'client', namespace: 'shop' },
        // The verdicts are what is observed: no breaker may reject C's traffic and no retry may hide its 503s.
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
    const started = plane;
    const nameOf = (endpoint: string) => NAMES[[0, 1, 2].find((i) => endpoint === `${endpointAddress(i)}:8080`) ?? -1];
    const endpoints = () => started.correlator.endpoints().filter((e) => e.cluster === CLUSTER && nameOf(e.endpoint))
      .map((e) => ({ ...e, name: nameOf(e.endpoint)! }));
    return {
      plane: started, traffic: traffic.counts, twinNetns, endpoints,
      verdicts: () => Object.fromEntries(endpoints().map((e) => [e.name, e.verdict])),
      faults: () => {
        const onset = Date.now();
        pairs[0]!.addInputRule(pairs[0]!.server, `ip daddr ${endpointAddress(0)} tcp dport 8080 numgen random mod 100 < ${options.lossPercent} drop`);
        children[1]!.kill('SIGUSR1');
        return onset;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
