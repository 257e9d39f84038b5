// Builds an AssemblyScript test entry with `asc --bindings esm` into filter/build/test/ when any source it compiles
// is newer than the build, then imports the generated bindings. Pure filter code is exercised through such
// harnesses; the shipped module is exercised through the host.
// Building into a scratch directory and renaming keeps a concurrent run from importing a half-written module.
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newestSource } from './release-filter.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(root, 'filter', 'build', 'test');

// The generated bindings are typed loosely so typechecking does not depend on a build having run.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AscHarness = Record<string, (...args: any[]) => any>;

export interface AscHarnessSpec {
  /** Output base name in filter/build/test/, e.g. "control-harness". */
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  /** Files or folders under filter/assembly/ whose changes require a rebuild. */
  sources: string[];
}

function builtAt(outputs: string[]): number {
  try {
    return Math.min(...outputs.map((name) => statSync(join(outDir, name)).mtimeMs));
  } catch {
    return 0;
  }
}

export async function loadAscHarness(spec: AscHarnessSpec): Promise<AscHarness> {
  const outputs = ['.wasm', '.js', '.d.ts'].map((ext) => spec.name + ext);
  const sources = spec.sources.map((p) => join(root, 'filter', 'assembly', p));
  if (builtAt(outputs.slice(0, 2)) <= Math.max(...sources.map(newestSource))) {
    // Imported only to build: loading the compiler (binaryen) takes ~20 s of CPU, and every bench worker that only
    // needs an up-to-date harness (test/control-plane/reconnecting-streams.ts) paid it before opening a stream.
    const { default: asc } = await import('assemblyscript/asc');
    const scratch = mkdtempSync(join(tmpdir(), `meshlens-${spec.name}-`));
    let stderr = '';
    const { error } = await asc.main([
      spec.entry, '-o', join(scratch, outputs[0]), '--bindings', 'esm', '--runtime', 'incremental', '--exportRuntime',
      '-O2', '--baseDir', root,
    ], { stderr: { write: (s: string) => { stderr += s; return true; } } as never });
    if (error) throw new Error(`asc failed for ${spec.entry}:\n${stderr || error.message}`);
    mkdirSync(outDir, { recursive: true });
    for (const name of outputs) renameSync(join(scratch, name), join(outDir, name));
    rmSync(scratch, { recursive: true, force: true });
  }
  return (await import(pathToFileURL(join(outDir, outputs[1])).href)) as AscHarness;
}
