#!/usr/bin/env node
// Runs every test/**/*.test.ts in its own Node process (tsx loader) so one suite's sockets, timers or kernel
// objects cannot leak into the next, then prints one closing line "N passed, N failed, N skipped" that CI reads.
// Usage: node test/run.mjs [substring filters...]   (MESHLENS_TEST_TIMEOUT_S per file, default 600)
//        node test/run.mjs --stress [filters...]     (npm run test:stress: MESHLENS_STRESS_RUNS runs in a row, default
//                                                     3, under MESHLENS_STRESS_LOOPS busy loops, default 2)
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');
const stress = process.argv.includes('--stress');
const filters = process.argv.slice(2).filter((a) => a !== '--stress');
const stressRuns = Number(process.env.MESHLENS_STRESS_RUNS ?? 3);
const stressLoops = Number(process.env.MESHLENS_STRESS_LOOPS ?? 2);
const timeoutMs = Number(process.env.MESHLENS_TEST_TIMEOUT_S ?? 600) * 1000;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'fixtures') out.push(...collect(path));
    } else if (name.endsWith('.test.ts')) {
      out.push(path);
    }
  }
  return out;
}

// Each file runs in its own process group (detached) so a timeout kills everything it started; the same must happen
// when the runner itself is interrupted, or that group would outlive it.
let current;
const busyLoops = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current && current.exitCode === null) { try { process.kill(-current.pid, 'SIGKILL'); } catch {} }
    for (const loop of busyLoops) if (loop.exitCode === null) loop.kill('SIGKILL');
    process.exit(130);
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    current = child;
    let output = '';
    child.stdout.on('data', (d) => { output += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { output += d; process.stderr.write(d); });
    const timer = setTimeout(() => {
      output += `\n[runner] ${relative(root, file)} timed out after ${timeoutMs / 1000}s\n`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const num = (label) => {
        const matches = [...output.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))];
        return matches.reduce((sum, m) => sum + Number(m[1]), 0);
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = total - passed;
      // A process that died, timed out or exited non-zero without a failing case still failed.
      if ((code !== 0 || signal) && failed === 0) failed = 1;
      if (total === 0 && skipped === 0 && failed === 0) failed = 1;
      resolve({ file: relative(root, file), passed, failed, skipped, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const files = collect(testDir).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
// Files run alphabetically, so e2e/ would otherwise load filter/build/meshlens.wasm before anything rebuilt it:
// bring the filter modules and host fixtures up to date first (a no-op when they are current). Each file still
// checks again through the same helper, so running one directly cannot test a stale module either.
const prebuild = spawnSync(process.execPath, ['--import', 'tsx', join(testDir, 'support', 'release-filter.ts')],
  { cwd: root, stdio: 'inherit' });
if (prebuild.status !== 0) {
  console.log(`\n=== summary\n[runner] bringing the filter build up to date failed (${prebuild.status ?? prebuild.signal}): nothing was run`);
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}
async function runSuite() {
  const started = Date.now();
  const results = [];
  for (const file of files) {
    console.log(`\n=== ${relative(root, file)}`);
    results.push(await runFile(file));
  }
  console.log('\n=== summary');
  for (const r of results) {
    const state = r.failed ? 'FAIL' : 'ok  ';
    console.log(`${state} ${r.file.padEnd(60)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${r.seconds.toFixed(1)}s)`);
  }
  const sum = (k) => results.reduce((s, r) => s + r[k], 0);
  console.log(`${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
  return { ok: sum('failed') === 0 && results.length > 0, seconds: (Date.now() - started) / 1000 };
}

if (!stress) {
  process.exitCode = (await runSuite()).ok ? 0 : 1;
} else {
  // Stress mode: the suite, STRESS_RUNS times in a row, while one busy loop per core competes for the CPU, as on a
  // loaded CI machine. Stops at the first failing run; a timing assumption that only holds on an idle machine shows.
  for (let i = 0; i < stressLoops; i++) busyLoops.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  const stopLoops = () => { for (const loop of busyLoops) if (loop.exitCode === null) loop.kill('SIGKILL'); };
  process.on('exit', stopLoops);
  const runs = [];
  try {
    for (let i = 1; i <= stressRuns; i++) {
      console.log(`\n##### stress run ${i} of ${stressRuns} (${stressLoops} busy loops)`);
      const run = await runSuite();
      runs.push(run);
      console.log(`##### stress run ${i}: ${run.ok ? 'passed' : 'FAILED'} in ${run.seconds.toFixed(1)}s`);
      if (!run.ok) break;
    }
  } finally {
    stopLoops();
  }
  const passed = runs.filter((r) => r.ok).length;
  console.log(`\nstress: ${passed} of ${stressRuns} runs passed under ${stressLoops} busy loops (${runs.map((r) => `${r.seconds.toFixed(1)}s`).join(', ')})`);
  process.exitCode = passed === stressRuns ? 0 : 1;
}
