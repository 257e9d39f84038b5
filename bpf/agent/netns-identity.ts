// Which proxy lives in a network namespace: the key that turns a kernel flow (netns, 4-tuple) into the filter's
// (node.id, upstream.local_address, upstream.address), so equal addresses in two pods never mix.
//
// How the agent knows, in order:
//   1. configured: --netns-identity INODE=NODE_ID (an operator's explicit mapping; tests; hosts without /proc access);
//   2. MESHLENS_NODE_ID in the environment of a process living in the namespace: the filter's node.id given to the
//      proxy's container (the Node sidecar sets it; on Istio an operator may set it on istio-proxy);
//   3. Istio's injected istio-proxy environment (POD_NAME, POD_NAMESPACE, INSTANCE_IP) of a process in the namespace,
//      from which the node id pilot-agent gives Envoy is rebuilt: Type~IP~ID~DNSDomain with ID "<pod>.<namespace>"
//      and DNSDomain "<namespace>.svc.<cluster domain>" (istio/istio pilot/pkg/model/context.go, Proxy.ServiceNode).
// Processes are found by scanning /proc/<pid>/ns/net (the inode in "net:[INODE]" is FlowEntry.netns); the agent needs
// the host PID namespace and CAP_SYS_PTRACE (or root) to read other processes' links and environ.
//
// Cost and bounds: a scan reads one link per process and only runs when a reported namespace is not cached; results
// (found or not) are cached for `ttlMs` (default 30 s, so a recycled inode is re-resolved), at most `maxCached`
// (default 4,096) namespaces. Environ files are read up to 64 KiB.
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

export type IdentitySourceKind = 'config' | 'env_node_id' | 'env_istio';

export interface NetnsIdentity {
  netns: number;
  proxyId: string;
  source: IdentitySourceKind;
}

export interface NetnsIdentityOptions {
  procRoot?: string;
  configured?: ReadonlyMap<number, string>;
  clusterDomain?: string;      // default cluster.local
  ttlMs?: number;
  maxCached?: number;
  now?: () => number;
}

const MAX_ENVIRON_BYTES = 64 * 1024;

/** "INODE=NODE_ID" as given to --netns-identity. */
export function parseNetnsIdentity(value: string): [number, string] {
  const match = /^(\d{1,10})=(\S{1,1024})$/.exec(value);
  const inode = match ? Number(match[1]) : NaN;
  if (!match || !(inode > 0 && inode <= 0xffffffff)) {
    throw new Error('invalid agent option: --netns-identity must be INODE=NODE_ID (inode a positive 32-bit integer, id 1 to 1024 non-space characters)');
  }
  return [inode, match[2]!];
}

/** The proxy identity an environment names, or undefined. `environ` is /proc/<pid>/environ (NUL-separated). */
export function identityFromEnviron(environ: string, clusterDomain = 'cluster.local'): { proxyId: string; source: IdentitySourceKind } | undefined {
  const env = new Map<string, string>();
  for (const entry of environ.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const explicit = env.get('MESHLENS_NODE_ID');
  if (explicit && explicit.length <= 1024) return { proxyId: explicit, source: 'env_node_id' };
  const pod = env.get('POD_NAME');
  const namespace = env.get('POD_NAMESPACE');
  const ip = env.get('INSTANCE_IP');
  if (pod && namespace && ip) return { proxyId: `sidecar~${ip}~${pod}.${namespace}~${namespace}.svc.${clusterDomain}`, source: 'env_istio' };
  return undefined;
}

function readHead(path: string, max: number): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(max);
    const n = readSync(fd, buffer, 0, max, 0);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export class NetnsIdentityResolver {
  readonly #procRoot: string;
  readonly #configured: ReadonlyMap<number, string>;
  readonly #clusterDomain: string;
  readonly #ttlMs: number;
  readonly #maxCached: number;
  readonly #now: () => number;
  readonly #cache = new Map<number, { identity: NetnsIdentity | undefined; atMs: number }>();
  scans = 0;

  constructor(options: NetnsIdentityOptions = {}) {
    this.#procRoot = options.procRoot ?? '/proc';
    this.#configured = options.configured ?? new Map();
    this.#clusterDomain = options.clusterDomain ?? 'cluster.local';
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#maxCached = options.maxCached ?? 4096;
    this.#now = options.now ?? Date.now;
  }

  /** Identities of the given namespaces that have one (namespaces without a known proxy are left out). */
  resolve(namespaces: Iterable<number>): NetnsIdentity[] {
    const now = this.#now();
    const out: NetnsIdentity[] = [];
    const missing = new Set<number>();
    for (const netns of new Set(namespaces)) {
      const configured = this.#configured.get(netns);
      if (configured) {
        out.push({ netns, proxyId: configured, source: 'config' });
        continue;
      }
      const cached = this.#cache.get(netns);
      if (cached && now - cached.atMs < this.#ttlMs) {
        if (cached.identity) out.push(cached.identity);
      } else {
        missing.add(netns);
      }
    }
    if (missing.size === 0) return out;
    const found = this.#scan(missing);
    for (const netns of missing) {
      const identity = found.get(netns);
      this.#remember(netns, identity, now);
      if (identity) out.push(identity);
    }
    return out;
  }

  /**
   * Every namespace with a known proxy: configured ones and those found within the TTL. The agent names them in each
   * report even when they have no flow, telling the control plane that the collector watched them (no flow there
   * means no retransmit and no state change in the interval).
   */
  known(): NetnsIdentity[] {
    const now = this.#now();
    const out: NetnsIdentity[] = [...this.#configured].map(([netns, proxyId]) => ({ netns, proxyId, source: 'config' as const }));
    for (const [netns, cached] of this.#cache) {
      if (cached.identity && now - cached.atMs < this.#ttlMs && !this.#configured.has(netns)) out.push(cached.identity);
    }
    return out;
  }

  #remember(netns: number, identity: NetnsIdentity | undefined, now: number): void {
    this.#cache.delete(netns);
    if (this.#cache.size >= this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(netns, { identity, atMs: now });
  }

  /** One pass over /proc: the first process of each wanted namespace whose environment names a proxy. */
  #scan(wanted: ReadonlySet<number>): Map<number, NetnsIdentity> {
    this.scans++;
    const found = new Map<number, NetnsIdentity>();
    let pids: string[];
    try {
      pids = readdirSync(this.#procRoot).filter((name) => /^\d+$/.test(name));
    } catch {
      return found;
    }
    for (const pid of pids) {
      if (found.size === wanted.size) break;
      let netns: number;
      try {
        const match = /^net:\[(\d+)\]$/.exec(readlinkSync(join(this.#procRoot, pid, 'ns/net')));
        if (!match) continue;
        netns = Number(match[1]);
      } catch {
        continue;   // exited meanwhile, or not ours to read
      }
      if (!wanted.has(netns) || found.has(netns)) continue;
      try {
        const identity = identityFromEnviron(readHead(join(this.#procRoot, pid, 'environ'), MAX_ENVIRON_BYTES), this.#clusterDomain);
        if (identity) found.set(netns, { netns, ...identity });
      } catch {
        /* exited meanwhile */
      }
    }
    return found;
  }
}
