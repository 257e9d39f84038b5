// A real Prometheus (Debian's `prometheus` binary) for end-to-end tests: scrapes given 127.0.0.1 targets at a short
// interval from a throwaway storage dir, answers PromQL over its HTTP API, and `promtool` checks expositions/rules.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = process.env.MESHLENS_PROMETHEUS ?? 'prometheus';
export const PROMTOOL_BIN = process.env.MESHLENS_PROMTOOL ?? 'promtool';

/** Why Prometheus cannot run here, or null when both binaries answer `--version`. */
export function prometheusMissing(): string | null {
  for (const bin of [PROMETHEUS_BIN, PROMTOOL_BIN]) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return `${bin} binary (Debian package "prometheus") not runnable`;
  }
  return null;
}

export interface ScrapeTarget {
  job: string;
  /** "127.0.0.1:port" */
  address: string;
  metricsPath?: string;
}

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  scrapeIntervalMs?: number;
  /** Extra rule files (absolute paths) to load, e.g. istio/base rules extracted to /tmp. */
  ruleFiles?: string[];
  readyTimeoutMs?: number;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
  /** seconds since the epoch, as Prometheus reports it */
  timestamp: number;
}

export interface TargetHealth {
  job: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

// Ports this process has handed out. bind(0) can give a port again once its probe socket is closed, and callers pick
// several before starting anything (etcd members, control-plane replicas): one CI run gave two replicas the same
// port, and the second exited with EADDRINUSE.
const handedOut = new Set<number>();

/** A loopback port nothing listens on now, never one this process was given before. */
export async function freeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = await probeLoopbackPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function probeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      server.close(() => resolve(address.port));
    });
  });
}

function durationText(ms: number): string {
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`invalid scrape interval: scrapeIntervalMs must be a positive integer, got ${ms}`);
  return `${ms}ms`;
}

export function renderScrapeConfig(opts: PrometheusOptions): string {
  const interval = durationText(opts.scrapeIntervalMs ?? 1000);
  const lines = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
  ];
  if (opts.ruleFiles && opts.ruleFiles.length > 0) {
    lines.push('rule_files:', ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`));
  }
  lines.push('scrape_configs:');
  for (const t of opts.targets) {
    if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(t.address)) {
      throw new Error(`invalid scrape target: address must be a 127.0.0.0/8 host:port, got ${JSON.stringify(t.address)}`);
    }
    lines.push(
      `  - job_name: ${JSON.stringify(t.job)}`,
      `    metrics_path: ${JSON.stringify(t.metricsPath ?? '/metrics')}`,
      '    static_configs:',
      `      - targets: [${JSON.stringify(t.address)}]`,
    );
  }
  return lines.join('\n') + '\n';
}

export class Prometheus {
  private exited: Promise<void>;
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A test process that dies before stop() must not leave Prometheus running.
    const killOnExit = () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', killOnExit);
    void this.exited.then(() => process.off('exit', killOnExit));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20000);
    });
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prometheus' own log so far (its stderr), for failure messages. */
  get log(): string {
    return this.stderr;
  }

  static async start(opts: PrometheusOptions): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'meshlens-prom-'));
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, renderScrapeConfig(opts));
    // The port probe and Prometheus' bind race with other processes; a lost race shows up as an early exit.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLoopbackPort();
      const child = spawn(
        PROMETHEUS_BIN,
        [
          `--config.file=${configPath}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--storage.tsdb.retention.time=1h',
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const prom = new Prometheus(child, port, dir);
      try {
        await prom.waitReady(opts.readyTimeoutMs ?? 60_000);
        return prom;
      } catch (err) {
        lastError = err;
        await prom.stopProcess();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`prometheus exited before becoming ready:\n${this.stderr}`);
      try {
        const res = await fetch(`${this.baseUrl}/-/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await delay(50);
    }
    throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${this.stderr}`);
  }

  private async api<T>(path: string, params: Record<string, string>): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  }

  /** Instant query; `time` in seconds since the epoch (default: now). Scalars come back as one sample. */
  async query(promql: string, time?: number): Promise<Sample[]> {
    const params: Record<string, string> = { query: promql };
    if (time !== undefined) params.time = String(time);
    const data = await this.api<{ resultType: string; result: unknown }>('/api/v1/query', params);
    if (data.resultType === 'vector') {
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
        metric: r.metric,
        value: Number(r.value[1]),
        timestamp: r.value[0],
      }));
    }
    if (data.resultType === 'scalar') {
      const [ts, v] = data.result as [number, string];
      return [{ metric: {}, value: Number(v), timestamp: ts }];
    }
    throw new Error(`prometheus query ${promql}: unsupported result type ${data.resultType}`);
  }

  /** Instant query reduced to { labelValue: value } keyed by one label. */
  async queryBy(promql: string, label: string, time?: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of await this.query(promql, time)) out[s.metric[label] ?? ''] = s.value;
    return out;
  }

  async targets(): Promise<TargetHealth[]> {
    const data = await this.api<{ activeTargets: (TargetHealth & { scrapePool: string })[] }>('/api/v1/targets', {});
    return data.activeTargets.map((t) => ({
      job: t.scrapePool,
      scrapeUrl: t.scrapeUrl,
      health: t.health,
      lastError: t.lastError,
      lastScrape: t.lastScrape,
    }));
  }

  /** Resolves once every configured job has a target whose last scrape succeeded. */
  async waitTargetsUp(timeoutMs = 60_000): Promise<TargetHealth[]> {
    return this.waitFor('all targets up', timeoutMs, async () => {
      const targets = await this.targets();
      return targets.length > 0 && targets.every((t) => t.health === 'up') ? targets : undefined;
    });
  }

  /** Polls `probe` (Prometheus only changes state on its own scrape schedule, which no event exposes). */
  async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (err) {
        last = err;
      }
      await delay(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}\n${this.stderr}`);
  }

  /** Waits until the instant query returns a sample set whose values satisfy `accept`, and returns it. */
  async waitForQuery(promql: string, accept: (samples: Sample[]) => boolean, timeoutMs = 60_000): Promise<Sample[]> {
    return this.waitFor(`query ${promql}`, timeoutMs, async () => {
      const samples = await this.query(promql);
      return accept(samples) ? samples : undefined;
    });
  }

  private async stopProcess(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killTimer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(killTimer);
    }
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PromtoolProblem {
  metric: string;
  problem: string;
}

/** `promtool check metrics` on an exposition: the lint problems it reports (empty = clean). */
export function promtoolCheckMetrics(exposition: string): { problems: PromtoolProblem[]; raw: string; status: number } {
  const run = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw run.error;
  const raw = `${run.stdout}${run.stderr}`;
  const problems: PromtoolProblem[] = [];
  for (const line of raw.split('\n')) {
    const m = /^(\S+)\s+(.+)$/.exec(line.trim());
    if (m) problems.push({ metric: m[1], problem: m[2] });
  }
  return { problems, raw, status: run.status ?? -1 };
}

/** `promtool <args>` on files (check config / check rules / test rules): exit status and output. */
export function promtool(args: string[]): { status: number; output: string } {
  const run = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}
