// Runs the compiled CLI (dist/control-plane/src/cli.js: what the package's bin and `npx meshlens` run, no tsx) as
// a child process. dist/ is rebuilt first when any control-plane source, protos or the build script is newer than
// it (as test/support/release-filter.ts does for the filter), so a test never exercises a stale compile.
import { execFile, execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestSource } from '../support/release-filter.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(root, 'dist/control-plane/src/cli.js');

export function ensureCliBuilt(): string {
  const built = () => { try { return statSync(CLI).mtimeMs; } catch { return -Infinity; } };
  const newest = () => Math.max(...['control-plane/src', 'protos', 'control-plane/scripts/build-js.mjs', 'package.json', 'tsconfig.build.json']
    .map((p) => newestSource(join(root, p))));
  if (built() >= newest()) return CLI;
  process.stderr.write('[cli] dist/ older than its sources: running npm run build:js\n');
  execFileSync(process.execPath, [join(root, 'control-plane/scripts/build-js.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (built() < newest()) throw new Error('dist/control-plane/src/cli.js still older than its sources after build:js');
  return CLI;
}

export interface CliResult { code: number; stdout: string; stderr: string }

export function runCli(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  const cli = ensureCliBuilt();
  return new Promise((resolve) => {
    // The caller's MESHLENS_* variables must not leak into a test of flags and defaults.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MESHLENS_')));
    const child = execFile(process.execPath, [cli, ...args], { cwd: options.cwd ?? root, env: { ...env, ...options.env } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }));
    child.stdin!.end(options.stdin ?? '');
  });
}
