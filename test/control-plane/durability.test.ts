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
import { SqlitePolicyStore as PolicyStore } from '../../control-plane/src/sqlite-policy-store.ts';
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

/**
 * The error code when `error` is a connection failure a SIGKILLed server causes (undici's fetch: "fetch failed" on
 * connect/reset, "terminated" when the socket closes mid-response), else null: anything else is a real failure.
 */
function connectionError(error: unknown): string | null {
  if (!(error instanceof TypeError) || (error.message !== 'fetch failed' && error.message !== 'terminated')) return null;
  const code = (error.cause as { code?: string } | undefined)?.code;
  return code !== undefined && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET'].includes(code) ? code : null;
}

const policyFor = (id: string, step: number) => ({ target: { cluster: `cluster-${id}` }, breaker: { openMs: 1000 + step, maxOpenMs: 600_000 } });

test('kill -9 with 500 writes in flight loses no acknowledged write and half-writes nothing', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-durability-'));
  let child: ChildProcess | undefined;
  try {
    const first = await startChild(dataDir);
    child = first.child;
    const token = Object.values(JSON.parse(readFileSync(join(dataDir, 'tokens.json'), 'utf8')).admin)[0] as string;
    // 400 independent creates plus 25 policies updated 4 times in a chain: 500 writes, 425 of them in flight at once.
    // Every reply is checked, also those that arrive after the kill: the server answers 200 only after the commit,
    // so any 200 is an acknowledged write that must survive, whenever it reached us. Every write is valid, so any
    // other status is a failure. Only a connection error after the kill may leave a write unacknowledged (it may or
    // may not have been committed); a connection error before it, or any other error, fails the test.
    const acked = new Map<string, { version: number; step: number }>();
    const attempts = new Map<string, number>();
    const outcomes = { acknowledged: 0, lostInKill: 0, notSent: 0 };
    let killed = false;
    let inFlight = 0;
    let inFlightAtKill = 0;
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    const killAt = 200;
    const write = async (id: string, expectedVersion: number, step: number): Promise<boolean> => {
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
      inFlight++;
      let response: Awaited<ReturnType<typeof http>>;
      try {
        response = await http(first.httpPort, 'PUT', `/v1/policies/${id}`, { token, body: { expectedVersion, policy: policyFor(id, step) } });
      } catch (error) {
        inFlight--;
        const reason = connectionError(error);
        if (!killed || reason === null) throw error;
        outcomes.lostInKill++;
        return false;
      }
      inFlight--;
      assert.is(response.status, 200, `${id} step ${step}${killed ? ' (answered after the kill)' : ''}: ${response.text}`);
      assert.is(response.json.version, expectedVersion + 1, `${id}: the acknowledged version follows the expected one`);
      outcomes.acknowledged++;
      const previous = acked.get(id);
      if (!previous || previous.version < response.json.version) acked.set(id, { version: response.json.version, step });
      if (outcomes.acknowledged === killAt) {
        killed = true;
        inFlightAtKill = inFlight;
        first.child.kill('SIGKILL');
      }
      return true;
    };
    const creates = Array.from({ length: 400 }, (_, i) => write(`p-${i}`, 0, i));
    const chains = Array.from({ length: 25 }, async (_, i) => {
      for (let step = 0; step < 4; step++) {
        if (!(await write(`chain-${i}`, step, step))) {
          outcomes.notSent += 3 - step;                   // the next expectedVersion is unknown: the chain stops
          return;
        }
      }
    });
    await Promise.all([...creates, ...chains]);
    await within(exited, 10_000, 'child exit');
    assert.ok(killed, 'the kill happened');
    assert.ok(inFlightAtKill > 0, `writes were in flight at the kill (${inFlightAtKill})`);
    assert.is(outcomes.acknowledged + outcomes.lostInKill + outcomes.notSent, 500, `every write accounted for: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.acknowledged >= killAt, JSON.stringify(outcomes));

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
      assert.ok(record.version <= (attempts.get(record.id) ?? 0), `${record.id} v${record.version}: more versions than writes sent`);
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
