// Builds filter/assembly/control/testing/harness.ts (AssemblyScript) with `asc --bindings esm` into
// filter/build/test/ when any source it compiles is newer than the build, then imports the generated bindings.
// Building into a scratch directory and renaming keeps a concurrent run from importing a half-written module.
import asc from 'assemblyscript/asc';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sources = ['control', 'policy', 'json.ts'].map((p) => join(root, 'filter', 'assembly', p));
const outDir = join(root, 'filter', 'build', 'test');
const entry = 'filter/assembly/control/testing/harness.ts';
const NAMES = ['control-harness.wasm', 'control-harness.js', 'control-harness.d.ts'];

// The generated bindings are typed loosely so typechecking does not depend on a build having run.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ControlHarness = Record<string, (...args: any[]) => any>;

function newestSource(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestSource(join(path, name)));
  return newest;
}

function builtAt(): number {
  try {
    return Math.min(...NAMES.slice(0, 2).map((name) => statSync(join(outDir, name)).mtimeMs));
  } catch {
    return 0;
  }
}

export async function loadControlHarness(): Promise<ControlHarness> {
  if (builtAt() <= Math.max(...sources.map(newestSource))) {
    const scratch = mkdtempSync(join(tmpdir(), 'meshlens-control-harness-'));
    let stderr = '';
    const { error } = await asc.main([
      entry, '-o', join(scratch, NAMES[0]), '--bindings', 'esm', '--runtime', 'incremental', '--exportRuntime', '-O2',
      '--baseDir', root,
    ], { stderr: { write: (s: string) => { stderr += s; return true; } } as never });
    if (error) throw new Error(`asc failed for ${entry}:\n${stderr || error.message}`);
    mkdirSync(outDir, { recursive: true });
    for (const name of NAMES) renameSync(join(scratch, name), join(outDir, name));
    rmSync(scratch, { recursive: true, force: true });
  }
  return (await import(pathToFileURL(join(outDir, NAMES[1])).href)) as ControlHarness;
}
