// Two network namespaces joined by a veth pair, for kernel tests. Names are unique per test run; cleanup() is
// idempotent and also runs on process exit so a failing test leaves nothing behind.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync, mkdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BPF_DIR = fileURLToPath(new URL('../../../bpf', import.meta.url));
export const LOADER = `${BPF_DIR}/.output/retrans`;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ensureTracefs(): void {
  if (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events')) return;
  mkdirSync('/sys/kernel/tracing', { recursive: true });
  run('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
}

/** Why kernel tests cannot run here, or null. Builds the loader on the way (throws if that build is broken). */
export function kernelTestsMissing(): string | null {
  if (process.getuid?.() !== 0) return 'root (network namespaces, nftables and BPF need it)';
  for (const tool of ['ip', 'nft', 'ss', 'make', 'clang', 'bpftool', 'cc']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `the ${tool} command`;
    }
  }
  if (!existsSync('/usr/include/bpf/libbpf.h')) return 'libbpf-dev (bpf/libbpf.h)';
  // With every tool present, a failing build is a broken bpf/ that must fail loudly, not a skip.
  try {
    run('make', ['-s', '-C', BPF_DIR]);
  } catch (err) {
    throw new Error(`make -C bpf failed with its tools installed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
  }
  try {
    ensureTracefs();
  } catch {
    return 'tracefs';
  }
  try {
    // a loader run of one short interval proves BPF load+attach works on this kernel
    run(LOADER, ['-i', '10', '-c', '1']);
  } catch (err) {
    return `BPF load/attach (loader failed: ${String((err as { stderr?: string }).stderr ?? err).trim().split('\n').pop()})`;
  }
  return null;
}

/** Merges /proc/net/snmp and /proc/net/netstat texts (header line, value line, per protocol) into prefix+name keys. */
export function parseMib(texts: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const text of texts) {
    const lines = text.trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/);
      const prefix = names[0]!.replace(':', '');
      names.slice(1).forEach((n, j) => {
        out[`${prefix}${n}`] = Number(values[j + 1]);
      });
    }
  }
  return out;
}

/** MIB counters of the namespace `pid` lives in, read without spawning (for sampling during a benchmark window). */
export function mibOfProcess(pid: number): Record<string, number> {
  return parseMib(['snmp', 'netstat'].map((file) => readFileSync(`/proc/${pid}/net/${file}`, 'utf8')));
}

let counter = 0;
const live = new Set<NetnsPair>();
process.on('exit', () => {
  for (const pair of live) pair.cleanup();
});

export class NetnsPair {
  readonly server: string;
  readonly client: string;
  readonly serverAddr = '10.201.0.1';
  readonly clientAddr = '10.201.0.2';
  private readonly vethServer: string;
  private readonly vethClient: string;
  private readonly children = new Set<ChildProcess>();
  private cleaned = false;

  constructor() {
    const id = `${process.pid.toString(36)}${(counter++).toString(36)}`;
    this.server = `mls${id}`;
    this.client = `mlc${id}`;
    this.vethServer = `vs${id}`.slice(0, 15);
    this.vethClient = `vc${id}`.slice(0, 15);
    live.add(this);
    run('ip', ['netns', 'add', this.server]);
    run('ip', ['netns', 'add', this.client]);
    run('ip', ['link', 'add', this.vethServer, 'netns', this.server, 'type', 'veth', 'peer', 'name', this.vethClient, 'netns', this.client]);
    for (const [ns, dev, addr] of [[this.server, this.vethServer, this.serverAddr], [this.client, this.vethClient, this.clientAddr]] as const) {
      this.exec(ns, ['ip', 'addr', 'add', `${addr}/24`, 'dev', dev]);
      this.exec(ns, ['ip', 'link', 'set', dev, 'up']);
      this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
      this.exec(ns, ['nft', 'add', 'table', 'inet', 'meshlens_test']);
      this.exec(ns, ['nft', 'add', 'chain', 'inet', 'meshlens_test', 'input', '{ type filter hook input priority 0; }']);
    }
  }

  exec(ns: string, argv: string[]): string {
    return run('ip', ['netns', 'exec', ns, ...argv]);
  }

  inode(ns: string): number {
    return statSync(`/var/run/netns/${ns}`).ino;
  }

  /** nftables rule on `ns`'s input hook, e.g. 'tcp sport 8080 numgen random mod 100 < 5 drop'. */
  addInputRule(ns: string, rule: string): void {
    this.exec(ns, ['nft', `add rule inet meshlens_test input ${rule}`]);
  }

  /** Packets counted by the `counter` statements of `ns`'s input rules, in rule order. */
  inputRuleCounters(ns: string): number[] {
    const listing = this.exec(ns, ['nft', 'list', 'chain', 'inet', 'meshlens_test', 'input']);
    return [...listing.matchAll(/counter packets (\d+) bytes \d+/g)].map((m) => Number(m[1]));
  }

  flushInputRules(ns: string): void {
    this.exec(ns, ['nft', 'flush', 'chain', 'inet', 'meshlens_test', 'input']);
  }

  /** Kernel MIB counters of a namespace: Tcp (snmp) and TcpExt (netstat) merged by name. */
  mib(ns: string): Record<string, number> {
    return parseMib(['/proc/net/snmp', '/proc/net/netstat'].map((file) => this.exec(ns, ['cat', file])));
  }

  /** Spawns a process inside `ns`, killed at cleanup. */
  spawnIn(ns: string, argv: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    live.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of [this.server, this.client]) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
  }
}

/** Every stdout line of a child, queued, so no line is lost between waits. */
export class Lines {
  private readonly seen: string[] = [];
  private waiters: { match: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private stderr = '';
  private exited: string | undefined;

  constructor(private readonly child: ChildProcess, private readonly what: string) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.seen.push(line);
      for (const w of [...this.waiters]) {
        if (w.match(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    child.stderr?.on('data', (d) => {
      this.stderr += d;
    });
    child.once('exit', (code, signal) => {
      this.exited = `${what} exited (${code ?? signal}); stderr: ${this.stderr.slice(-500)}`;
      for (const w of this.waiters.splice(0)) w.reject(new Error(this.exited));
    });
  }

  get all(): readonly string[] {
    return this.seen;
  }

  get stderrText(): string {
    return this.stderr;
  }

  /** The first line (already seen or future) matching `match`, after skipping `after` lines. */
  next(match: (line: string) => boolean, after = 0): Promise<string> {
    const hit = this.seen.slice(after).find(match);
    if (hit !== undefined) return Promise.resolve(hit);
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => this.waiters.push({ match, resolve, reject }));
  }
}
