// Builds filter/assembly/resilience/testing/harness.ts (AssemblyScript) with `asc --bindings esm` into
// filter/build/test/ when any filter source is newer than the build, then imports the generated bindings.
// Building into a scratch directory and renaming keeps a concurrent run from importing a half-written module.
import asc from 'assemblyscript/asc';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// What the harness compiles: the resilience policy and glue, and the JSON parser they use.
const sources = [
  'json.ts', 'resilience', 'policy/resilience-policy.ts', 'policy/circuit-breaker.ts', 'policy/retry-budget.ts',
  'policy/retry-decision.ts', 'policy/request-metrics.ts', 'policy/labels.ts',
].map((p) => join(root, 'filter', 'assembly', p));
const outDir = join(root, 'filter', 'build', 'test');
const entry = 'filter/assembly/resilience/testing/harness.ts';

// The generated bindings are typed loosely here so typechecking does not depend on a build having run.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Harness = Record<string, (...args: any[]) => any>;

function newestSource(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestSource(join(path, name)));
  return newest;
}

function builtAt(): number {
  try {
    return Math.min(statSync(join(outDir, 'resilience-harness.wasm')).mtimeMs, statSync(join(outDir, 'resilience-harness.js')).mtimeMs);
  } catch {
    return 0;
  }
}

export async function loadHarness(): Promise<Harness> {
  if (builtAt() <= Math.max(...sources.map(newestSource))) {
    const scratch = mkdtempSync(join(tmpdir(), 'meshlens-harness-'));
    let stderr = '';
    const { error } = await asc.main([
      entry, '-o', join(scratch, 'resilience-harness.wasm'), '--bindings', 'esm', '--runtime', 'incremental',
      '--exportRuntime', '-O2', '--baseDir', root,
    ], { stderr: { write: (s: string) => { stderr += s; return true; } } as never });
    if (error) throw new Error(`asc failed for ${entry}:\n${stderr || error.message}`);
    mkdirSync(outDir, { recursive: true });
    for (const name of ['resilience-harness.wasm', 'resilience-harness.js', 'resilience-harness.d.ts']) {
      renameSync(join(scratch, name), join(outDir, name));
    }
    rmSync(scratch, { recursive: true, force: true });
  }
  return (await import(pathToFileURL(join(outDir, 'resilience-harness.js')).href)) as Harness;
}
