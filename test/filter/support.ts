// Shared by the filter tests: (re)builds filter/build/*.wasm when the AssemblyScript sources are newer, and
// loads the pure-policy harness with UTF-16 string marshalling over the AssemblyScript runtime exports.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const buildDir = join(repoRoot, 'filter', 'build');
const sourceDirs = [join(repoRoot, 'filter', 'assembly'), join(repoRoot, 'test', 'fixtures', 'baseline-filter')];
const outputs = ['meshlens.wasm', 'meshlens.debug.wasm', 'baseline.wasm', 'policy-harness.wasm'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

function oldestOutput(): number {
  let oldest = Infinity;
  for (const name of outputs) {
    try { oldest = Math.min(oldest, statSync(join(buildDir, name)).mtimeMs); } catch { return 0; }
  }
  return oldest;
}

export function ensureFilterBuilt(): void {
  const sources = Math.max(...sourceDirs.map(newestMtime), statSync(join(repoRoot, 'filter', 'build.mjs')).mtimeMs);
  if (oldestOutput() >= sources) return;
  execFileSync(process.execPath, [join(repoRoot, 'filter', 'build.mjs')], { cwd: repoRoot, stdio: 'inherit' });
}

export function readWasm(name: 'meshlens.wasm' | 'meshlens.debug.wasm' | 'baseline.wasm'): Uint8Array {
  ensureFilterBuilt();
  return new Uint8Array(readFileSync(join(buildDir, name)));
}

const STRING_CLASS_ID = 2;

type Raw = Record<string, (...args: any[]) => any> & { memory: WebAssembly.Memory };

export class PolicyHarness {
  constructor(private raw: Raw) {}

  private lower(text: string): number {
    const ptr = this.raw.__new(text.length * 2, STRING_CLASS_ID) >>> 0;
    const view = new Uint16Array(this.raw.memory.buffer, ptr, text.length);
    for (let i = 0; i < text.length; i++) view[i] = text.charCodeAt(i);
    return this.raw.__pin(ptr) >>> 0;
  }

  private lift(ptr: number): string {
    ptr >>>= 0;
    const bytes = new Uint32Array(this.raw.memory.buffer)[(ptr - 4) >>> 2];
    const units = new Uint16Array(this.raw.memory.buffer, ptr, bytes >>> 1);
    let out = '';
    for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.subarray(i, i + 4096));
    return out;
  }

  /** Calls an export, passing JS strings as pinned AssemblyScript strings; string results are lifted. */
  call(name: string, ...args: (string | number | bigint | boolean)[]): any {
    const pinned: number[] = [];
    try {
      const lowered = args.map((a) => {
        if (typeof a === 'string') { const p = this.lower(a); pinned.push(p); return p; }
        if (typeof a === 'boolean') return a ? 1 : 0;
        return a;
      });
      return this.raw[name](...lowered);
    } finally {
      for (const p of pinned) this.raw.__unpin(p);
    }
  }

  str(name: string, ...args: (string | number | bigint | boolean)[]): string {
    return this.lift(this.call(name, ...args));
  }

  memoryBytes(): number {
    return this.raw.memory.buffer.byteLength;
  }
}

export async function loadPolicyHarness(): Promise<PolicyHarness> {
  ensureFilterBuilt();
  const bytes = readFileSync(join(buildDir, 'policy-harness.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, {});
  return new PolicyHarness(instance.exports as unknown as Raw);
}
