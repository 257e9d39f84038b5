// The one way tests get the filter modules built by `npm run build:filter` (filter/build.mjs) and the host fixtures
// built by test/fixtures/build-fixtures.mjs: every getter rebuilds when any input is newer than the oldest output,
// and throws when the outputs are still older afterwards, so a test can never exercise a module that predates an
// edit (issue 15: a break of the ACK's version echo passed until the module was rebuilt). Existence is not enough.
// Run directly (`node --import tsx test/support/release-filter.ts`), it brings both builds up to date; test/run.mjs
// does that once before any file runs.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const FILTER_BUILD_DIR = join(root, 'filter', 'build');
export const RELEASE_FILTER = join(FILTER_BUILD_DIR, 'meshlens.wasm');
export const FIXTURES_DIR = join(FILTER_BUILD_DIR, 'fixtures');

/** Newest modification time of a file, or of anything below a directory (the directory's own entry included). */
export function newestSource(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestSource(join(path, name)));
  return newest;
}

interface BuildSpec {
  what: string;
  /** Script that writes every output, relative to the repository root. */
  script: string;
  /** Inputs relative to the repository root; the script itself and the compiler version are added. */
  inputs: string[];
  /** Absolute output paths. */
  outputs: string[];
}

function oldestOutput(outputs: string[]): number {
  try {
    return Math.min(...outputs.map((path) => statSync(path).mtimeMs));
  } catch {
    return -Infinity;
  }
}

function newestInput(spec: BuildSpec): number {
  // The compiler's own package.json changes with its version, which changes the bytes asc emits.
  const inputs = [...spec.inputs, spec.script, 'node_modules/assemblyscript/package.json'];
  return Math.max(...inputs.map((p) => newestSource(join(root, p))));
}

function ensureFresh(spec: BuildSpec): void {
  if (oldestOutput(spec.outputs) >= newestInput(spec)) return;
  process.stderr.write(`[release-filter] ${spec.what} older than its sources: running ${spec.script}\n`);
  // stdout goes to stderr so the build's size lines never mix with uvu's totals, which test/run.mjs parses.
  execFileSync(process.execPath, [join(root, spec.script)], { cwd: root, stdio: ['ignore', 2, 2] });
  const built = oldestOutput(spec.outputs);
  const newest = newestInput(spec);
  if (built < newest) {
    throw new Error(`${spec.what} still older than its sources after ${spec.script} ` +
      `(oldest output ${new Date(built).toISOString()}, newest input ${new Date(newest).toISOString()}): ` +
      'refusing to test a stale module');
  }
}

const FILTER_OUTPUTS = ['meshlens.wasm', 'meshlens.debug.wasm', 'baseline.wasm', 'policy-harness.wasm'];
const filterSpec: BuildSpec = {
  what: 'filter/build/*.wasm',
  script: 'filter/build.mjs',
  inputs: ['filter/assembly', 'test/fixtures/baseline-filter'],
  outputs: FILTER_OUTPUTS.map((name) => join(FILTER_BUILD_DIR, name)),
};

function fixturesSpec(): BuildSpec {
  const sources = readdirSync(join(root, 'test/fixtures/wasm')).filter((n) => n.endsWith('.wat') || n.endsWith('.as'));
  return {
    what: 'filter/build/fixtures/*.wasm',
    script: 'test/fixtures/build-fixtures.mjs',
    inputs: ['test/fixtures/wasm'],
    outputs: sources.map((n) => join(FIXTURES_DIR, n.replace(/\.(wat|as)$/, '.wasm'))),
  };
}

/** Rebuilds filter/build/*.wasm when any filter source is newer; throws if that does not make them current. */
export function ensureFilterBuilt(): void {
  ensureFresh(filterSpec);
}

export type FilterModule = 'meshlens.wasm' | 'meshlens.debug.wasm' | 'baseline.wasm' | 'policy-harness.wasm';

/** Bytes of a current filter build output. */
export function readFilterModule(name: FilterModule): Uint8Array<ArrayBuffer> {
  ensureFilterBuilt();
  return new Uint8Array(readFileSync(join(FILTER_BUILD_DIR, name)));
}

/** Path of the release module, current; for code that reads it by path (filter/host/main.ts, child processes). */
export function releaseFilterPath(): string {
  ensureFilterBuilt();
  return RELEASE_FILTER;
}

/** Bytes of a current host test fixture (filter/build/fixtures/<name>.wasm). */
export function readFixture(name: string): Uint8Array<ArrayBuffer> {
  ensureFresh(fixturesSpec());
  return new Uint8Array(readFileSync(join(FIXTURES_DIR, `${name}.wasm`)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  ensureFilterBuilt();
  ensureFresh(fixturesSpec());
}
