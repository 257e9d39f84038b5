// meshlens node agent entry point: `node --import tsx bpf/agent/main.ts [options]` from the sources, or
// `node bpf/agent/main.js` in the node-agent image. USAGE below is the reference for its flags.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { NodeAgent, processCanLoadBpf } from './agent.ts';
import { LINUX_EPHEMERAL_PORTS, type PortRange } from './metrics.ts';
import { KernelReporter } from './report.ts';
import { LoaderSource, ReplaySource, SsSource, type CounterSource } from './sources.ts';
import { NetnsIdentityResolver, parseNetnsIdentity } from './netns-identity.ts';

export const USAGE = `usage: meshlens-agent [options]
  --no-bpf                       per-socket counters from \`ss -ti\` instead of the eBPF loader
  --replay FILE                  replay the loader's NDJSON output from FILE instead of collecting
  --interval-ms N                report interval (default 1000, 10..3600000)
  --max-flows N                  flows the eBPF map keeps (default 16384)
  --netns INODE                  collect only in this network namespace (default: all for eBPF, own for ss)
  --attach auto|tp_btf|tracepoint
  --loader PATH                  the libbpf loader (default ../.output/retrans next to this file)
  --control-plane HOST:PORT|none where KernelTelemetry reports go (default 127.0.0.1:18000)
  --metrics-host H --metrics-port N   Prometheus /metrics (default 0.0.0.0:9102)
  --max-destinations N           destination series kept (default 200)
  --node-name NAME               default $NODE_NAME, else the host name
  --token-file FILE              the control plane's proxy bearer token (else env MESHLENS_PROXY_TOKEN)
  --netns-identity INODE=NODE_ID ...   which proxy lives in each network namespace (see netns-identity.ts)
  --cluster-domain D             default cluster.local
  --proc-root DIR                default /proc
  -h, --help                     this text`;

export const DEFAULT_LOADER = fileURLToPath(new URL('../.output/retrans', import.meta.url));

export interface AgentConfig {
  noBpf: boolean;
  replay?: string;
  intervalMs: number;
  maxFlows: number;
  netns: number;
  attach: 'auto' | 'tp_btf' | 'tracepoint';
  loader: string;
  controlPlane?: string;
  metricsHost: string;
  metricsPort: number;
  maxDestinations: number;
  nodeName: string;
  tokenFile?: string;
  netnsIdentities: Map<number, string>;
  clusterDomain: string;
  procRoot: string;
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`invalid agent option: --${name} must be an integer in [${min}, ${max}]`);
  return n;
}

export function parseAgentArgs(argv: string[]): AgentConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      'no-bpf': { type: 'boolean' }, replay: { type: 'string' }, 'interval-ms': { type: 'string' },
      'max-flows': { type: 'string' }, netns: { type: 'string' }, attach: { type: 'string' }, loader: { type: 'string' },
      'control-plane': { type: 'string' }, 'metrics-host': { type: 'string' }, 'metrics-port': { type: 'string' },
      'max-destinations': { type: 'string' }, 'node-name': { type: 'string' }, 'token-file': { type: 'string' },
      'netns-identity': { type: 'string', multiple: true }, 'cluster-domain': { type: 'string' }, 'proc-root': { type: 'string' },
    },
    strict: true,
  });
  const attach = values.attach ?? 'auto';
  if (attach !== 'auto' && attach !== 'tp_btf' && attach !== 'tracepoint') {
    throw new Error('invalid agent option: --attach must be auto, tp_btf or tracepoint');
  }
  const controlPlane = values['control-plane'] ?? '127.0.0.1:18000';
  return {
    noBpf: values['no-bpf'] ?? false,
    replay: values.replay,
    intervalMs: integer('interval-ms', values['interval-ms'], 1000, 10, 3_600_000),
    maxFlows: integer('max-flows', values['max-flows'], 16384, 16, 1 << 24),
    netns: integer('netns', values.netns, 0, 0, 0xffffffff),
    attach,
    loader: values.loader ?? DEFAULT_LOADER,
    controlPlane: controlPlane === 'none' ? undefined : controlPlane,
    metricsHost: values['metrics-host'] ?? '0.0.0.0',
    metricsPort: integer('metrics-port', values['metrics-port'], 9102, 0, 65535),
    maxDestinations: integer('max-destinations', values['max-destinations'], 200, 1, 100_000),
    nodeName: values['node-name'] ?? process.env.NODE_NAME ?? hostname(),
    tokenFile: values['token-file'],
    netnsIdentities: new Map((values['netns-identity'] ?? []).map(parseNetnsIdentity)),
    clusterDomain: clusterDomain(values['cluster-domain']),
    procRoot: values['proc-root'] ?? '/proc',
  };
}

function clusterDomain(value: string | undefined): string {
  if (value === undefined) return 'cluster.local';
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(value)) throw new Error('invalid agent option: --cluster-domain must be a DNS name');
  return value;
}

/** net.ipv4.ip_local_port_range ("low<TAB>high"); Linux's default when it cannot be read or makes no sense. */
export function readEphemeralPorts(path = '/proc/sys/net/ipv4/ip_local_port_range'): PortRange {
  try {
    const [low, high] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! >= 1 && low! <= high! && high! <= 65535) return { low: low!, high: high! };
  } catch { /* not Linux, or /proc not mounted: the default is what such a node would use */ }
  return LINUX_EPHEMERAL_PORTS;
}

/**
 * The control plane's proxy bearer token: the file given with --token-file (a Kubernetes Secret key mounted as a
 * file, or the control plane's own tokens.json, whose "proxy" entry is used), else MESHLENS_PROXY_TOKEN.
 */
export function readProxyToken(config: Pick<AgentConfig, 'tokenFile'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (config.tokenFile === undefined) return env.MESHLENS_PROXY_TOKEN || undefined;
  let text: string;
  try {
    text = readFileSync(config.tokenFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`invalid agent option: --token-file must be a readable file (${(err as Error).message})`);
  }
  let token = text;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('invalid agent option: --token-file must hold a token or JSON with a "proxy" token');
    }
    token = (parsed as { proxy?: unknown }).proxy as string;
  }
  if (typeof token !== 'string' || !/^\S{16,4096}$/.test(token)) {
    throw new Error('invalid agent option: --token-file must hold a token of 16 to 4096 non-space characters');
  }
  return token;
}

function currentNetnsInode(): number {
  const m = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'));
  return m ? Number(m[1]) : 0;
}

/** Picks the source; explains the fallback exactly once. */
export function chooseSource(config: AgentConfig, canLoadBpf: boolean, log: (m: string) => void): CounterSource {
  if (config.replay) return new ReplaySource(config.replay);
  const why = config.noBpf ? '--no-bpf given'
    : !canLoadBpf ? 'this process lacks CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN)'
    : !existsSync(config.loader) ? `loader ${config.loader} not built (npm run build:bpf)`
    : undefined;
  if (why) {
    log(`eBPF collection disabled: ${why}; falling back to per-socket counters from \`ss -ti\` ` +
      '(no retransmit causes, flows shorter than one interval are missed)');
    return new SsSource({ intervalMs: config.intervalMs, netns: config.netns || currentNetnsInode() });
  }
  const args = ['-i', String(config.intervalMs), '-m', String(config.maxFlows), '-a', config.attach];
  if (config.netns) args.push('-n', String(config.netns));
  return new LoaderSource({
    command: config.loader, args,
    // Without this an agent whose loader cannot load (seccomp, a kernel without BTF) reports nothing and says nothing.
    // The loader restarts with backoff, so these lines are as rare as its restarts.
    onExit: (code, signal, stderrTail) => log(`eBPF loader exited with ${signal ? `signal ${signal}` : `code ${code}`}` +
      `${stderrTail.trim() ? `: ${stderrTail.trim().split('\n').pop()}` : ''}; restarting with backoff`),
  });
}

export function serveMetrics(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      }, (err: Error) => {
        res.writeHead(500).end(err.message);
      });
      return;
    }
    res.writeHead(404).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = parseAgentArgs(argv);
  const log = (m: string) => process.stderr.write(`meshlens-agent: ${m}\n`);
  const registry = new Registry();
  const source = chooseSource(config, processCanLoadBpf(), log);
  let reporter: KernelReporter | undefined;
  if (config.controlPlane) {
    const token = readProxyToken(config);
    if (!token) log('no proxy token (--token-file or MESHLENS_PROXY_TOKEN): a meshlens control plane refuses the reports');
    reporter = new KernelReporter(config.controlPlane, { token });
  }
  const agent = new NodeAgent({
    registry, source, reporter,
    identities: new NetnsIdentityResolver({ procRoot: config.procRoot, configured: config.netnsIdentities, clusterDomain: config.clusterDomain }),
    maxDestinations: config.maxDestinations, ephemeralPorts: readEphemeralPorts(), log,
    node: { nodeName: config.nodeName, agentId: randomUUID(), kernelRelease: release() },
  });
  const server = await serveMetrics(registry, config.metricsHost, config.metricsPort);
  log(`source ${source.kind}; metrics on http://${config.metricsHost}:${config.metricsPort}/metrics` +
    (config.controlPlane ? `; reporting to ${config.controlPlane}` : ''));
  agent.start();
  const shutdown = async () => {
    await agent.stop();
    reporter?.close();
    server.close();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  if (source instanceof ReplaySource) {
    await source.done;
    await shutdown();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: Error) => {
    process.stderr.write(`meshlens-agent: ${err.message}\n`);
    process.exit(1);
  });
}
