import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProxyWasmPlugin, PluginLoadError, validateModule, ManualClock } from '../../filter/host/index.ts';
import { ENV_IMPORTS, WASI_IMPORTS } from '../../filter/host/abi-validation.ts';
import { describeSignature, parseModuleShape, sig } from '../../filter/host/wasm-binary.ts';
import { fixture, releaseFilter } from './support.ts';

const refusals = suite('abi-validation: modules Envoy refuses');

const cases: [string, string][] = [
  ['missing-abort', 'Failed to load Wasm module due to a missing import: env.abort'],
  ['grpc-call-old-arity', 'Failed to load Wasm module due to an import type mismatch for env.proxy_grpc_call, want: i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 -> i32, but host exports: i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 -> i32'],
  ['abi-010-import', 'Failed to load Wasm module due to a missing import: env.proxy_get_configuration'],
  ['imported-global', 'Failed to load Wasm module due to a missing import: env.stack_pointer'],
  ['no-abi-marker', 'Missing or unknown Proxy-Wasm ABI version'],
  ['no-malloc', 'Wasm module is missing malloc function.'],
  ['bad-callback-signature', 'Bad function signature for: proxy_on_request_headers'],
];
for (const [name, message] of cases) {
  refusals(`${name} is refused with Envoy's reason`, async () => {
    assert.throws(() => validateModule(fixture(name)), (e: Error) => e instanceof PluginLoadError && e.message === message);
    try {
      await ProxyWasmPlugin.create({ wasm: fixture(name), configuration: '', workers: 1, clock: new ManualClock() });
      assert.unreachable('create must refuse');
    } catch (e) {
      assert.instance(e, PluginLoadError);
      assert.is((e as Error).message, message);
    }
  });
}

refusals('a host call outside the start-phase allow-list traps the canary (restricted_callback)', async () => {
  try {
    await ProxyWasmPlugin.create({ wasm: fixture('restricted-start'), configuration: '', workers: 1, clock: new ManualClock() });
    assert.unreachable('create must refuse');
  } catch (e) {
    assert.instance(e, PluginLoadError);
    assert.match((e as Error).message, 'Function: _start failed');
    assert.match((e as Error).message, 'restricted_callback: proxy_define_metric');
  }
});

refusals('the allocator runs under its own allow-list: proxy_log passes, other host calls trap', async () => {
  try {
    await ProxyWasmPlugin.create({ wasm: fixture('allocator-hostcall'), configuration: 'cfg', workers: 1, clock: new ManualClock() });
    assert.unreachable('create must refuse');
  } catch (e) {
    assert.instance(e, PluginLoadError);
    assert.is((e as Error).message,
      'Function: proxy_on_configure failed: Uncaught Error: restricted_callback: proxy_set_tick_period_milliseconds');
  }
});

refusals('on_configure returning false in the canary refuses the configuration', async () => {
  try {
    await ProxyWasmPlugin.create({ wasm: fixture('configure-rejects'), configuration: '{}', workers: 1, clock: new ManualClock() });
    assert.unreachable('create must refuse');
  } catch (e) {
    assert.instance(e, PluginLoadError);
    assert.is((e as Error).message, 'Failed to configure base Wasm plugin');
  }
});
refusals.run();

const accepted = suite('abi-validation: modules Envoy loads');

accepted('a conformant module with env + both WASI module names loads and starts every VM', async () => {
  const v = validateModule(fixture('conformant'));
  assert.is(v.abi, '0_2_1');
  assert.is(v.allocator, 'malloc');
  const plugin = await ProxyWasmPlugin.create({ wasm: fixture('conformant'), configuration: '', workers: 3, clock: new ManualClock() });
  assert.is(plugin.memoryBytes().length, 4); // main + 3 workers
  assert.equal(plugin.failedVms(), []);
  // _start ran once per VM (canary + main + 3 workers), under the restricted allow-list that permits proxy_log.
  assert.is(plugin.callCounts().proxy_log, 5);
  await plugin.close();
});

accepted('proxy_on_memory_allocate is the allocator when malloc is absent', () => {
  assert.is(validateModule(fixture('allocate-fallback')).allocator, 'proxy_on_memory_allocate');
});

accepted('the probe (AssemblyScript, abort removed) passes validation', () => {
  const shape = parseModuleShape(fixture('probe'));
  assert.ok(shape.imports.every((i) => i.module === 'env' && i.name.startsWith('proxy_')));
  assert.is(validateModule(fixture('probe')).abi, '0_2_1');
});

accepted('the release filter passes Envoy validation', () => {
  const v = validateModule(releaseFilter());
  assert.is(v.abi, '0_2_1');
  assert.is(v.allocator, 'malloc');
});
accepted.run();

const tables = suite('abi-validation: host tables');
tables('signatures print as cpp-host printValTypes does', () => {
  assert.is(describeSignature(sig('iI>i')), 'i32 i64 -> i32');
  assert.is(describeSignature(sig('>')), 'void -> void');
});
tables('ABI 0.2.1 table has the i64 params and omits the 0.1.0-only imports', () => {
  assert.is(ENV_IMPORTS.proxy_increment_metric, 'iI>i');
  assert.is(ENV_IMPORTS.proxy_grpc_call, 'iiiiiiiiiiii>i');
  assert.is(ENV_IMPORTS.proxy_get_configuration, undefined);
  assert.is(ENV_IMPORTS.proxy_continue_request, undefined);
  assert.is(WASI_IMPORTS.fd_seek, 'iIii>i');
  assert.is(WASI_IMPORTS.clock_time_get, 'iIi>i');
});
tables.run();
