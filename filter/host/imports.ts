// The functions Envoy registers for an ABI 0.2.1 module: `env` host calls, the WASI set under both module names,
// pthread_equal and emscripten_notify_memory_growth. Each import is wrapped once to count calls and to enforce
// cpp-host's restricted phases (start functions, allocator).
import { randomFillSync } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { BufferType, LOG_LEVELS, MapType, MetricType, WasmResult, type LogLevel } from './abi-constants.ts';
import { ENV_IMPORTS, ENV_IMPORTS_ABI_0_1_0, WASI_IMPORTS, WASI_MODULES } from './abi-validation.ts';
import { WasmTrap } from './errors.ts';
import { getProperty, propertyPath, type PluginIdentity, type PropertySink } from './properties.ts';
import { DecodedStrings, encodePairs, firstValue, headerBytes, parsePairs, removeAll, type HeaderList } from './headers.ts';
import type { EnvoyStats } from './stats.ts';
import type { SharedData } from './shared-data.ts';
import type { Clock } from './clock.ts';
import type { CalloutBridge } from './callouts.ts';
import { Restriction, StreamContext, type RootContext, type WasmVm } from './vm.ts';

export interface HostEnvironment {
  identity: PluginIdentity;
  pluginConfiguration: Uint8Array;
  vmConfiguration: Uint8Array;
  environment: [string, string][];
  stats: EnvoyStats;
  shared: SharedData;
  clock: Clock;
  callouts: CalloutBridge;
  /** Envoy's `wasm` logger level (index into LOG_LEVELS). */
  logLevel: number;
  decoder: TextDecoder;
  callCounts: Map<string, { n: number }>;
  log(level: LogLevel, message: string, vm: WasmVm, ctx: RootContext | StreamContext | undefined): void;
  armTick(vm: WasmVm): void;
  /** Runs a callback on the VM's own "thread" later (queue-ready notifications). */
  post(vm: WasmVm, fn: () => void): void;
}

const START_ALLOWED = new Set([
  'proxy_log', 'emscripten_notify_memory_growth', 'fd_write', 'args_get', 'args_sizes_get', 'environ_get',
  'environ_sizes_get', 'clock_time_get', 'clock_res_get', 'random_get', 'poll_oneoff', 'fd_fdstat_get', 'fd_fdstat_set_flags',
]);
const ALLOCATOR_ALLOWED = new Set(['proxy_log', 'fd_write', 'clock_time_get', 'poll_oneoff']);

const WASI_ERRNO = { SUCCESS: 0, BADF: 8, INVAL: 28, NOENT: 44, NOSYS: 52, NOTSUP: 58 } as const;
const FD_WRITE_RIGHT = 1n << 6n;

type HostFn = (...args: any[]) => number | void;

const headerNames = new DecodedStrings<string>(1024, (name) => name.toLowerCase());
const headerValues = new DecodedStrings<string>(1024, (value) => value);

function wrap(vm: WasmVm, name: string, fn: HostFn): HostFn {
  const counter = vm.env.callCounts.get(name) ?? { n: 0 };
  vm.env.callCounts.set(name, counter);
  const startOk = START_ALLOWED.has(name), allocOk = ALLOCATOR_ALLOWED.has(name);
  const guard = () => {
    counter.n++;
    if (vm.restriction !== Restriction.None && !(vm.restriction === Restriction.Start ? startOk : allocOk)) {
      throw new WasmTrap(`restricted_callback: ${name}`);
    }
  };
  // Fixed-arity wrappers keep the hot path free of rest-argument arrays.
  switch (fn.length) {
    case 0: return () => { guard(); return fn(); };
    case 1: return (a: any) => { guard(); return fn(a); };
    case 2: return (a: any, b: any) => { guard(); return fn(a, b); };
    case 3: return (a: any, b: any, c: any) => { guard(); return fn(a, b, c); };
    case 4: return (a: any, b: any, c: any, d: any) => { guard(); return fn(a, b, c, d); };
    case 5: return (a: any, b: any, c: any, d: any, e: any) => { guard(); return fn(a, b, c, d, e); };
    default: return (...args: any[]) => { guard(); return fn(...args); };
  }
}

export function buildImports(vm: WasmVm): WebAssembly.Imports {
  const env = vm.env;
  const R = WasmResult;
  const stream = (): StreamContext | undefined => (vm.effective instanceof StreamContext ? vm.effective : undefined);
  const rootOf = (): RootContext | undefined => (vm.effective instanceof StreamContext ? vm.effective.root : (vm.effective as RootContext | undefined) ?? vm.root);
  const logPhase = () => stream()?.phase === 'log';

  /** The header map `type` as the effective context sees it: writable, read-only, or unavailable. */
  function headerMap(type: number, forWrite: boolean): HeaderList | undefined {
    const s = stream();
    switch (type) {
      case MapType.RequestHeaders:
        if (!s) return undefined;
        if (s.requestHeadersActive) return s.requestHeaders;
        return !forWrite && s.phase === 'log' ? s.requestHeaders : undefined;
      case MapType.ResponseHeaders:
        if (!s) return undefined;
        if (s.responseHeadersActive) return s.responseHeaders;
        return !forWrite && s.phase === 'log' ? (s.responseHeaders ?? s.logInfo?.responseHeaders) : undefined;
      case MapType.RequestTrailers:
        return s && !forWrite && s.phase === 'log' ? s.requestTrailers : undefined;
      case MapType.ResponseTrailers:
        return s && !forWrite && s.phase === 'log' ? (s.responseTrailers ?? s.logInfo?.responseTrailers) : undefined;
      case MapType.GrpcReceiveInitialMetadata: return forWrite ? undefined : vm.callout?.initialMetadata;
      case MapType.GrpcReceiveTrailingMetadata: return forWrite ? undefined : vm.callout?.trailingMetadata;
      case MapType.HttpCallResponseHeaders: return forWrite ? undefined : vm.callout?.headers;
      case MapType.HttpCallResponseTrailers: return forWrite ? undefined : vm.callout?.trailers;
    }
    return undefined;
  }

  function buffer(type: number): Uint8Array | undefined {
    switch (type) {
      case BufferType.VmConfiguration: return env.vmConfiguration;
      case BufferType.PluginConfiguration: return vm.inConfigure ? env.pluginConfiguration : undefined;
      case BufferType.HttpCallResponseBody: case BufferType.GrpcReceiveBuffer: return vm.callout?.body;
      case BufferType.HttpRequestBody: case BufferType.HttpResponseBody: {
        const s = stream();
        return s && s.bodyType === type ? s.body : undefined;
      }
    }
    return undefined;
  }

  function copyPairs(headers: HeaderList | undefined, pp: number, np: number): number {
    if (!headers || headers.length === 0) return vm.writeU32(pp, 0) && vm.writeU32(np, 0) ? R.Ok : R.InvalidMemoryAccess;
    return vm.copyOut(encodePairs(headers), pp, np);
  }

  // Header names (lower-cased) and values as the module passes them: the same few byte strings on every request.
  const headerName = (p: number, n: number): string | undefined => {
    p >>>= 0; n >>>= 0;
    return vm.inBounds(p, n) ? headerNames.get(vm.u8, p, n) : undefined;
  };
  const headerValue = (p: number, n: number): string | undefined => {
    p >>>= 0; n >>>= 0;
    return vm.inBounds(p, n) ? headerValues.get(vm.u8, p, n) : undefined;
  };
  let propPP = 0, propNP = 0;
  const propertySink: PropertySink = {
    string: (v) => vm.copyStringOut(v, propPP, propNP),
    int64: (n) => vm.copyInt64Out(n, propPP, propNP),
    uint64: (n) => vm.copyInt64Out(n, propPP, propNP),
    bytes: (b) => vm.copyOut(b, propPP, propNP),
    pairs: (h) => copyPairs(h, propPP, propNP),
  };

  function settle(s: StreamContext): void {
    if (vm.current !== s) vm.queueSettle(s);
  }

  const envFns: Record<string, HostFn> = {
    proxy_log(level: number, p: number, n: number) {
      if (level >>> 0 > 5) return R.BadArgument;
      const msg = vm.string(p, n);
      if (msg === undefined) return R.InvalidMemoryAccess;
      if (level >= env.logLevel) env.log(LOG_LEVELS[level], msg, vm, vm.effective);
      return R.Ok;
    },
    proxy_get_log_level(out: number) { return vm.writeU32(out, env.logLevel) ? R.Ok : R.InvalidMemoryAccess; },
    proxy_get_current_time_nanoseconds(out: number) { return vm.writeU64(out, env.clock.nowNs()) ? R.Ok : R.InvalidMemoryAccess; },
    proxy_set_tick_period_milliseconds(ms: number) {
      const root = rootOf();
      if (root) { root.tickPeriodMs = ms >>> 0; env.armTick(vm); }
      return R.Ok;
    },
    proxy_get_buffer_bytes(type: number, start: number, maxLen: number, pp: number, np: number) {
      if (type >>> 0 > BufferType.CallData) return R.BadArgument;
      const buf = buffer(type);
      if (!buf) return R.NotFound;
      start >>>= 0; maxLen >>>= 0;
      if (start + maxLen > 0xffffffff) return R.BadArgument;
      const end = Math.min(buf.length, start + maxLen);
      return vm.copyOut(start >= end ? new Uint8Array(0) : buf.subarray(start, end), pp, np);
    },
    proxy_set_buffer_bytes(type: number, start: number, len: number, p: number, n: number) {
      if (type >>> 0 > BufferType.CallData) return R.BadArgument;
      if (type !== BufferType.HttpRequestBody && type !== BufferType.HttpResponseBody) return buffer(type) ? R.BadArgument : R.NotFound;
      const s = stream();
      const buf = buffer(type);
      if (!s || !buf) return R.NotFound;
      const data = vm.view(p, n);
      if (!data) return R.InvalidMemoryAccess;
      start >>>= 0; len >>>= 0;
      if (start === 0) s.body = Buffer.concat([data, buf.subarray(Math.min(len, buf.length))]);
      else if (start >= buf.length) s.body = Buffer.concat([buf, data]);
      else return R.BadArgument;
      return R.Ok;
    },
    proxy_get_buffer_status(type: number, lenP: number, flagsP: number) {
      if (type >>> 0 > BufferType.CallData) return R.BadArgument;
      const buf = buffer(type);
      if (!buf) return R.NotFound;
      return vm.writeU32(lenP, buf.length) && vm.writeU32(flagsP, 0) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_header_map_pairs(type: number, pp: number, np: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      return copyPairs(headerMap(type, false), pp, np);
    },
    proxy_set_header_map_pairs(type: number, p: number, n: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, true);
      if (!map) return R.BadArgument;
      const bytes = vm.view(p, n);
      if (!bytes) return R.InvalidMemoryAccess;
      map.length = 0;
      for (const [k, v] of parsePairs(bytes)) map.push([k.toLowerCase(), v]);
      return R.Ok;
    },
    proxy_get_header_map_value(type: number, kp: number, kn: number, pp: number, np: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, false);
      if (!map) return logPhase() ? R.NotFound : R.BadArgument;
      const key = vm.string(kp, kn);
      if (key === undefined) return R.InvalidMemoryAccess;
      const value = firstValue(map, key.toLowerCase());
      if (value === undefined) return R.NotFound;
      return vm.copyStringOut(value, pp, np);
    },
    proxy_add_header_map_value(type: number, kp: number, kn: number, vp: number, vn: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, true);
      if (!map) return R.BadArgument;
      const key = vm.string(kp, kn), value = vm.string(vp, vn);
      if (key === undefined || value === undefined) return R.InvalidMemoryAccess;
      map.push([key.toLowerCase(), value]);
      return R.Ok;
    },
    proxy_replace_header_map_value(type: number, kp: number, kn: number, vp: number, vn: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, true);
      if (!map) return R.BadArgument;
      const lower = headerName(kp, kn), value = headerValue(vp, vn);
      if (lower === undefined || value === undefined) return R.InvalidMemoryAccess;
      let at = -1;
      for (let i = 0; i < map.length; i++) if (map[i][0] === lower) { at = i; break; }
      if (at < 0) { map.push([lower, value]); return R.Ok; }
      map[at] = [lower, value];
      for (let i = map.length - 1; i > at; i--) if (map[i][0] === lower) map.splice(i, 1);
      return R.Ok;
    },
    proxy_remove_header_map_value(type: number, kp: number, kn: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, true);
      if (!map) return R.BadArgument;
      const lower = headerName(kp, kn);
      if (lower === undefined) return R.InvalidMemoryAccess;
      removeAll(map, lower);
      return R.Ok;
    },
    proxy_get_header_map_size(type: number, out: number) {
      if (type >>> 0 > MapType.HttpCallResponseTrailers) return R.BadArgument;
      const map = headerMap(type, false);
      if (!map) return R.BadArgument;
      return vm.writeU32(out, headerBytes(map)) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_continue_stream(type: number) {
      if (type >>> 0 > 3) return R.BadArgument;
      if (type === 3) return R.Unimplemented;
      const s = stream();
      if (s && type === 0) { s.continueRequested = true; settle(s); }
      if (s && type === 1) { s.continueResponseRequested = true; settle(s); }
      return R.Ok;
    },
    proxy_close_stream(type: number) {
      if (type >>> 0 > 3) return R.BadArgument;
      if (type === 3) return R.Unimplemented;
      const s = stream();
      if (s && type <= 1) {
        s.closeRequested = true;
        s.responseCodeDetails ??= 'wasm_close_stream';
        settle(s);
      }
      return R.Ok;
    },
    proxy_send_local_response(code: number, dp: number, dn: number, bp: number, bn: number, hp: number, hn: number, grpc: number) {
      const details = vm.string(dp, dn), body = vm.string(bp, bn), hdrs = vm.view(hp, hn);
      if (details === undefined || body === undefined || !hdrs) return R.InvalidMemoryAccess;
      const s = stream();
      if (!s) return R.Ok;
      const grpcStatus = grpc >>> 0 <= 16 ? grpc >>> 0 : undefined;
      s.localReply = {
        status: code >>> 0, details: details.replace(/\s/g, '_'), body,
        headers: parsePairs(hdrs).map(([k, v]) => [k.toLowerCase(), v] as [string, string]), grpcStatus,
      };
      s.stopNextIteration = true;
      settle(s);
      return R.Ok;
    },
    proxy_get_property(p: number, n: number, pp: number, np: number) {
      p >>>= 0; n >>>= 0;
      if (!vm.inBounds(p, n)) return R.InvalidMemoryAccess;
      const path = propertyPath(vm.u8, p, n);
      const ctx = vm.effective ?? vm.root;
      if (!ctx) return R.NotFound;
      propPP = pp; propNP = np;
      return getProperty(ctx, env.identity, path, propertySink);
    },
    proxy_set_property(p: number, n: number, vp: number, vn: number) {
      const path = vm.string(p, n), value = vm.view(vp, vn);
      if (path === undefined || !value) return R.InvalidMemoryAccess;
      const s = stream();
      if (!s) return R.NotFound;
      (s.filterState ??= new Map()).set(`wasm.${path.replace(/\u0000$/, '')}`, value.slice());
      return R.Ok;
    },
    proxy_get_shared_data(kp: number, kn: number, pp: number, np: number, casP: number) {
      const key = vm.string(kp, kn);
      if (key === undefined) return R.InvalidMemoryAccess;
      const entry = env.shared.get(env.identity.vmId, key);
      if (!entry) return R.NotFound;
      const r = vm.copyOut(entry.value, pp, np);
      if (r !== R.Ok) return r;
      return vm.writeU32(casP, entry.cas) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_shared_data(kp: number, kn: number, vp: number, vn: number, cas: number) {
      const key = vm.string(kp, kn), value = vm.view(vp, vn);
      if (key === undefined || !value) return R.InvalidMemoryAccess;
      return env.shared.set(env.identity.vmId, key, value, cas >>> 0);
    },
    proxy_register_shared_queue(np_: number, nn: number, out: number) {
      const name = vm.string(np_, nn);
      if (name === undefined) return R.InvalidMemoryAccess;
      const root = rootOf();
      const id = env.shared.registerQueue(env.identity.vmId, name, {
        deliver: (queueId) => env.post(vm, () => { if (root && vm.root === root) vm.invoke(root, vm.exports.proxy_on_queue_ready, 'proxy_on_queue_ready', root.id, queueId); }),
      });
      return vm.writeU32(out, id) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue(vp: number, vn: number, np_: number, nn: number, out: number) {
      const vmId = vm.string(vp, vn), name = vm.string(np_, nn);
      if (vmId === undefined || name === undefined) return R.InvalidMemoryAccess;
      const id = env.shared.resolveQueue(vmId === '' ? env.identity.vmId : vmId, name);
      if (id === undefined) return R.NotFound;
      return vm.writeU32(out, id) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_enqueue_shared_queue(id: number, p: number, n: number) {
      const value = vm.view(p, n);
      if (!value) return R.InvalidMemoryAccess;
      return env.shared.enqueue(id >>> 0, value);
    },
    proxy_dequeue_shared_queue(id: number, pp: number, np: number) {
      const r = env.shared.dequeue(id >>> 0);
      return typeof r === 'number' ? r : vm.copyOut(r, pp, np);
    },
    proxy_http_call(up: number, un: number, hp: number, hn: number, bp: number, bn: number, tp: number, tn: number, timeout: number, tokenP: number) {
      const cluster = vm.string(up, un), hdrs = vm.view(hp, hn), body = vm.view(bp, bn), trls = vm.view(tp, tn);
      if (cluster === undefined || !hdrs || !body || !trls) return R.InvalidMemoryAccess;
      return env.callouts.httpCall(vm, rootOf()!, cluster, parsePairs(hdrs), body.slice(), parsePairs(trls), timeout | 0, tokenP);
    },
    proxy_grpc_call(sp: number, sn: number, np_: number, nn: number, mp: number, mn: number, dp: number, dn: number, gp: number, gn: number, timeout: number, tokenP: number) {
      const service = vm.view(sp, sn), svcName = vm.string(np_, nn), method = vm.string(mp, mn), md = vm.view(dp, dn), msg = vm.view(gp, gn);
      if (!service || svcName === undefined || method === undefined || !md || !msg) return R.InvalidMemoryAccess;
      return env.callouts.grpcCall(vm, rootOf()!, service.slice(), svcName, method, parsePairs(md), msg.slice(), timeout >>> 0, tokenP);
    },
    proxy_grpc_stream(sp: number, sn: number, np_: number, nn: number, mp: number, mn: number, dp: number, dn: number, tokenP: number) {
      const service = vm.view(sp, sn), svcName = vm.string(np_, nn), method = vm.string(mp, mn), md = vm.view(dp, dn);
      if (!service || svcName === undefined || method === undefined || !md) return R.InvalidMemoryAccess;
      return env.callouts.grpcStream(vm, rootOf()!, service.slice(), svcName, method, parsePairs(md), tokenP);
    },
    proxy_grpc_send(token: number, p: number, n: number, end: number) {
      const msg = vm.view(p, n);
      if (!msg) return R.InvalidMemoryAccess;
      if ((token & 3) !== 2) return R.BadArgument;
      const c = vm.callouts.get(token >>> 0);
      if (!c || !c.send) return R.NotFound;
      return c.send(msg.slice(), end !== 0) ? R.Ok : R.InternalFailure;
    },
    proxy_grpc_cancel(token: number) {
      const kind = token & 3;
      if (kind !== 1 && kind !== 2) return R.BadArgument;
      const c = vm.callouts.get(token >>> 0);
      if (!c) return R.NotFound;
      vm.callouts.delete(token >>> 0);
      c.cancel();
      return R.Ok;
    },
    proxy_grpc_close(token: number) {
      const kind = token & 3;
      if (kind !== 1 && kind !== 2) return R.BadArgument;
      const c = vm.callouts.get(token >>> 0);
      if (!c) return R.NotFound;
      if (kind === 1) { vm.callouts.delete(token >>> 0); c.cancel(); } else c.close?.();
      return R.Ok;
    },
    proxy_get_status(codeP: number, pp: number, np: number) {
      const root = rootOf();
      if (!vm.writeU32(codeP, root?.statusCode ?? 0)) return R.InvalidMemoryAccess;
      return vm.copyStringOut(root?.statusMessage ?? '', pp, np);
    },
    proxy_define_metric(type: number, p: number, n: number, out: number) {
      if (type >>> 0 > MetricType.Histogram) return R.BadArgument;
      const name = vm.string(p, n);
      if (name === undefined) return R.InvalidMemoryAccess;
      const kind = type === MetricType.Counter ? 'counter' : type === MetricType.Gauge ? 'gauge' : 'histogram';
      vm.metricIdCounters[type] += 4;
      const id = vm.metricIdCounters[type];
      vm.metrics.set(id, { stat: env.stats.wasmMetric(kind, name), type });
      return vm.writeU32(out, id) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, delta: bigint) {
      const m = vm.metrics.get(id >>> 0);
      if (!m) return R.NotFound;
      if (m.type === MetricType.Counter) {
        if (delta <= 0n) return R.BadArgument;
        env.stats.add(m.stat, Number(delta));
        return R.Ok;
      }
      if (m.type === MetricType.Gauge) { env.stats.add(m.stat, Number(delta)); return R.Ok; }
      return R.BadArgument;
    },
    proxy_record_metric(id: number, value: bigint) {
      const m = vm.metrics.get(id >>> 0);
      if (!m) return R.NotFound;
      // The i64 arrives signed; only a negative one needs the (allocating) unsigned reinterpretation.
      const v = value >= 0n ? Number(value) : Number(BigInt.asUintN(64, value));
      if (m.type === MetricType.Counter) env.stats.add(m.stat, v);
      else if (m.type === MetricType.Gauge) env.stats.set(m.stat, v);
      else env.stats.record(m.stat, v);
      return R.Ok;
    },
    proxy_get_metric(id: number, out: number) {
      const m = vm.metrics.get(id >>> 0);
      if (!m) return R.NotFound;
      if (m.type === MetricType.Histogram) return R.BadArgument;
      return vm.writeU64(out, BigInt(Math.trunc(m.stat.value))) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_effective_context(id: number) {
      id >>>= 0;
      const ctx = vm.root?.id === id ? vm.root : vm.streams.get(id);
      if (!ctx) return R.BadArgument;
      vm.effective = ctx;
      return R.Ok;
    },
    proxy_done() {
      const root = rootOf();
      if (!root || !root.pendingDone) return R.NotFound;
      root.pendingDone = false;
      return R.Ok;
    },
    proxy_call_foreign_function(np_: number, nn: number, ap: number, an: number, pp: number, rp: number) {
      const name = vm.string(np_, nn), args = vm.view(ap, an);
      if (name === undefined || !args) return R.InvalidMemoryAccess;
      switch (name) {
        case 'compress': return vm.copyOut(deflateSync(args), pp, rp);
        case 'uncompress':
          try { return vm.copyOut(inflateSync(args), pp, rp); } catch { return R.SerializationFailure; }
        case 'declare_property': case 'set_envoy_filter_state': return R.Ok;
      }
      return R.NotFound;
    },
    pthread_equal(a: number, b: number) { return a === b ? 1 : 0; },
    emscripten_notify_memory_growth(_index: number) { vm.refresh(); },
    envoy_resolve_dns(_p: number, _n: number, _tokenP: number) { return R.Unimplemented; },
  };
  const abi010: Record<string, HostFn> = {
    proxy_get_configuration(pp: number, np: number) { return vm.copyOut(env.pluginConfiguration, pp, np); },
    proxy_continue_request() { return envFns.proxy_continue_stream(0) as number; },
    proxy_continue_response() { return envFns.proxy_continue_stream(1) as number; },
    proxy_clear_route_cache() { return R.Ok; },
  };

  const wasiFns: Record<string, HostFn> = {
    fd_write(fd: number, iovs: number, iovsLen: number, outP: number) {
      if (fd !== 1 && fd !== 2) return WASI_ERRNO.BADF;
      vm.refresh();
      let text = '';
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const base = (iovs >>> 0) + i * 8;
        if (base + 8 > vm.u8.length) return WASI_ERRNO.INVAL;
        const p = vm.dv.getUint32(base, true), n = vm.dv.getUint32(base + 4, true);
        const s = vm.string(p, n);
        if (s === undefined) return WASI_ERRNO.INVAL;
        text += s;
        total += n;
      }
      if (!vm.writeU32(outP, total)) return WASI_ERRNO.INVAL;
      env.log(fd === 1 ? 'info' : 'error', text.endsWith('\n') ? text.slice(0, -1) : text, vm, vm.effective);
      return WASI_ERRNO.SUCCESS;
    },
    fd_read(_fd: number, _iovs: number, _len: number, _out: number) { return WASI_ERRNO.NOSYS; },
    fd_seek(_fd: number, _off: bigint, _whence: number, _out: number) { env.log('error', 'wasi_unstable fd_seek', vm, vm.effective); return 0; },
    fd_close(_fd: number) { env.log('error', 'wasi_unstable fd_close', vm, vm.effective); return 0; },
    fd_fdstat_get(fd: number, out: number) {
      if (fd !== 1 && fd !== 2) return WASI_ERRNO.BADF;
      const v = vm.view(out, 24);
      if (!v) return WASI_ERRNO.INVAL;
      v.fill(0);
      v[0] = 2; // character device
      new DataView(v.buffer, v.byteOffset, 24).setBigUint64(8, FD_WRITE_RIGHT, true);
      return WASI_ERRNO.SUCCESS;
    },
    environ_sizes_get(countP: number, sizeP: number) {
      const size = env.environment.reduce((a, [k, v]) => a + Buffer.byteLength(`${k}=${v}`) + 1, 0);
      return vm.writeU32(countP, env.environment.length) && vm.writeU32(sizeP, size) ? 0 : WASI_ERRNO.INVAL;
    },
    environ_get(arrayP: number, bufP: number) {
      let at = bufP >>> 0;
      for (let i = 0; i < env.environment.length; i++) {
        const bytes = Buffer.from(`${env.environment[i][0]}=${env.environment[i][1]}\0`, 'utf8');
        const v = vm.view(at, bytes.length);
        if (!v || !vm.writeU32((arrayP >>> 0) + i * 4, at)) return WASI_ERRNO.INVAL;
        v.set(bytes);
        at += bytes.length;
      }
      return 0;
    },
    args_sizes_get(countP: number, sizeP: number) { return vm.writeU32(countP, 0) && vm.writeU32(sizeP, 0) ? 0 : WASI_ERRNO.INVAL; },
    args_get(_argv: number, _buf: number) { return 0; },
    clock_time_get(id: number, _precision: bigint, out: number) {
      if (id !== 0 && id !== 1) return WASI_ERRNO.NOTSUP;
      return vm.writeU64(out, env.clock.nowNs()) ? 0 : WASI_ERRNO.INVAL;
    },
    random_get(p: number, n: number) {
      if (n >>> 0 > 64 * 1024) return WASI_ERRNO.INVAL;
      const v = vm.view(p, n);
      if (!v) return WASI_ERRNO.INVAL;
      randomFillSync(v);
      return 0;
    },
    proc_exit(_code: number) { env.log('error', 'wasi_unstable proc_exit', vm, vm.effective); },
    path_open(_a: number, _b: number, _c: number, _d: number, _e: number, _f: bigint, _g: bigint, _h: number, _i: number) { return WASI_ERRNO.NOENT; },
    fd_prestat_get(_fd: number, _buf: number) { return WASI_ERRNO.BADF; },
    fd_prestat_dir_name(_fd: number, _p: number, _n: number) { return WASI_ERRNO.NOSYS; },
    fd_fdstat_set_flags(_fd: number, _flags: number) { return WASI_ERRNO.NOSYS; },
    sched_yield() { return 0; },
    poll_oneoff(_in: number, _out: number, _n: number, neventsP: number) { return vm.writeU32(neventsP, 0) ? 0 : WASI_ERRNO.INVAL; },
  };

  const envModule: Record<string, HostFn> = {};
  for (const name of Object.keys(ENV_IMPORTS)) envModule[name] = wrap(vm, name, envFns[name]);
  if (vm.validated.abi === '0_1_0') for (const name of Object.keys(ENV_IMPORTS_ABI_0_1_0)) envModule[name] = wrap(vm, name, abi010[name]);
  const wasiModule: Record<string, HostFn> = {};
  for (const name of Object.keys(WASI_IMPORTS)) wasiModule[name] = wrap(vm, name, wasiFns[name]);
  const imports: WebAssembly.Imports = { env: envModule };
  for (const m of WASI_MODULES) imports[m] = wasiModule;
  // Imported memories/tables are created by the host, as cpp-host does.
  for (const imp of vm.validated.shape.imports) {
    if (imp.kind === 'memory') (imports[imp.module] ??= {})[imp.name] = new WebAssembly.Memory({ initial: 1 });
    if (imp.kind === 'table') (imports[imp.module] ??= {})[imp.name] = new WebAssembly.Table({ initial: 0, element: 'anyfunc' });
  }
  return imports;
}
