// A real etcd cluster for tests: N members of Debian's etcd-server (`etcd`, 3.4) on loopback ports, each with its own
// temporary data directory, formed with --initial-cluster. Members are killed with SIGKILL (as a lost node would
// vanish) and everything is removed by stop(), which tests call in a finally. With `tls` (a directory made by
// test/support/pki.ts) the client URLs are https and every client must present a certificate signed by its CA
// (etcd's --client-cert-auth); peers stay plaintext on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdClient } from '../../control-plane/src/etcd-client.ts';
import { freeLoopbackPort } from './prometheus.ts';

export const ETCD_BIN = process.env.MESHLENS_ETCD ?? 'etcd';

/** Why etcd cannot run here (null when it can): tests skip loudly with this. */
export function etcdMissing(): string | null {
  const probe = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `${ETCD_BIN} not found (Debian package etcd-server; bash .ci/setup --tests installs it)`;
  return null;
}

export interface EtcdMember { name: string; clientPort: number; peerPort: number; endpoint: string; process: ChildProcess | undefined; log: string[] }

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** Starts every member (ports may be chosen before, so a replica can be pointed at a cluster not yet up). */
  start(): Promise<void>;
  kill(index: number): void;
  stop(): Promise<void>;
}

export async function etcdCluster(size: number, options: { tls?: string } = {}): Promise<EtcdCluster> {
  const pki = options.tls;
  const scheme = pki ? 'https' : 'http';
  const clientTls = pki ? ['--cert-file', join(pki, 'server.crt'), '--key-file', join(pki, 'server.key'),
    '--trusted-ca-file', join(pki, 'ca.crt'), '--client-cert-auth'] : [];
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freeLoopbackPort();
    const peerPort = await freeLoopbackPort();
    members.push({ name: `m${i}`, clientPort, peerPort, endpoint: `127.0.0.1:${clientPort}`, process: undefined, log: [] });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const endpoints = members.map((m) => m.endpoint);
  const cluster: EtcdCluster = {
    members, endpoints,
    async start() {
      for (const m of members) {
        const child = spawn(ETCD_BIN, [
          '--name', m.name, '--data-dir', join(dir, m.name),
          '--listen-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`, '--advertise-client-urls', `${scheme}://127.0.0.1:${m.clientPort}`,
          ...clientTls,
          '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `meshlens-test-${process.pid}`,
          // No metrics or pprof listeners beyond the client URL; loopback only.
          '--log-level', 'warn', '--logger', 'zap',
        ], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = (chunk: Buffer) => { m.log.push(chunk.toString('utf8')); if (m.log.length > 200) m.log.shift(); };
        child.stdout!.on('data', keep);
        child.stderr!.on('data', keep);
        m.process = child;
      }
      // Ready = a quorum answers a linearizable read (a Range goes through raft's ReadIndex).
      const tls = pki ? { ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'client.crt')), key: readFileSync(join(pki, 'client.key')) } : undefined;
      const client = new EtcdClient(endpoints, { timeoutMs: 30_000, retryPauseMs: 100, tls });
      try {
        await client.range({ key: Buffer.from('/meshlens-test/ready') });
      } catch (error) {
        throw new Error(`etcd cluster did not become ready: ${(error as Error).message}\n${members.map((m) => m.log.join('')).join('\n').slice(-3000)}`);
      } finally {
        client.close();
      }
    },
    kill(index: number) {
      members[index].process?.kill('SIGKILL');
    },
    async stop() {
      await Promise.all(members.map((m) => new Promise<void>((resolve) => {
        const child = m.process;
        if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
