// Shared helpers for the host suites: fixture and release-module loading (rebuilt when stale, see
// test/support/release-filter.ts) and probe-log lookups.
import { ProxyWasmPlugin, ManualClock, type PluginOptions } from '../../filter/host/index.ts';
import { readFilterModule, readFixture } from '../support/release-filter.ts';


export function fixture(name: string): Uint8Array {
  return readFixture(name);
}

/** The release module's bytes, rebuilt first if any filter source is newer. */
export function releaseFilter(): Uint8Array {
  return readFilterModule('meshlens.wasm');
}

export const PROBE_TAGS = [
  { tag: 'upstream_cluster', regex: '(upstream_cluster=\\.=(.*?);\\.;)' },
  { tag: 'response_code', regex: '(response_code=\\.=(.*?);\\.;)' },
];

export async function probe(extra: Partial<PluginOptions> = {}): Promise<{ plugin: ProxyWasmPlugin; clock: ManualClock }> {
  const clock = extra.clock instanceof ManualClock ? extra.clock : new ManualClock(1_700_000_000_000);
  const plugin = await ProxyWasmPlugin.create({
    wasm: fixture('probe'), configuration: '', workers: 2, clock, statsTags: PROBE_TAGS, ...extra,
  });
  return { plugin, clock };
}

/** Messages logged by the probe on one VM whose text starts with `prefix`. */
export function lines(plugin: ProxyWasmPlugin, prefix: string, vm?: string): string[] {
  return plugin.logs.filter((l) => l.message.startsWith(prefix) && (vm === undefined || l.vm === vm)).map((l) => l.message);
}
export function only(plugin: ProxyWasmPlugin, prefix: string, vm?: string): string {
  const found = lines(plugin, prefix, vm);
  if (found.length !== 1) throw new Error(`expected one log line starting with ${prefix}, got ${JSON.stringify(found)}`);
  return found[0];
}

export const GET = (path: string, extra: [string, string][] = []): [string, string][] =>
  [[':method', 'GET'], [':path', path], [':authority', 'orders'], [':scheme', 'http'], ...extra];

/** Fails instead of hanging when an awaited event never comes (a guard, not a synchronisation sleep). */
export function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms); });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}
