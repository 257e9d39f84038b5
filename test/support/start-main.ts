// `npm start`'s entry point (filter/host/main.ts) as a real child process on ephemeral ports, for the e2e tests:
// resolves once it prints its ready line, with the bound ports, and keeps its output for assertions.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureFilterBuilt } from './release-filter.ts';
import { until as poll } from './until.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Ready {
  listenerPort: number;
  adminPort: number;
  grpcPort: number;
  httpPort: number;
  dataDir: string;
  nodeId: string;
  vms: number;
  prometheusUrl: string | null;
}

export interface Started {
  child: ChildProcess;
  ready: Ready;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  dataDir: string;
  args?: string[];
  workers?: number;
  /** Extra environment; MESHLENS_PROMETHEUS defaults to "off" so only the tests about it pay for a Prometheus. */
  env?: Record<string, string>;
}

function environment(opts: StartOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MESHLENS_LISTENER_PORT: '0', MESHLENS_ADMIN_PORT: '0', MESHLENS_GRPC_PORT: '0', MESHLENS_HTTP_PORT: '0',
    MESHLENS_PROMETHEUS_PORT: '0', MESHLENS_PROMETHEUS: 'off',
    MESHLENS_DATA_DIR: opts.dataDir, MESHLENS_WORKERS: String(opts.workers ?? 2),
    ...opts.env,
  };
}

/** Spawns main.ts and resolves with the bound ports once it prints its ready line. */
export function startMain(opts: StartOptions): Promise<Started> {
  // main.ts reads filter/build/meshlens.wasm by path: bring it up to date before any child starts.
  ensureFilterBuilt();
  const child = spawn(process.execPath, ['--import', 'tsx', 'filter/host/main.ts', ...(opts.args ?? [])], {
    cwd: ROOT, env: environment(opts), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      if (!line.startsWith('{')) return;
      const event = JSON.parse(line) as { event?: string } & Ready;
      if (event.event === 'ready') resolve({ child, ready: event, stdout, stderr, exited });
    });
    exited.then(({ code, signal }) => reject(new Error(`main.ts exited (${code ?? signal}) before ready:\n${stderr.join('\n')}`)));
  });
}

/** Runs main.ts to completion (for arguments and configs it must refuse before starting). */
export function runMain(opts: StartOptions): { status: number | null; stdout: string; stderr: string } {
  ensureFilterBuilt();
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'filter/host/main.ts', ...(opts.args ?? [])], {
    cwd: ROOT, env: environment(opts), encoding: 'utf8', timeout: 120_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The admin token main.ts' control plane generated in its data dir. */
export function adminToken(ready: Ready): string {
  const tokens = JSON.parse(readFileSync(join(ready.dataDir, 'tokens.json'), 'utf8')) as { admin: Record<string, string> };
  return Object.values(tokens.admin)[0]!;
}

/** `until` with the patience a whole `npm start` needs: its gRPC streams and scrapes are in another process. */
export const until = <T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> => poll(probe, what, timeoutMs, 50);

/** JSON from the control plane's admin API with the admin token (or `token`, or none when null). */
export async function adminApi<T = any>(ready: Ready, path: string, init: { method?: string; body?: unknown; token?: string | null } = {}): Promise<{ status: number; body: T }> {
  const token = init.token === undefined ? adminToken(ready) : init.token;
  const response = await fetch(`http://127.0.0.1:${ready.httpPort}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/**
 * Waits until this node's VMs hold their one discovery stream (one rollout row for the proxy); a VM's reporter starts
 * at its first tick or first request, whichever comes first.
 */
export async function waitConnected(ready: Ready): Promise<void> {
  await until(async () => {
    const { body } = await adminApi<{ nodes: { nodeId: string; connected: boolean }[] }>(ready, '/v1/rollout');
    return body.nodes.filter((n) => n.nodeId === ready.nodeId && n.connected).length === 1 ? true : undefined;
  }, 'the proxy connected');
}
