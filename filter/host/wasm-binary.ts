// Reads the import, export, type and function sections of a wasm binary. The JS engine does not check host
// function signatures at link time, so the host must see the declared types itself to refuse what Envoy refuses.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export interface FuncType { params: ValType[]; results: ValType[] }
export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';
export interface ModuleImport { module: string; name: string; kind: ExternKind; type?: FuncType }
/** `imported`: a function export that re-exports an import (WAMR ignores those as malloc/free). */
export interface ModuleExport { name: string; kind: ExternKind; type?: FuncType; imported?: boolean }
export interface ModuleShape { imports: ModuleImport[]; exports: ModuleExport[]; hasStartSection: boolean }

const VAL_TYPES: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const KINDS: ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end = bytes.length) {}
  byte(): number {
    if (this.pos >= this.end) throw new Error('invalid wasm binary: section must not be truncated');
    return this.bytes[this.pos++];
  }
  u32(): number {
    let result = 0, shift = 0, b: number;
    do {
      b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  }
  skipLeb(): void { while (this.byte() & 0x80) { /* continuation bytes */ } }
  name(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw new Error('invalid wasm binary: name must fit in its section');
    const s = utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  valType(): ValType {
    const b = this.byte();
    const t = VAL_TYPES[b];
    if (!t) throw new Error(`invalid wasm binary: value type must be known (got 0x${b.toString(16)})`);
    return t;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

export function parseModuleShape(bytes: Uint8Array): ModuleShape {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error('invalid wasm binary: header must start with \\0asm');
  }
  const types: FuncType[] = [];
  const imports: ModuleImport[] = [];
  const exports: ModuleExport[] = [];
  const funcTypeIndex: number[] = []; // imported functions first, then defined ones, as the function index space is
  let importedFunctions = 0;
  let hasStartSection = false;
  const r = new Reader(bytes);
  r.pos = 8;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new Error('invalid wasm binary: section must not be truncated');
    const s = new Reader(bytes, end);
    s.pos = r.pos;
    if (id === 1) {
      for (let n = s.u32(); n > 0; n--) {
        const form = s.byte();
        if (form !== 0x60) throw new Error('invalid wasm binary: type must be a function type');
        const params: ValType[] = [];
        for (let p = s.u32(); p > 0; p--) params.push(s.valType());
        const results: ValType[] = [];
        for (let q = s.u32(); q > 0; q--) results.push(s.valType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = s.u32(); n > 0; n--) {
        const module = s.name();
        const name = s.name();
        const kind = KINDS[s.byte()] ?? 'tag';
        const entry: ModuleImport = { module, name, kind };
        if (kind === 'function') {
          const ti = s.u32();
          entry.type = types[ti];
          funcTypeIndex.push(ti);
          importedFunctions++;
        } else if (kind === 'table') { s.byte(); s.limits(); }
        else if (kind === 'memory') s.limits();
        else if (kind === 'global') { s.valType(); s.byte(); }
        else { s.byte(); s.u32(); }
        imports.push(entry);
      }
    } else if (id === 3) {
      for (let n = s.u32(); n > 0; n--) funcTypeIndex.push(s.u32());
    } else if (id === 7) {
      for (let n = s.u32(); n > 0; n--) {
        const name = s.name();
        const kind = KINDS[s.byte()] ?? 'tag';
        const index = s.u32();
        exports.push(kind === 'function'
          ? { name, kind, type: types[funcTypeIndex[index]], imported: index < importedFunctions }
          : { name, kind });
      }
    } else if (id === 8) {
      hasStartSection = true;
    }
    r.pos = end;
  }
  return { imports, exports, hasStartSection };
}

/** Renders a signature as cpp-host's printValTypes does: "i32 i32 -> i32", "void" for an empty list. */
export function describeSignature(t: FuncType): string {
  const list = (v: ValType[]) => (v.length === 0 ? 'void' : v.join(' '));
  return `${list(t.params)} -> ${list(t.results)}`;
}

/** "iiI>i" → {params:[i32,i32,i64], results:[i32]} — compact notation for the ABI tables. */
export function sig(spec: string): FuncType {
  const [p, r = ''] = spec.split('>');
  const map = (c: string): ValType => (c === 'I' ? 'i64' : 'i32');
  return { params: [...p].map(map), results: [...r].map(map) };
}

export function sameSignature(a: FuncType, b: FuncType): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length &&
    a.params.every((t, i) => t === b.params[i]) && a.results.every((t, i) => t === b.results[i]);
}
