// `npm start` prints the filter's own log lines to stderr at the configured level, as Envoy prints its `wasm`
// logger: a refused MESHLENS_FILTER_CONFIG names the field and the rule (the filter's critical line), not only
// Envoy's "Failed to configure base Wasm plugin".
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFilterBuilt } from '../support/release-filter.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// main.ts reads filter/build/meshlens.wasm by path: bring it up to date before any child starts.
ensureFilterBuilt();
const test = suite('npm start prints the filter log');

/** Runs main.ts (npm start's entry point) to its exit with `env` added; resolves with its exit code and stderr. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-start-logs-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'filter/host/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      MESHLENS_LISTENER_PORT: '0', MESHLENS_ADMIN_PORT: '0', MESHLENS_GRPC_PORT: '0', MESHLENS_HTTP_PORT: '0',
      MESHLENS_DATA_DIR: dataDir, MESHLENS_WORKERS: '1', ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // A config that loads would keep serving: stop it once it is up, so every case ends.
  const guard = setTimeout(() => child.kill('SIGTERM'), 60_000);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(guard);
    rmSync(dataDir, { recursive: true, force: true });
    resolve({ code, stderr });
  }));
}

test('a bad MESHLENS_FILTER_CONFIG exits 1 with the filter\'s critical line naming the field and rule', async () => {
  const { code, stderr } = await runMain({ MESHLENS_FILTER_CONFIG: JSON.stringify({ tenant: { maxTenants: -5 } }) });
  assert.is(code, 1);
  const lines = stderr.split('\n');
  const critical = lines.find((l) => l.includes('[critical][wasm]'));
  assert.ok(critical, stderr);
  assert.match(critical!, /wasm log meshlens meshlens: invalid filter config: tenant\.maxTenants must be an integer in \[1, 10000\]$/);
  assert.ok(lines.indexOf(critical!) < lines.findIndex((l) => l.includes('Failed to configure base Wasm plugin')),
    'the reason comes before Envoy\'s generic refusal');
});

test('an unknown MESHLENS_LOG_LEVEL is refused, naming the rule', async () => {
  const quiet = await runMain({ MESHLENS_FILTER_CONFIG: JSON.stringify({ tenant: { maxTenants: -5 } }), MESHLENS_LOG_LEVEL: 'off' });
  assert.is(quiet.code, 1);
  assert.match(quiet.stderr, 'invalid environment: MESHLENS_LOG_LEVEL must be one of trace, debug, info, warn, error, critical');
  assert.not.match(quiet.stderr, '[critical][wasm]', 'nothing started');
});

test.run();
