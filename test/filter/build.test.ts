// The shipped module passes Envoy's load-time checks: only env.proxy_* imports with the host's exact types, the
// ABI marker, malloc, _start, and callbacks with Envoy's signatures; and it stays within the size budget.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateModule } from '../../filter/host/index.ts';
import { ENV_IMPORTS } from '../../filter/host/abi-validation.ts';
import { readWasm } from './support.ts';

const release = readWasm('meshlens.wasm');
const debug = readWasm('meshlens.debug.wasm');
const baseline = readWasm('baseline.wasm');

const build = suite('build: Envoy load-time conformance');

for (const [name, wasm] of [['meshlens.wasm', release], ['meshlens.debug.wasm', debug], ['baseline.wasm', baseline]] as const) {
  build(`${name} imports only env.proxy_* functions Envoy registers`, async () => {
    const module = await WebAssembly.compile(wasm as BufferSource);
    for (const imp of WebAssembly.Module.imports(module)) {
      assert.is(imp.module, 'env', `${imp.module}.${imp.name}`);
      assert.ok(imp.name.startsWith('proxy_') && imp.name in ENV_IMPORTS, `${imp.name} is not a proxy-wasm 0.2.1 import`);
      assert.is(imp.kind, 'function');
    }
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
