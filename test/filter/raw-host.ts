// A deliberately tiny proxy-wasm driver for tests that need what a faithful host cannot produce: raw header bytes
// (invalid UTF-8, malformed pairs), the canary's log lines after a refused configuration, exact call sequences.
// Unknown imports answer NotFound so the filter's own fallbacks run. Not a substitute for filter/host/.
import * as assert from 'uvu/assert';
import { ManualClock, PluginLoadError, ProxyWasmPlugin } from '../../filter/host/index.ts';

const OK = 0;
const NOT_FOUND = 1;

export interface RawMetric { type: number; name: string; value: bigint; samples: bigint[] }

export class RawHost {
  readonly logs: { level: number; message: string }[] = [];
  readonly metrics = new Map<number, RawMetric>();
  readonly calls = new Map<string, number>();
  configuration: Uint8Array = new Uint8Array(0);
  requestHeaderPairs: Uint8Array = new Uint8Array(0);
  properties = new Map<string, Uint8Array>();
  /** vm_config.environment_variables, served through WASI environ_* as KEY=VALUE\0 like cpp-host. */
  environment: Record<string, string> = {};
  private nextMetricId = 4;
  private exports!: Record<string, any>;
  private nextContextId = 1;
  rootId = 0;

  private get memory(): WebAssembly.Memory { return this.exports.memory; }
  private view(): DataView { return new DataView(this.memory.buffer); }
  private bytes(ptr: number, len: number): Uint8Array { return new Uint8Array(this.memory.buffer, ptr >>> 0, len >>> 0); }
  private text(ptr: number, len: number): string { return new TextDecoder().decode(this.bytes(ptr, len)); }

  // Copies `data` into a block from the module's malloc and writes pointer and size to the out slots.
  private give(data: Uint8Array, ptrSlot: number, sizeSlot: number): number {
    if (data.length === 0) {
      this.view().setUint32(ptrSlot, 0, true);
      this.view().setUint32(sizeSlot, 0, true);
      return OK;
    }
    const ptr = this.exports.malloc(data.length) >>> 0;
    new Uint8Array(this.memory.buffer, ptr, data.length).set(data);
    this.view().setUint32(ptrSlot, ptr, true);
    this.view().setUint32(sizeSlot, data.length, true);
    return OK;
  }

  private imports(): WebAssembly.Imports {
    const count = (name: string) => this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const known: Record<string, (...args: any[]) => any> = {
      proxy_log: (level: number, ptr: number, len: number) => { this.logs.push({ level, message: this.text(ptr, len) }); return OK; },
      proxy_set_tick_period_milliseconds: () => OK,
      proxy_get_buffer_bytes: (type: number, start: number, max: number, pp: number, np: number) =>
        type === 7 ? this.give(this.configuration.subarray(start, start + max), pp, np) : NOT_FOUND,
      proxy_get_header_map_pairs: (map: number, pp: number, np: number) =>
        this.give(map === 0 ? this.requestHeaderPairs : new Uint8Array(0), pp, np),
      proxy_get_property: (ptr: number, len: number, pp: number, np: number) => {
        const value = this.properties.get(this.text(ptr, len));
        return value === undefined ? NOT_FOUND : this.give(value, pp, np);
      },
      proxy_define_metric: (type: number, ptr: number, len: number, idPtr: number) => {
        const name = this.text(ptr, len);
        for (const [id, m] of this.metrics) if (m.name === name && m.type === type) { this.view().setUint32(idPtr, id, true); return OK; }
        const id = this.nextMetricId++;
        this.metrics.set(id, { type, name, value: 0n, samples: [] });
        this.view().setUint32(idPtr, id, true);
        return OK;
      },
      proxy_increment_metric: (id: number, delta: bigint) => { const m = this.metrics.get(id); if (!m) return NOT_FOUND; m.value += delta; return OK; },
      proxy_record_metric: (id: number, value: bigint) => { const m = this.metrics.get(id); if (!m) return NOT_FOUND; m.samples.push(BigInt.asUintN(64, value)); return OK; },
    };
    const env = new Proxy({}, {
      get: (_target, name: string) => (...args: any[]) => { count(name); return known[name] ? known[name](...args) : NOT_FOUND; },
    });
    const entries = () => Object.entries(this.environment).map(([k, v]) => new TextEncoder().encode(`${k}=${v}\0`));
    const wasi: Record<string, (...args: any[]) => any> = {
      environ_sizes_get: (countPtr: number, sizePtr: number) => {
        count('environ_sizes_get');
        const all = entries();
        this.view().setUint32(countPtr, all.length, true);
        this.view().setUint32(sizePtr, all.reduce((n, e) => n + e.length, 0), true);
        return OK;
      },
      environ_get: (pointersPtr: number, bufferPtr: number) => {
        count('environ_get');
        let at = bufferPtr >>> 0;
        entries().forEach((e, i) => {
          this.view().setUint32((pointersPtr >>> 0) + i * 4, at, true);
          new Uint8Array(this.memory.buffer, at, e.length).set(e);
          at += e.length;
        });
        return OK;
      },
    };
    return { env, wasi_snapshot_preview1: wasi };
  }

  async load(wasm: Uint8Array): Promise<void> {
    const { instance } = await WebAssembly.instantiate(wasm as BufferSource, this.imports());
    this.exports = instance.exports as Record<string, any>;
    this.exports._start?.();
  }

  configure(configuration: string): boolean {
    this.configuration = new TextEncoder().encode(configuration);
    this.rootId = this.nextContextId++;
    this.exports.proxy_on_context_create(this.rootId, 0);
    this.exports.proxy_on_vm_start(this.rootId, 0);
    return this.exports.proxy_on_configure(this.rootId, this.configuration.length) !== 0;
  }

  /** Runs one stream: request headers from `requestHeaderPairs`, response headers, log, done, delete. */
  stream(): number {
    const id = this.nextContextId++;
    this.exports.proxy_on_context_create(id, this.rootId);
    const action = this.exports.proxy_on_request_headers(id, 0, 1);
    this.exports.proxy_on_response_headers(id, 0, 1);
    this.exports.proxy_on_log(id);
    this.exports.proxy_on_done(id);
    this.exports.proxy_on_delete(id);
    return action;
  }

  memoryBytes(): number { return this.memory.buffer.byteLength; }

  /** Calls a raw export, e.g. malloc, bypassing the stream lifecycle. */
  callExport(name: string, ...args: number[]): unknown { return this.exports[name](...args); }

  counters(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const m of this.metrics.values()) if (m.type === 0) out.set(m.name, m.value);
    return out;
  }
}

/** Encodes raw byte strings in the ABI pairs format (§4), so keys and values may hold any bytes. */
export function rawPairs(pairs: [Uint8Array | string, Uint8Array | string][]): Uint8Array {
  const enc = (v: Uint8Array | string) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);
  const items = pairs.map(([k, v]) => [enc(k), enc(v)] as const);
  const size = 4 + items.reduce((n, [k, v]) => n + 10 + k.length + v.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, items.length, true);
  let data = 4 + items.length * 8;
  items.forEach(([k, v], i) => {
    dv.setUint32(4 + i * 8, k.length, true);
    dv.setUint32(8 + i * 8, v.length, true);
    out.set(k, data); data += k.length + 1;
    out.set(v, data); data += v.length + 1;
  });
  return out;
}

export function i64Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return out;
}

/**
 * A configuration Envoy must refuse: the host refuses the plugin (canary on_configure false), and the filter's only
 * output is the one critical line "invalid filter config: <field> must <rule>" (read through RawHost, which sees
 * every log line the canary would print).
 */
export async function assertConfigRefused(
  wasm: Uint8Array, configuration: string, expectedLine: string, environment: Record<string, string> = {},
): Promise<void> {
  try {
    await ProxyWasmPlugin.create({ wasm, configuration, workers: 1, clock: new ManualClock(0), environment });
    assert.unreachable('the plugin must be refused');
  } catch (err) {
    assert.instance(err, PluginLoadError);
  }
  const raw = new RawHost();
  raw.environment = environment;
  await raw.load(wasm);
  assert.is(raw.configure(configuration), false);
  assert.equal(raw.logs, [{ level: 5, message: expectedLine }]);
}

