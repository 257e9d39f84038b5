// Durability: a control plane in a child process is killed with SIGKILL while 500 policy writes are in flight.
// After a restart on the same data directory every acknowledged write is present with exactly the content sent,
// and nothing is half-written (each stored policy equals one complete write, history and live table agree).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyStore } from '../../control-plane/src/policy-store.ts';
import { http, within } from './helpers.ts';

const test = suite('durability');
const root = fileURLToPath(new URL('../..', import.meta.url));

function startChild(dataDir: string): Promise<{ child: ChildProcess; httpPort: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), 'serve',
    '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHLENS_LOG_LEVEL: 'warn' } });
  child.stderr!.on('data', (d) => process.stderr.write(d));
  return within(new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`control plane exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) {
        const event = JSON.parse(line);
        if (event.event === 'listening') resolve({ child, httpPort: event.httpPort });
      }
    });
  }), 30_000, 'control plane to listen');
}

const policyFor = (id: string, step: number) => ({ target: { cluster: `cluster-${id}` }, breaker: { openMs: 1000 + step, maxOpenMs: 600_000 } });

test('kill -9 with 500 writes in flight loses no acknowledged write and half-writes nothing', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-durability-'));
  let child: ChildProcess | undefined;
  try {
    const first = await startChild(dataDir);
    child = first.child;
    const token = Object.values(JSON.parse(readFileSync(join(dataDir, 'tokens.json'), 'utf8')).admin)[0] as string;
    // 400 independent creates plus 25 policies updated 4 times in a chain: 500 writes, all in flight at once.
    const acked = new Map<string, { version: number; step: number }>();
    let acknowledged = 0;
    let killed = false;
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    const killAt = 200;
    const onAck = (id: string, version: number, step: number) => {
      const previous = acked.get(id);
      if (!previous || previous.version < version) acked.set(id, { version, step });
      if (++acknowledged === killAt && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    };
    const write = async (id: string, expectedVersion: number, step: number): Promise<boolean> => {
      try {
        const response = await http(first.httpPort, 'PUT', `/v1/policies/${id}`, { token, body: { expectedVersion, policy: policyFor(id, step) } });
        if (response.status !== 200) throw new Error(`unexpected ${response.status} ${response.text}`);
        if (!killed) onAck(id, response.json.version, step);
        return !killed;
      } catch (error) {
        if (killed) return false;                         // connection reset by the kill: never acknowledged
        throw error;
      }
    };
    const creates = Array.from({ length: 400 }, (_, i) => write(`p-${i}`, 0, i));
    const chains = Array.from({ length: 25 }, async (_, i) => {
      for (let step = 0; step < 4; step++) if (!(await write(`chain-${i}`, step, step))) return;
    });
    await Promise.all([...creates, ...chains]);
    await within(exited, 10_000, 'child exit');
    assert.ok(killed, 'the kill happened while writes were in flight');
    assert.ok(acknowledged >= killAt && acknowledged < 500, `${acknowledged} acknowledged before the kill`);

    const second = await startChild(dataDir);
    child = second.child;
    const listed = await http(second.httpPort, 'GET', '/v1/policies', { token });
    const stored = new Map<string, any>(listed.json.policies.map((p: any) => [p.id, p]));
    for (const [id, ack] of acked) {
      const record = stored.get(id);
      assert.ok(record, `acknowledged ${id} v${ack.version} is missing`);
      assert.ok(record.version >= ack.version, `${id} went back from v${ack.version} to v${record.version}`);
    }
    for (const record of stored.values()) {
      // Each chain step s produces version s + 1, so a stored version names exactly which write it must be.
      const step = record.id.startsWith('chain-') ? record.version - 1 : Number(record.id.slice(2));
      assert.equal({ target: record.policy.target.cluster, openMs: record.policy.breaker.openMs },
        { target: `cluster-${record.id}`, openMs: 1000 + step }, `${record.id} holds a complete write`);
      const history = await http(second.httpPort, 'GET', `/v1/policies/${record.id}/history`, { token });
      assert.is(history.json.entries[0].version, record.version, `${record.id}: history and live table agree`);
      assert.is(history.json.entries.length, record.version, `${record.id}: one history entry per version`);
    }
    second.child.kill('SIGTERM');
    await within(new Promise((resolve) => second.child.once('exit', resolve)), 10_000, 'graceful exit');
    child = undefined;
    const store = new PolicyStore(dataDir);
    assert.is(store.integrityCheck(), 'ok');
    assert.is(store.snapshotVersion(), store.list().reduce((n, p) => n + p.version, 0), 'snapshot sequence counts every committed write');
    store.close();
  } finally {
    child?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
