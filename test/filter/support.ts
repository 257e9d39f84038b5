// Shared by the filter tests: the filter modules, current (test/support/release-filter.ts), and
// loads the pure-policy harness with UTF-16 string marshalling over the AssemblyScript runtime exports.
import { fileURLToPath } from 'node:url';
import { FILTER_BUILD_DIR, ensureFilterBuilt, readFilterModule } from '../support/release-filter.ts';

export { ensureFilterBuilt };
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const buildDir = FILTER_BUILD_DIR;

export function readWasm(name: 'meshlens.wasm' | 'meshlens.debug.wasm' | 'baseline.wasm'): Uint8Array {
  return readFilterModule(name);
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
  const bytes = readFilterModule('policy-harness.wasm');
  const { instance } = await WebAssembly.instantiate(bytes, {});
  return new PolicyHarness(instance.exports as unknown as Raw);
}
