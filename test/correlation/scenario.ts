// The correlation scenario on this kernel, shared by test/correlation/kernel-verdicts.test.ts and
// test/bench/correlation.bench.ts: the release filter in the Node sidecar (its own process, in this process's
// namespace) carries steady traffic from several tenants over a few routes (a driver process) to three endpoints of
// one cluster, each in its own network namespace; the node agent runs the eBPF loader and reports to a real control
// plane, which joins, attributes and judges per window. The control plane and the agent run in this process; the
// sidecar and the driver do not, so a busy judge does not slow the traffic it judges (on a shared 2-core host the
// three together in one event loop carried too few requests a window to tell anything).
//   B: nftables drops `lossPercent` % of the packets on its input (from faults())  → network-suspect
//   C: answers 503 to 1 request in 5 (20 %) (from faults())                          → app-failing
//   D: clean                                                                       → healthy
// Optionally a twin pod (another namespace pair) uses exactly the addresses of the sidecar↔D flows and loses 10 %
// of its packets: its flows must never reach D.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { NodeAgent } from '../../bpf/agent/agent.ts';
import { NetnsIdentityResolver } from '../../bpf/agent/netns-identity.ts';
import { KernelReporter } from '../../bpf/agent/report.ts';
import { LoaderSource } from '../../bpf/agent/sources.ts';
import type { EndpointStatus } from '../../control-plane/src/correlator.ts';
import { LOADER, NetnsPair } from '../bpf/helpers/netns.ts';
import { startTestPlane, type TestPlane } from '../control-plane/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WASM = join(ROOT, 'filter/build/meshlens.wasm');
const UPSTREAM = fileURLToPath(new URL('./fixtures/upstream.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/client.mjs', import.meta.url));
const SIDECAR = fileURLToPath(new URL('./fixtures/sidecar.ts', import.meta.url));
const DRIVER = fileURLToPath(new URL('./fixtures/driver.mjs', import.meta.url));
export const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
export const NODE_ID = 'sidecar~10.210.0.1~client-1.shop~shop.svc.cluster.local';
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

/** A child's stdout lines, each handed to `onLine`; resolves with the first. */
function lines(child: ChildProcess, what: string, onLine: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    let first = true;
    child.stderr!.on('data', (chunk) => { err = (err + String(chunk)).slice(-2000); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      onLine(line);
      if (first) resolve(line);
      first = false;
    });
    child.once('exit', (code) => { if (first) reject(new Error(`${what} exited (${code}): ${err}`)); });
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface ScenarioCluster { name: string; authority: string; endpoints: number[] }

export interface ScenarioOptions {
  reportIntervalMs: number;
  lossPercent: number;
  twin: boolean;
  concurrency?: number;
  bodyBytes?: number;
  /** The sidecar's clusters, each routed by :authority, with endpoints by index (0 B, 1 C, 2 D); the driver sends the
   * same traffic to each authority. Default: CLUSTER with B, C and D for any authority. */
  clusters?: ScenarioCluster[];
}

export interface HostTraffic { sent: number; failed: number; breakerOpen: number }

export interface Scenario {
  plane: TestPlane;
  traffic: { sent: number; failed: number; hosts?: Record<string, HostTraffic> };
  twinNetns: number | undefined;
  /** Verdicts of B, C and D in `cluster` now. */
  verdicts(cluster?: string): Record<string, string>;
  endpoints(): (EndpointStatus & { name: string })[];
  /** Starts both faults; resolves with the onset time (Date.now() once both are in place). */
  faults(): Promise<number>;
  stop(): Promise<void>;
}

export async function startScenario(options: ScenarioOptions): Promise<Scenario> {
  const pairs: NetnsPair[] = [];
  let twin: NetnsPair | undefined;
  const children: ChildProcess[] = [];
  const rootLinks: string[] = [];
  let plane: TestPlane | undefined;
  let sidecar: ChildProcess | undefined;
  let driver: ChildProcess | undefined;
  let agent: NodeAgent | undefined;
  const traffic: Scenario['traffic'] = { sent: 0, failed: 0 };
  const clusters = options.clusters ?? [{ name: CLUSTER, authority: '*', endpoints: [0, 1, 2] }];
  const stop = async () => {
    await stopChild(driver);
    await stopChild(sidecar);
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

    sidecar = spawn(process.execPath, ['--import', 'tsx', SIDECAR, JSON.stringify({
      wasmPath: WASM,
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
      clusters: Object.fromEntries(clusters.map((c) => [c.name, { endpoints: c.endpoints.map((i) => `${endpointAddress(i)}:8080`) }])),
      routes: clusters.map((c) => ({ authority: c.authority, prefix: '/', cluster: c.name, timeoutMs: 15000 })),
      pluginOptions: {
        clusters: { 'meshlens-control-plane': { address: `127.0.0.1:${plane.grpcPort}` } },
        environment: { MESHLENS_PROXY_TOKEN: plane.proxyToken },
      },
    })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { listenerPort } = JSON.parse(await lines(sidecar, 'sidecar', () => {})) as { listenerPort: number };
    const hosts = options.clusters ? clusters.map((c) => c.authority).join(',') : '';
    driver = spawn(process.execPath, [DRIVER, String(listenerPort), String(options.concurrency ?? 6), String(options.bodyBytes ?? 0), hosts],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    await lines(driver, 'traffic driver', (line) => Object.assign(traffic, JSON.parse(line)));
    const started = plane;
    const nameOf = (endpoint: string) => NAMES[[0, 1, 2].find((i) => endpoint === `${endpointAddress(i)}:8080`) ?? -1];
    const names = new Set(clusters.map((c) => c.name));
    const endpoints = () => started.correlator.endpoints().filter((e) => names.has(e.cluster) && nameOf(e.endpoint))
      .map((e) => ({ ...e, name: nameOf(e.endpoint)! }));
    return {
      plane: started, traffic, twinNetns, endpoints,
      verdicts: (cluster = CLUSTER) => Object.fromEntries(endpoints().filter((e) => e.cluster === cluster).map((e) => [e.name, e.verdict])),
      faults: async () => {
        // Asynchronously: a synchronous nft run stalls the control plane and the agent in this process for as long
        // as the loaded host takes to run it, right at the onset being timed. Onset is when the rule is in place.
        await promisify(execFile)('ip', ['netns', 'exec', pairs[0]!.server, 'nft',
          `add rule inet meshlens_test input ip daddr ${endpointAddress(0)} tcp dport 8080 numgen random mod 100 < ${options.lossPercent} drop`]);
        children[1]!.kill('SIGUSR1');
        return Date.now();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
