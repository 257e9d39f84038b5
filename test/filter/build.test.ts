// The shipped module passes Envoy's load-time checks: only env.proxy_* imports plus WASI environ_get/environ_sizes_get
// (the VM environment, served by every Envoy since 2021) with the host's exact types, the ABI marker, malloc,
// _start, and callbacks with Envoy's signatures; and it stays within the size budget.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import wabtInit from 'wabt';
import { ManualClock, ProxyWasmPlugin, parseModuleShape, validateModule } from '../../filter/host/index.ts';
import { ENV_IMPORTS, WASI_IMPORTS, wamrAppHeap } from '../../filter/host/abi-validation.ts';
import { WasmVm } from '../../filter/host/vm.ts';
import { fixture } from '../host/support.ts';
import { readWasm } from './support.ts';

const release = readWasm('meshlens.wasm');
const debug = readWasm('meshlens.debug.wasm');
const baseline = readWasm('baseline.wasm');

const build = suite('build: Envoy load-time conformance');

// The only imports outside env: reading vm_config.environment_variables (controlPlane.tokenEnv).
const FILTER_WASI = ['wasi_snapshot_preview1.environ_get', 'wasi_snapshot_preview1.environ_sizes_get'];

for (const [name, wasm, wasi] of [['meshlens.wasm', release, FILTER_WASI], ['meshlens.debug.wasm', debug, FILTER_WASI],
  ['baseline.wasm', baseline, []]] as const) {
  build(`${name} imports env.proxy_* functions Envoy registers and exactly ${wasi.length ? wasi.join(', ') : 'no WASI'}`, async () => {
    const module = await WebAssembly.compile(wasm as BufferSource);
    const others: string[] = [];
    for (const imp of WebAssembly.Module.imports(module)) {
      assert.is(imp.kind, 'function', `${imp.module}.${imp.name}`);
      if (imp.module === 'env') {
        assert.ok(imp.name.startsWith('proxy_') && imp.name in ENV_IMPORTS, `${imp.name} is not a proxy-wasm 0.2.1 import`);
      } else {
        assert.ok(imp.name in WASI_IMPORTS, `${imp.module}.${imp.name} is not a WASI function Envoy registers`);
        others.push(`${imp.module}.${imp.name}`);
      }
    }
    assert.equal(others.sort(), [...wasi]);
  });
  build(`${name} passes the host's ABI validation (marker, import types, callback signatures, malloc)`, async () => {
    validateModule(wasm);
    const exports = WebAssembly.Module.exports(await WebAssembly.compile(wasm as BufferSource)).map((e) => e.name);
    for (const required of ['proxy_abi_version_0_2_1', 'malloc', 'memory', '_start', 'proxy_on_context_create', 'proxy_on_configure',
      'proxy_on_request_headers', 'proxy_on_response_headers', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete']) {
      assert.ok(exports.includes(required), `missing export ${required}`);
    }
    assert.not.ok(exports.includes('proxy_on_memory_allocate') && !exports.includes('malloc'));
  });
}

build('the release module is within 150 KB and smaller than the debug build', () => {
  assert.ok(release.length <= 150 * 1024, `${release.length} bytes`);
  assert.ok(release.length < debug.length);
});

build('the release module never imports env.abort, trace or seed (AssemblyScript defaults Envoy lacks)', async () => {
  const names = WebAssembly.Module.imports(await WebAssembly.compile(release as BufferSource)).map((i) => i.name);
  for (const missing of ['abort', 'trace', 'seed']) assert.not.ok(names.includes(missing));
});
build.run();

const heapSuite = suite('build: one allocator in every runtime Envoy offers (WAMR, V8, Wasmtime)');

heapSuite('the shipped modules export malloc (i32 -> i32) and free (i32 -> void), so WAMR inserts no app heap', () => {
  for (const [name, wasm] of [['meshlens.wasm', release], ['meshlens.debug.wasm', debug]] as const) {
    const exports = parseModuleShape(wasm).exports;
    const fn = (n: string) => exports.find((e) => e.name === n && e.kind === 'function');
    assert.equal(fn('malloc')?.type, { params: ['i32'], results: ['i32'] }, `${name} malloc`);
    assert.equal(fn('free')?.type, { params: ['i32'], results: [] }, `${name} free`);
    assert.is(validateModule(wasm).wamrAppHeap, false, name);
    // Envoy's host allocates with malloc; the spec name would only be a fallback (cpp-host src/wasm.cc getFunctions).
    assert.is(validateModule(wasm).allocator, 'malloc');
  }
});

heapSuite('the check flags every export combination WAMR would answer with its own heap', async () => {
  assert.is(validateModule(fixture('probe')).wamrAppHeap, true, 'malloc without free (the old release module)');
  assert.is(validateModule(fixture('reload')).wamrAppHeap, false, 'malloc with free');
  const wabt = await wabtInit();
  const shapeOf = (body: string) => {
    const mod = wabt.parseWat('t.wat', `(module ${body} (memory (export "memory") 1))`);
    const { buffer } = mod.toBinary({});
    mod.destroy();
    return parseModuleShape(buffer);
  };
  const cases: [string, string, boolean][] = [
    ['malloc only', '(func (export "malloc") (param i32) (result i32) i32.const 0)', true],
    ['free only', '(func (export "free") (param i32))', true],
    ['malloc and free', '(func (export "malloc") (param i32) (result i32) i32.const 0) (func (export "free") (param i32))', false],
    ['free with a result', '(func (export "malloc") (param i32) (result i32) i32.const 0) (func (export "free") (param i32) (result i32) i32.const 0)', true],
    ['free imported, not defined', '(import "env" "free" (func $f (param i32))) (export "free" (func $f)) (func (export "malloc") (param i32) (result i32) i32.const 0)', true],
    ['AssemblyScript runtime exports', '(func (export "__new") (param i32 i32) (result i32) i32.const 0) (func (export "__pin") (param i32) (result i32) i32.const 0) (func (export "__unpin") (param i32))', false],
    ['__new without __pin', '(func (export "__new") (param i32 i32) (result i32) i32.const 0) (func (export "__unpin") (param i32))', true],
  ];
  for (const [what, body, inserted] of cases) assert.is(wamrAppHeap(shapeOf(body)), inserted, what);
});

/** The release module on its own, with every host call answering NotFound: only its allocator is exercised. */
async function bareRelease(): Promise<{ malloc(n: number): number; free(p: number): void; memory: WebAssembly.Memory }> {
  const module = await WebAssembly.compile(release as BufferSource);
  let memory: WebAssembly.Memory | undefined;
  const imports: WebAssembly.Imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] = imp.name === 'environ_sizes_get'
      ? (count: number, size: number) => { new DataView(memory!.buffer).setUint32(count, 0, true); new DataView(memory!.buffer).setUint32(size, 0, true); return 0; }
      : () => 1;
  }
  const instance = await WebAssembly.instantiate(module, imports);
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory;
  ex._start();
  return { malloc: (n) => ex.malloc(n) >>> 0, free: (p) => ex.free(p), memory: memory! };
}

heapSuite('a block from the exported malloc goes back through the exported free and is handed out again', async () => {
  const m = await bareRelease();
  const a = m.malloc(100);
  assert.ok(a > 0);
  m.free(a);
  assert.is(m.malloc(100), a, 'the freed block is reused');
  const before = m.memory.buffer.byteLength;
  for (let i = 0; i < 20_000; i++) m.free(m.malloc(1024 + (i % 4096)));
  assert.is(m.memory.buffer.byteLength, before, '20000 malloc/free pairs of up to 5 KiB: no growth');
  // The same loop without free does grow: the check above would see a leak.
  for (let i = 0; i < 200; i++) m.malloc(4096);
  assert.ok(m.memory.buffer.byteLength > before);
});

heapSuite('through the host, every result block the host mallocs is freed by the filter and reused, request after request', async () => {
  const p = await ProxyWasmPlugin.create({ wasm: release, configuration: '{}', workers: 1, clock: new ManualClock(0) });
  const blocks = new Set<number>();
  let calls = 0;
  const original = WasmVm.prototype.allocate;
  WasmVm.prototype.allocate = function (this: WasmVm, size: number) {
    const ptr = original.call(this, size);
    if (this.label === 'worker-0') { blocks.add(ptr); calls++; }
    return ptr;
  };
  try {
    const hdrs: [string, string][] = [[':method', 'GET'], [':path', '/api/orders/1'], [':authority', 'orders'], [':scheme', 'http'], ['x-tenant-id', 'acme']];
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        p.request(0, { cluster: 'outbound|8080||orders.default.svc.cluster.local', requestHeaders: hdrs, response: { responseCode: 200, durationMs: 1 } });
      }
    };
    run(6000); // warm-up: the GC heap settles (its first full cycles take ~6000 requests of this size since the series budget's state joined the heap)
    const [warmCalls, warmBlocks, warmMemory] = [calls, blocks.size, p.memoryBytes()[1]];
    run(3000);
    assert.equal(p.failedVms(), []);
    assert.ok(calls - warmCalls >= 3000, `${calls - warmCalls} host allocations in 3000 requests`);
    assert.ok(blocks.size - warmBlocks <= 10, `${calls - warmCalls} more host allocations took ${blocks.size - warmBlocks} new addresses`);
    assert.is(p.memoryBytes()[1], warmMemory, 'linear memory did not grow');
  } finally {
    WasmVm.prototype.allocate = original;
    await p.close();
  }
});
heapSuite.run();
