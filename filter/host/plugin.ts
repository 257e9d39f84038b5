// ProxyWasmPlugin: what Envoy does with one HTTP Wasm filter config. Validate the module, run a canary VM
// (on_configure false → refuse the config), then start one VM for the main thread and one per worker, each with
// its own root context, tick timer and linear memory, all sharing one stats store and one shared-data store.
import { validateModule, type ValidatedModule } from './abi-validation.ts';
import { PluginLoadError } from './errors.ts';
import { CalloutBridge, type ClusterConfig } from './callouts.ts';
import { ManualClock, RealClock, type Clock, type TimerSource } from './clock.ts';
import { EnvoyStats, loadDefaultStatsTags, type TagSpecifier } from './stats.ts';
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
  failStrategy?: 'FAIL_CLOSED' | 'FAIL_OPEN';
  clock?: Clock;
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
  readonly profile: EnvoyProfile;
  readonly failOpen: boolean;
  private readonly clock: Clock;
  private readonly env: HostEnvironment;
  private readonly callouts: CalloutBridge;
  private main!: WasmVm;
  private workers: WasmVm[] = [];
  private readonly configureFailed = new Set<WasmVm>();
  private readonly timers = new Map<WasmVm, NodeJS.Timeout>();
  private detachClock: (() => void) | undefined;
  private closed = false;
  private readonly maxLogEntries: number;

  private constructor(private readonly opts: PluginOptions, readonly validated: ValidatedModule) {
    const workers = opts.workers ?? 4;
    if (!Number.isInteger(workers) || workers < 1) throw new Error('invalid plugin options: workers must be a positive integer');
    this.workerCount = workers;
    this.failOpen = opts.failStrategy === 'FAIL_OPEN';
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
    const module = await WebAssembly.compile(opts.wasm as BufferSource);
    const canary = await plugin.startVm(module, 'canary');
    if (canary.failed || plugin.configureFailed.has(canary)) {
      plugin.callouts.close();
      throw new PluginLoadError(canary.failure ?? 'Failed to configure base Wasm plugin');
    }
    plugin.stopTimer(canary);
    plugin.env.shared.acquire(plugin.env.identity.vmId);
    plugin.main = await plugin.startVm(module, 'main');
    for (let i = 0; i < plugin.workerCount; i++) plugin.workers.push(await plugin.startVm(module, `worker-${i}`));
    if (plugin.clock instanceof ManualClock) plugin.detachClock = plugin.clock.attach(plugin);
    return plugin;
  }

  private async startVm(module: WebAssembly.Module, label: string): Promise<WasmVm> {
    const vm = new WasmVm(label, this.env, this.validated);
    await vm.instantiate(module);
    if (vm.failed) return vm;
    const root = new RootContext(vm.allocateContextId());
    vm.root = root;
    const ex = vm.exports;
    vm.invoke(root, ex.proxy_on_context_create, 'proxy_on_context_create', root.id, 0);
    const started = vm.invoke(root, ex.proxy_on_vm_start, 'proxy_on_vm_start', root.id, this.env.vmConfiguration.length);
    if (vm.failed) return vm;
    if (ex.proxy_on_vm_start && started === 0) {
      vm.markFailed('Failed to start base Wasm');
      return vm;
    }
    vm.inConfigure = true;
    const configured = vm.invoke(root, ex.proxy_on_configure, 'proxy_on_configure', root.id, this.env.pluginConfiguration.length);
    vm.inConfigure = false;
    if (!vm.failed && ex.proxy_on_configure && configured === 0) {
      this.configureFailed.add(vm);
      vm.failure = 'Failed to configure base Wasm plugin';
      if (label !== 'canary') this.record('warn', `Wasm plugin configure failed on ${label}; filter dropped on this thread`, vm, undefined);
      this.stopTimer(vm);
    }
    return vm;
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

  private worker(index: number): WasmVm {
    const vm = this.workers[index];
    if (!vm) throw new Error(`invalid worker: index must be in [0, ${this.workerCount})`);
    return vm;
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
  /** Labels of VMs that trapped (main, worker-N). */
  failedVms(): string[] { return this.allVms().filter((vm) => vm.failed).map((vm) => vm.label); }
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
