// The shipped module passes Envoy's load-time checks: only env.proxy_* imports plus WASI environ_get/environ_sizes_get
// (the VM environment, served by every Envoy since 2021) with the host's exact types, the ABI marker, malloc,
// _start, and callbacks with Envoy's signatures; and it stays within the size budget.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateModule } from '../../filter/host/index.ts';
import { ENV_IMPORTS, WASI_IMPORTS } from '../../filter/host/abi-validation.ts';
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
