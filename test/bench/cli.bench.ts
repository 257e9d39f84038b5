// CLI start-up benchmark (npm run bench:cli): wall time from spawn to exit of the compiled CLI (dist/, what the
// package's bin and `npx meshlens` run) for `version`, `--help` and `policy list` against a live control plane (json
// and yaml), against a baseline measured in the same rounds: `node -e 0`. For comparison, the former way to run it
// (`node --import tsx control-plane/src/cli.ts`, which `npm run meshlens --` wrapped) and `npx meshlens version`.
// Runs are interleaved round by round so machine load hits every variant alike; medians reported. Each node process
// also reports its own CPU time (user + system, from a preloaded exit hook): on a loaded machine wall time mostly
// measures the wait for a core, CPU time the start-up work itself.
// Prints one JSON object on the last line. Env: MESHLENS_BENCH_ROUNDS (default 15; the tsx and npx variants run a
// third as often).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startTestPlane } from '../control-plane/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/control-plane/src/cli.js');
if (!existsSync(cli)) {
  process.stderr.write(`bench:cli: ${cli} is missing; run npm run build (or npm run build:js) first\n`);
  process.exit(1);
}
const rounds = Number(process.env.MESHLENS_BENCH_ROUNDS ?? 15);

const CPU_HOOK = ['--import', `data:text/javascript,${encodeURIComponent(
  "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\nmeshlens-bench-cpu-ms ' + (u.user + u.system) / 1000 + '\\n'); })")}`];

interface Sample { wallMs: number; cpuMs: number | null }

function timed(command: string, args: string[]): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, command === process.execPath ? [...CPU_HOOK, ...args] : args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const cpu = /meshlens-bench-cpu-ms ([\d.]+)\n*$/.exec(stderr);
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ wallMs: ms, cpuMs: cpu ? Number(cpu[1]) : null });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return Math.round((sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2) * 10) / 10;
};

const plane = await startTestPlane();
try {
  const client = ['--url', `http://127.0.0.1:${plane.httpPort}`, '--token', plane.adminToken];
  const variants: Record<string, { every: number; run: () => Promise<Sample> }> = {
    nodeBaseline: { every: 1, run: () => timed(process.execPath, ['-e', '0']) },
    version: { every: 1, run: () => timed(process.execPath, [cli, 'version']) },
    help: { every: 1, run: () => timed(process.execPath, [cli, '--help']) },
    policyListJson: { every: 1, run: () => timed(process.execPath, [cli, 'policy', 'list', '-o', 'json', ...client]) },
    policyListYaml: { every: 1, run: () => timed(process.execPath, [cli, 'policy', 'list', '-o', 'yaml', ...client]) },
    tsxPolicyList: { every: 3, run: () => timed(process.execPath, ['--import', 'tsx', join(root, 'control-plane/src/cli.ts'), 'policy', 'list', ...client]) },
    npxVersion: { every: 3, run: () => timed('npx', ['--offline', 'meshlens', 'version']) },
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, variant] of Object.entries(variants)) {
      if (round % variant.every === 0) samples[name]!.push(await variant.run());
    }
  }
  const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values.map((v) => v.wallMs))]));
  // npx runs npm first; its node process is not ours to hook.
  const cpuMedians = Object.fromEntries(Object.entries(samples).filter(([name]) => name !== 'npxVersion')
    .map(([name, values]) => [name, median(values.map((v) => v.cpuMs ?? NaN))]));
  process.stderr.write(`samples (ms): ${JSON.stringify(samples)}\n`);
  const overBaseline = Object.fromEntries(Object.entries(medians).filter(([name]) => name !== 'nodeBaseline')
    .map(([name, value]) => [name, Math.round((value - medians.nodeBaseline!) * 10) / 10]));
  const worst = Math.max(medians.version!, medians.help!, medians.policyListJson!);
  process.stdout.write(JSON.stringify({
    bench: 'cli',
    cores: availableParallelism(),
    loadAverage1m: (await import('node:os')).loadavg()[0],
    rounds,
    medianMs: medians,
    medianOverBaselineMs: overBaseline,
    medianCpuMs: cpuMedians,
    targets: {
      startupMs: { target: 300, measured: worst, ok: worst < 300, what: 'slowest wall-time median of version, --help, policy list -o json' },
      startupCpuMs: {
        target: 300, measured: Math.max(cpuMedians.version!, cpuMedians.help!, cpuMedians.policyListJson!),
        ok: Math.max(cpuMedians.version!, cpuMedians.help!, cpuMedians.policyListJson!) < 300, what: 'the same in CPU time',
      },
    },
  }) + '\n');
} finally {
  await plane.stop();
}
