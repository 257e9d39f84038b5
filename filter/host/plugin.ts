// ProxyWasmPlugin: what Envoy does with one HTTP Wasm filter config. Validate the module, run a canary VM
// (on_configure false → refuse the config), then start one VM for the main thread and one per worker, each with
// its own root context, tick timer and linear memory, all sharing one stats store and one shared-data store.
// A worker VM that trapped is replaced by a fresh one under FAIL_RELOAD, as Envoy >= 1.33 does (envoy PR #36456).
import { validateModule, type ValidatedModule } from './abi-validation.ts';
import { PluginLoadError } from './errors.ts';
import { CalloutBridge, type ClusterConfig } from './callouts.ts';
import { ManualClock, RealClock, type Clock, type TimerSource } from './clock.ts';
import { EnvoyStats, loadDefaultStatsTags, type Stat, type TagSpecifier } from './stats.ts';
import { processSharedData, type SharedData } from './shared-data.ts';
import { LOG_LEVELS, type LogLevel } from './abi-constants.ts';
import { utf8Decoder } from './headers.ts';
import { RootContext, StreamContext, WasmVm } from './vm.ts';
import type { HostEnvironment } from './imports.ts';
import type { NodeInfo } from './properties.ts';
import { DEFAULT_PROFILE, envoyProfile, type EnvoyProfile } from './envoy-profiles.ts';
import { FAIL_STREAM_REPLY, HttpStreamImpl, type HttpStream, type StreamHost } from './http-stream.ts';
import type { LocalReply, LogInfo, StreamProps } from './stream-types.ts';

export interface PluginOptions {
  wasm: Uint8Array; configuration: string; vmConfiguration?: string;
  name?: string; rootId?: string; vmId?: string;
  workers?: number;
  /** PluginConfig.failure_policy; unset = UNSPECIFIED, which Envoy treats as FAIL_CLOSED. */
  failurePolicy?: FailurePolicy;
  /** PluginConfig.fail_open (deprecated in Envoy's API): true = FAIL_OPEN that also passes the trapping stream. */
  failOpen?: boolean;
  /** PluginConfig.reload_config, read only under FAIL_RELOAD. */
  reloadConfig?: ReloadConfig;
  clock?: Clock;
  /** Envoy's random generator (a non-negative integer per call): jitters the FAIL_RELOAD backoff. */
  random?: () => number;
  stats?: EnvoyStats;
  /** stats_config.stats_tags; default Istio's bootstrap for the profile with the filter's extraStatTags. */
  statsTags?: TagSpecifier[];
  /** The Envoy version answered as (envoy-profiles.ts): an EnvoyProfile, or its name ('1.36', 'istio-1.28'). */
  envoy?: EnvoyProfile | string;
  clusters?: Record<string, ClusterConfig>;
  /** xds.node: id, cluster and metadata (Istio: NAME, NAMESPACE, WORKLOAD_NAME…). */
  node?: NodeInfo;
  /** vm_config.environment_variables, served through WASI environ_*. */
  environment?: Record<string, string>;
  /** Envoy's `wasm` logger level; messages below it are dropped. Default info. */
  logLevel?: LogLevel;
  /** Shared-data store; default the process-wide one. */
  sharedData?: SharedData;
  /** Log entries kept in `logs` (oldest dropped first). Default 10000. */
  maxLogEntries?: number;
  /** Called for every log entry as it is recorded (an event to wait on instead of polling `logs`). */
  onLog?: (entry: LogEntry) => void;
}

export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';
export const FAILURE_POLICIES: readonly FailurePolicy[] = ['FAIL_CLOSED', 'FAIL_OPEN', 'FAIL_RELOAD'];
/** ReloadConfig{backoff: BackoffStrategy}: only base_interval is read (JitteredLowerBoundBackOffStrategy has no max). */
export interface ReloadConfig { backoff?: { baseIntervalMs?: number } }
/** PROTOBUF_GET_MS_OR_DEFAULT(config.reload_config().backoff(), base_interval, 1000). */
export const DEFAULT_RELOAD_BASE_INTERVAL_MS = 1000;
/**
 * The runtime the host answers as: it runs modules on V8 (Node's engine), Istio's default WasmPlugin runtime, so
 * vm_config.runtime is envoy.wasm.runtime.v8.
 */
export const WASM_RUNTIME = 'envoy.wasm.runtime.v8';
/**
 * LifecycleStatsHandler (envoy v1.36.0 63ee0dc79d source/extensions/common/wasm/stats_handler.h, wasm.cc): every
 * Wasm, base or thread-local clone, counts `wasm.<runtime>.created` and moves the `wasm.<runtime>.active` gauge
 * (a process-wide count, decremented in ~Wasm). Prometheus shows them as envoy_wasm_envoy_wasm_runtime_v8_*.
 */
export const VM_LIFECYCLE_STATS = { created: `wasm.${WASM_RUNTIME}.created`, active: `wasm.${WASM_RUNTIME}.active` } as const;
/** The counters StatsHandler creates under `wasm.<plugin name>.` (vm_reload itself is never incremented). */
export const RELOAD_STATS = ['vm_reload', 'vm_reload_backoff', 'vm_reload_success', 'vm_reload_failure'] as const;

/**
 * Envoy's PluginConfig constructor (envoy v1.33.0–v1.36.0, source/extensions/common/wasm/wasm.cc, unchanged across
 * those tags): fail_open=true means FAIL_OPEN and may not be combined with failure_policy; unset means FAIL_CLOSED.
 * `passTrappingStream` is proxy-wasm's PluginBase::fail_open_, which Envoy fills from the legacy boolean only
 * (plugin.h), so only `fail_open: true` lets the stream that hit the trap continue (cpp-host context.cc CHECK_FAIL).
 */
export function resolveFailurePolicy(opts: Pick<PluginOptions, 'failurePolicy' | 'failOpen' | 'reloadConfig'>):
  { policy: FailurePolicy; passTrappingStream: boolean; reloadBaseMs: number } {
  if (opts.failOpen !== undefined && typeof opts.failOpen !== 'boolean') throw new Error('invalid plugin options: failOpen must be a boolean');
  if (opts.failurePolicy !== undefined && !FAILURE_POLICIES.includes(opts.failurePolicy)) {
    throw new Error(`invalid plugin options: failurePolicy must be one of ${FAILURE_POLICIES.join(', ')}`);
  }
  if (opts.failOpen && opts.failurePolicy !== undefined) {
    throw new Error('invalid plugin options: failOpen must not be set together with failurePolicy (only one of fail_open or failure_policy can be set)');
  }
  const policy: FailurePolicy = opts.failOpen ? 'FAIL_OPEN' : opts.failurePolicy ?? 'FAIL_CLOSED';
  const base = opts.reloadConfig?.backoff?.baseIntervalMs ?? DEFAULT_RELOAD_BASE_INTERVAL_MS;
  // The proto allows 1 ms, but JitteredLowerBoundBackOffStrategy asserts min_interval > 1 and takes the jitter
  // modulo min_interval >> 1, which is 0 for 1 ms.
  if (!Number.isInteger(base) || base < 2) throw new Error('invalid plugin options: reloadConfig.backoff.baseIntervalMs must be an integer >= 2');
  return { policy, passTrappingStream: opts.failOpen === true, reloadBaseMs: base };
}

/** Envoy's active_wasms: one count for the whole process, whichever plugin the VM belongs to. */
let activeVms = 0;

export interface SimulatedRequest extends StreamProps {
  requestHeaders: [string, string][];
  response?: LogInfo;
}
export interface SimulatedResult { localReply?: LocalReply; forwardedRequestHeaders: [string, string][]; failed?: boolean; paused?: boolean }
export interface LogEntry { level: LogLevel; message: string; vm: string; line: string }

export class ProxyWasmPlugin implements TimerSource, StreamHost {
  readonly logs: LogEntry[] = [];
  readonly stats: EnvoyStats;
  readonly workerCount: number;
  readonly failurePolicy: FailurePolicy;
  readonly profile: EnvoyProfile;
  /** The stream that hits a trap continues (legacy fail_open only); StreamHost reads it. */
  readonly failOpen: boolean;
  private readonly reloadBaseMs: number;
  private readonly random: () => number;
  private readonly reloadStats: Record<(typeof RELOAD_STATS)[number], Stat>;
  private readonly vmCreated: Stat;
  private readonly vmActive: Stat;
  /** VMs alive (base, main, workers, replacements not yet discarded): each counts once in wasm.<runtime>.active. */
  private readonly liveVms = new Set<WasmVm>();
  private readonly clock: Clock;
  private module!: WebAssembly.Module;
  private readonly env: HostEnvironment;
  private readonly callouts: CalloutBridge;
  private main!: WasmVm;
  private workers: WasmVm[] = [];
  /** SinglePluginHandle::last_load per worker: when its VM was last (re)loaded, on the injected clock. */
  private lastLoadNs: bigint[] = [];
  /** Replacement VMs built by FAIL_RELOAD: a refused configure there is a failed reload, not a dropped filter. */
  private readonly replacements = new WeakSet<WasmVm>();
  private readonly configureFailed = new Set<WasmVm>();
  private readonly timers = new Map<WasmVm, NodeJS.Timeout>();
  private detachClock: (() => void) | undefined;
  private closed = false;
  private readonly maxLogEntries: number;

  private constructor(private readonly opts: PluginOptions, readonly validated: ValidatedModule) {
    const workers = opts.workers ?? 4;
    if (!Number.isInteger(workers) || workers < 1) throw new Error('invalid plugin options: workers must be a positive integer');
    this.workerCount = workers;
    const failure = resolveFailurePolicy(opts);
    this.failurePolicy = failure.policy;
    this.failOpen = failure.passTrappingStream;
    this.reloadBaseMs = failure.reloadBaseMs;
    this.random = opts.random ?? (() => Math.floor(Math.random() * 2 ** 32));
    this.clock = opts.clock ?? new RealClock();
    const profile = typeof opts.envoy === 'string' ? envoyProfile(opts.envoy) : opts.envoy ?? DEFAULT_PROFILE;
    this.profile = profile;
    this.stats = opts.stats ?? new EnvoyStats({ statsTags: opts.statsTags ?? loadDefaultStatsTags(profile) });
    if (opts.stats && opts.statsTags) this.stats.useTagSpecifiers(opts.statsTags);
    this.callouts = new CalloutBridge(opts.clusters ?? {});
    this.maxLogEntries = opts.maxLogEntries ?? 10000;
    const name = opts.name ?? 'meshlens', rootId = opts.rootId ?? 'meshlens', vmId = opts.vmId ?? 'meshlens';
    const logLevel = LOG_LEVELS.indexOf(opts.logLevel ?? 'info');
    if (logLevel < 0) throw new Error('invalid plugin options: logLevel must be one of trace, debug, info, warn, error, critical');
    // StatsHandler(scope, "wasm.<name>.") in PluginConfig's constructor, for every policy (only FAIL_RELOAD moves
    // them). Marked used so they show at 0 from the start, as Envoy's counters do.
    this.reloadStats = Object.fromEntries(RELOAD_STATS.map((n) => {
      const stat = this.stats.stat('counter', `wasm.${name}.${n}`);
      this.stats.add(stat, 0);
      return [n, stat];
    })) as Record<(typeof RELOAD_STATS)[number], Stat>;
    this.vmCreated = this.stats.stat('counter', VM_LIFECYCLE_STATS.created);
    this.vmActive = this.stats.stat('gauge', VM_LIFECYCLE_STATS.active);
    this.stats.add(this.vmCreated, 0);
    this.env = {
      identity: { name, rootId, vmId, node: opts.node ?? {}, legacyProperties: profile.legacyProperties },
      pluginConfiguration: Buffer.from(opts.configuration, 'utf8'),
      vmConfiguration: Buffer.from(opts.vmConfiguration ?? '', 'utf8'),
      environment: Object.entries(opts.environment ?? {}),
      stats: this.stats,
      shared: opts.sharedData ?? processSharedData,
      clock: this.clock,
      callouts: this.callouts,
      logLevel,
      decoder: utf8Decoder,
      callCounts: new Map(),
      log: (level, message, vm, ctx) => this.record(level, message, vm, ctx),
      armTick: (vm) => this.armTick(vm),
      post: (vm, fn) => setImmediate(() => { if (!this.closed && !vm.failed) fn(); }),
    };
  }

  /** Loads like Envoy: throws PluginLoadError with Envoy's reason when the config would be rejected. */
  static async create(opts: PluginOptions): Promise<ProxyWasmPlugin> {
    const validated = validateModule(opts.wasm);
    const plugin = new ProxyWasmPlugin(opts, validated);
    plugin.module = await WebAssembly.compile(opts.wasm as BufferSource);
    const canary = plugin.startVm('canary');
    if (canary.failed || plugin.configureFailed.has(canary)) {
      plugin.vmLifecycle(canary, 'destroyed');
      plugin.callouts.close();
      throw new PluginLoadError(canary.failure ?? 'Failed to configure base Wasm plugin');
    }
    // The canary is Envoy's base Wasm: it stays alive (and counted active) as the one the thread-local VMs clone.
    plugin.stopTimer(canary);
    plugin.env.shared.acquire(plugin.env.identity.vmId);
    plugin.main = plugin.startVm('main');
    for (let i = 0; i < plugin.workerCount; i++) {
      plugin.workers.push(plugin.startVm(`worker-${i}`));
      plugin.lastLoadNs.push(plugin.clock.nowNs());
    }
    if (plugin.clock instanceof ManualClock) plugin.detachClock = plugin.clock.attach(plugin);
    return plugin;
  }

  private startVm(label: string): WasmVm { return this.startPrepared(new WasmVm(label, this.env, this.validated)); }

  private startPrepared(vm: WasmVm): WasmVm {
    const label = vm.label;
    this.vmLifecycle(vm, 'created');
    vm.instantiate(this.module);
    if (vm.failed) return vm;
    const root = new RootContext(vm.allocateContextId());
    vm.root = root;
    const ex = vm.exports;
    vm.invoke(root, ex.proxy_on_context_create, 'proxy_on_context_create', root.id, 0);
    const started = vm.invoke(root, ex.proxy_on_vm_start, 'proxy_on_vm_start', root.id, this.env.vmConfiguration.length);
    if (vm.failed) return vm;
    if (ex.proxy_on_vm_start && started === 0) {
      vm.markFailed('Failed to start base Wasm', 'StartFailed');
      return vm;
    }
    vm.inConfigure = true;
    const configured = vm.invoke(root, ex.proxy_on_configure, 'proxy_on_configure', root.id, this.env.pluginConfiguration.length);
    vm.inConfigure = false;
    if (!vm.failed && ex.proxy_on_configure && configured === 0) {
      this.configureFailed.add(vm);
      vm.failure = 'Failed to configure base Wasm plugin';
      if (label !== 'canary' && !this.replacements.has(vm)) this.record('warn', `Wasm plugin configure failed on ${label}; filter dropped on this thread`, vm, undefined);
      this.stopTimer(vm);
    }
    return vm;
  }

  /** Wasm() / ~Wasm(): the VM counts as created and active until it is discarded. */
  private vmLifecycle(vm: WasmVm, event: 'created' | 'destroyed'): void {
    if (event === 'created') {
      if (this.liveVms.has(vm)) return;
      this.liveVms.add(vm);
      this.stats.add(this.vmCreated, 1);
    } else if (!this.liveVms.delete(vm)) {
      return;
    }
    activeVms += event === 'created' ? 1 : -1;
    this.stats.set(this.vmActive, activeVms);
  }

  private record(level: LogLevel, message: string, vm: WasmVm, ctx: RootContext | StreamContext | undefined): void {
    const { name, rootId, vmId } = this.env.identity;
    const parts = ctx instanceof StreamContext ? [name, rootId, vmId] : ctx ? [rootId, vmId] : [vmId];
    const prefix = parts.filter((p) => p !== '').map((p) => ` ${p}`).join('');
    const entry: LogEntry = { level, message, vm: vm.label, line: `wasm log${prefix}: ${message}` };
    this.logs.push(entry);
    this.opts.onLog?.(entry);
    if (this.logs.length > this.maxLogEntries) this.logs.splice(0, this.logs.length - this.maxLogEntries);
  }

  // ---- ticks: one timer per VM, keyed by its root context ----
  private armTick(vm: WasmVm): void {
    const root = vm.root;
    if (!root || this.closed) return;
    this.stopTimer(vm);
    if (root.tickPeriodMs === 0) return;
    root.tickDueNs = this.clock.nowNs() + BigInt(root.tickPeriodMs) * 1_000_000n;
    if (!(this.clock instanceof ManualClock)) {
      const t = setTimeout(() => this.fireTick(vm), root.tickPeriodMs);
      t.unref();
      this.timers.set(vm, t);
    }
  }
  private stopTimer(vm: WasmVm): void {
    if (vm.root) vm.root.tickDueNs = undefined;
    const t = this.timers.get(vm);
    if (t) { clearTimeout(t); this.timers.delete(vm); }
  }
  private fireTick(vm: WasmVm): void {
    const root = vm.root;
    if (!root || vm.failed || this.closed || this.configureFailed.has(vm)) return;
    root.tickDueNs = undefined;
    vm.invoke(root, vm.exports.proxy_on_tick, 'proxy_on_tick', root.id);
    // Re-armed after the callback: the period is measured from the end of the tick.
    if (!vm.failed && root.tickDueNs === undefined) this.armTick(vm);
  }
  private allVms(): WasmVm[] { return this.main ? [this.main, ...this.workers] : []; }

  nextDueNs(): bigint | undefined {
    let due: bigint | undefined;
    for (const vm of this.allVms()) {
      const d = vm.root?.tickDueNs;
      if (d !== undefined && !vm.failed && (due === undefined || d < due)) due = d;
    }
    return due;
  }
  fireDue(): void { this.runTicks(); }

  /** Fires on_tick on every VM whose tick period has elapsed per the clock. */
  runTicks(): void {
    const now = this.clock.nowNs();
    for (const vm of this.allVms()) {
      const d = vm.root?.tickDueNs;
      if (d !== undefined && d <= now) this.fireTick(vm);
    }
  }

  // ---- streams ----
  nowNs(): bigint { return this.clock.nowNs(); }
  bypassed(vm: WasmVm): boolean { return vm.failed || this.configureFailed.has(vm); }
  dropped(vm: WasmVm): boolean { return !vm.failed && this.configureFailed.has(vm); }

  /** The VM a new stream on this worker runs on: PluginConfig::createContext → getPluginHandleAndWasm. */
  private worker(index: number): WasmVm {
    const vm = this.workers[index];
    if (!vm) throw new Error(`invalid worker: index must be in [0, ${this.workerCount})`);
    return this.maybeReload(index, vm);
  }

  /**
   * PluginConfig::maybeReloadHandleIfNeeded (envoy v1.33.0 source/extensions/common/wasm/wasm.cc, the same through
   * v1.36.0): only a VM failed by a trap, only under FAIL_RELOAD, and only when a new stream asks for it. The backoff
   * is drawn anew on every check, jittered in [base, 1.5 × base) and never grows
   * (source/common/common/backoff_strategy.cc JitteredLowerBoundBackOffStrategy); within it the stream gets the
   * failed VM (answered fail-closed) and vm_reload_backoff counts. Otherwise last_load moves to now and a fresh VM is
   * cloned, started and configured (proxy-wasm-cpp-host c4d7bb0 src/wasm.cc getOrCreateThreadLocalPlugin); it
   * replaces the failed one only if it came up (vm_reload_success), else vm_reload_failure and the failed one stays.
   */
  private maybeReload(index: number, vm: WasmVm): WasmVm {
    if (!vm.failed || vm.failState !== 'RuntimeError' || this.failurePolicy !== 'FAIL_RELOAD' || this.closed) return vm;
    const intervalMs = this.nextBackOffMs();
    const now = this.clock.nowNs();
    if (now - this.lastLoadNs[index] < BigInt(intervalMs) * 1_000_000n) {
      this.stats.add(this.reloadStats.vm_reload_backoff, 1);
      return vm;
    }
    this.lastLoadNs[index] = now;
    const fresh = new WasmVm(vm.label, this.env, this.validated);
    this.replacements.add(fresh);
    this.startPrepared(fresh);
    if (fresh.failed || this.configureFailed.has(fresh)) {
      // Discarded: nothing it started may outlive it (close() only walks the VMs in service).
      this.stopTimer(fresh);
      for (const c of fresh.callouts.values()) c.cancel();
      fresh.callouts.clear();
      this.configureFailed.delete(fresh);
      this.vmLifecycle(fresh, 'destroyed');
      this.stats.add(this.reloadStats.vm_reload_failure, 1);
      return vm;
    }
    this.stats.add(this.reloadStats.vm_reload_success, 1);
    this.stopTimer(vm);
    this.vmLifecycle(vm, 'destroyed');
    this.workers[index] = fresh;
    return fresh;
  }

  private nextBackOffMs(): number {
    const half = Math.floor(this.reloadBaseMs / 2);
    return (Math.floor(this.random()) % half) + this.reloadBaseMs;
  }

  openStream(worker: number, props: StreamProps): HttpStream {
    return new HttpStreamImpl(this, this.worker(worker), props);
  }

  /** One whole stream, synchronously: request headers, the upstream response (if any), then the log phase. */
  request(worker: number, req: SimulatedRequest): SimulatedResult {
    const vm = this.worker(worker);
    const stream = new HttpStreamImpl(this, vm, req);
    const startNs = this.clock.nowNs();
    const outcome = stream.requestHeaders(req.requestHeaders, true);
    switch (outcome.action) {
      case 'failed':
        return { failed: true, localReply: { ...FAIL_STREAM_REPLY, headers: [] }, forwardedRequestHeaders: stream.forwardedRequestHeaders() };
      case 'paused':
        return { paused: true, forwardedRequestHeaders: stream.forwardedRequestHeaders() };
      case 'reset':
        stream.log({ responseCode: 0, responseFlags: 'DC', durationMs: elapsedMs(startNs, this.clock.nowNs()) });
        return { forwardedRequestHeaders: stream.forwardedRequestHeaders() };
      case 'localReply':
        stream.log({ responseCode: outcome.reply.status, durationMs: elapsedMs(startNs, this.clock.nowNs()), attemptCount: 0 });
        return { localReply: outcome.reply, forwardedRequestHeaders: stream.forwardedRequestHeaders() };
    }
    const forwardedRequestHeaders = stream.forwardedRequestHeaders();
    const response = req.response ?? { responseCode: 200, durationMs: elapsedMs(startNs, this.clock.nowNs()) };
    const r = stream.responseHeaders(responseHeadersOf(response), true);
    if (r.action === 'failed') {
      return { failed: true, localReply: { ...FAIL_STREAM_REPLY, headers: [] }, forwardedRequestHeaders };
    }
    stream.log(response);
    return r.action === 'localReply' ? { localReply: r.reply, forwardedRequestHeaders } : { forwardedRequestHeaders };
  }

  callCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.env.callCounts) if (v.n > 0) out[k] = v.n;
    return out;
  }
  memoryBytes(): number[] { return this.allVms().map((vm) => vm.memoryBytes()); }
  /**
   * Live HTTP stream contexts per worker VM (worker 0 first): streams begun and not yet through on_delete, what
   * Envoy's downstream_rq_active shows for the streams that reached the filter. 0 everywhere once traffic is done.
   */
  activeStreams(): number[] { return this.workers.map((vm) => vm.streams.size); }
  /** Labels of VMs that trapped (main, worker-N). */
  failedVms(): string[] { return this.allVms().filter((vm) => vm.failed).map((vm) => vm.label); }
  /**
   * The VM labelled `label` (main, worker-N) traps outside any stream, as a runtime error in its on_tick would:
   * marked failed with cpp-host's RuntimeError state, its timer and call-outs stopped (vm.ts markFailed). Under
   * FAIL_RELOAD a worker's VM is then replaced on the first new stream after the backoff (maybeReload); the main
   * thread's VM serves no stream, so it stays failed, as in Envoy.
   */
  trapVm(label: string): void {
    const vm = this.allVms().find((v) => v.label === label);
    if (!vm) throw new Error(`invalid VM: label must be one of ${this.allVms().map((v) => v.label).join(', ')}`);
    vm.markFailed('Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable', 'RuntimeError');
  }
  /** Current tick period per VM (main first), 0 when disarmed. */
  tickPeriods(): number[] { return this.allVms().map((vm) => vm.root?.tickPeriodMs ?? 0); }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const vm of this.allVms()) {
      const root = vm.root;
      if (root && !vm.failed) {
        vm.invoke(root, vm.exports.proxy_on_done, 'proxy_on_done', root.id);
        vm.invoke(root, vm.exports.proxy_on_delete, 'proxy_on_delete', root.id);
      }
      for (const c of vm.callouts.values()) c.cancel();
      vm.callouts.clear();
      this.stopTimer(vm);
    }
    this.closed = true;
    for (const vm of [...this.liveVms]) this.vmLifecycle(vm, 'destroyed');
    this.detachClock?.();
    this.callouts.close();
    this.env.shared.release(this.env.identity.vmId);
  }
}

const STATUS_TEXT = new Map<number, string>();
function responseHeadersOf(response: LogInfo): [string, string][] {
  const headers = response.responseHeaders;
  if (headers && headers.some(([k]) => k === ':status')) return headers;
  let status = STATUS_TEXT.get(response.responseCode);
  if (status === undefined) { status = String(response.responseCode); STATUS_TEXT.set(response.responseCode, status); }
  return headers ? [[':status', status], ...headers] : [[':status', status]];
}

function elapsedMs(startNs: bigint, nowNs: bigint): number { return Number(nowNs - startNs) / 1e6; }
