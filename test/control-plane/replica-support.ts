// Control-plane replicas for tests, all real: an etcd cluster (test/support/etcd.ts) and `meshlens serve --store etcd`
// processes sharing it and one token file, in one scratch directory that stop() removes. Ports are chosen up front, so
// a replica can be started before etcd is (it waits, not ready) and restarted on the same ports and data directory.
//
//   const cp = await etcdReplicas({ name: 'peers', replicas: 3 });
//   try {
//     await cp.startEtcd();
//     for (const r of cp.replicas) { cp.startReplica(r); await cp.ready(r); }
//     await cp.api(cp.replicas[0], 'PUT', '/v1/policies/orders', { expectedVersion: 0, policy });
//     await cp.kill(cp.replicas[1]);                       // kill -9, resolved once it is gone
//   } catch (error) { process.stderr.write(cp.logs()); throw error; }
//   finally { await cp.stop(); }
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTokenFile, type TokenFile } from '../../control-plane/src/auth.ts';
import { etcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { makePki } from '../support/pki.ts';
import { freeLoopbackPort } from '../support/prometheus.ts';
import { CLI, ensureCliBuilt } from './cli-support.ts';
import { http } from './helpers.ts';
import { until as poll } from '../support/until.ts';

/** `until` with the patience etcd and three replica processes need. */
export const until = <T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> => poll(probe, what, timeoutMs, 100);

export interface Replica {
  index: number;                          // 0-based; messages say `replica ${index + 1}`
  grpcPort: number;
  httpPort: number;
  process: ChildProcess | undefined;      // undefined until startReplica
  stderr: string[];                       // the newest STDERR_CHUNKS chunks of its log, shown when a test fails
}

export interface EtcdReplicas {
  dir: string;                            // tokens.json, replica-<index>/ data dirs and, with etcdTls, the PKI of pki.ts
  tokens: TokenFile;
  tokenFile: string;
  admin: string;                          // an admin token of tokenFile
  etcd: EtcdCluster;
  replicas: Replica[];
  startEtcd(): Promise<void>;
  /** Spawns `serve` for r (again after a kill: same ports, same data dir); extra flags are appended. */
  startReplica(r: Replica, ...flags: string[]): void;
  alive(r: Replica): boolean;
  readyz(r: Replica): ReturnType<typeof http>;
  /** Until r's /readyz answers 200. */
  ready(r: Replica, timeoutMs?: number): Promise<void>;
  /** The HTTP API of r with the admin token. */
  api(r: Replica, method: string, path: string, body?: unknown): ReturnType<typeof http>;
  /** kill -9, resolved once the process is gone. */
  kill(r: Replica): Promise<void>;
  /** Every replica's recent log, for a failing test's output. */
  logs(): string;
  /** Kills the replicas still running and etcd, removes dir. */
  stop(): Promise<void>;
}

const STDERR_CHUNKS = 500;

export async function etcdReplicas(options: {
  name: string;                           // in the scratch directory's name
  replicas: number;
  etcdMembers?: number;                   // default 1
  etcdTls?: boolean;                      // etcd requires client certificates (makePki in dir; --etcd-* flags are the caller's)
  advertise?: boolean;                    // pass --advertise-address 127.0.0.1:<grpc port> (else serve's default)
}): Promise<EtcdReplicas> {
  ensureCliBuilt();
  const dir = mkdtempSync(join(tmpdir(), `meshlens-${options.name}-`));
  if (options.etcdTls) makePki(dir);
  const tokens = generateTokenFile();
  const tokenFile = join(dir, 'tokens.json');
  writeFileSync(tokenFile, JSON.stringify(tokens), { mode: 0o600 });
  const admin = Object.values(tokens.admin)[0];
  const etcd = await etcdCluster(options.etcdMembers ?? 1, options.etcdTls ? { tls: dir } : {});
  const replicas: Replica[] = [];
  for (let index = 0; index < options.replicas; index++) {
    replicas.push({ index, grpcPort: await freeLoopbackPort(), httpPort: await freeLoopbackPort(), process: undefined, stderr: [] });
  }
  const alive = (r: Replica) => r.process !== undefined && r.process.exitCode === null && r.process.signalCode === null;
  const gone = (r: Replica) => new Promise<void>((resolve) => {
    if (!alive(r)) return resolve();
    r.process!.once('exit', () => resolve());
    r.process!.kill('SIGKILL');
  });
  const readyz = (r: Replica) => http(r.httpPort, 'GET', '/readyz', { token: null });
  return {
    dir, tokens, tokenFile, admin, etcd, replicas, alive, readyz,
    startEtcd: () => etcd.start(),
    startReplica(r, ...flags) {
      if (alive(r)) throw new Error(`replica ${r.index + 1} is already running`);
      r.stderr = [];
      r.process = spawn(process.execPath, [CLI, 'serve', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','),
        '--grpc-port', String(r.grpcPort), '--http-port', String(r.httpPort), '--data-dir', join(dir, `replica-${r.index}`),
        '--token-file', tokenFile, ...(options.advertise ? ['--advertise-address', `127.0.0.1:${r.grpcPort}`] : []), ...flags],
      // Info whatever the environment says: tests read what a replica logs (e.g. why it is not ready).
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MESHLENS_LOG_LEVEL: 'info' } });
      r.process.stderr!.on('data', (chunk: Buffer) => { r.stderr.push(chunk.toString('utf8')); if (r.stderr.length > STDERR_CHUNKS) r.stderr.shift(); });
    },
    async ready(r, timeoutMs) {
      await until(async () => (await readyz(r)).status === 200, `replica ${r.index + 1} to be ready`, timeoutMs);
    },
    api: (r, method, path, body) => http(r.httpPort, method, path, { token: admin, body }),
    kill: gone,
    logs: () => replicas.map((r) => `--- replica ${r.index + 1}\n${r.stderr.join('').slice(-3000)}\n`).join(''),
    async stop() {
      await Promise.all(replicas.map(gone));
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a test's body on `cp`: when it fails, every replica's recent log is written out first; whatever happens,
 * `clients` (filled by the body) are closed and the replicas and etcd stopped.
 */
export async function withReplicas(cp: EtcdReplicas, clients: { close(): void }[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    process.stderr.write(cp.logs());
    throw error;
  } finally {
    for (const client of clients) client.close();
    await cp.stop();
  }
}
