// Parses and validates the loader's NDJSON (field names fixed in bpf/format.c). Anything that does not validate is
// rejected whole: a half-understood interval would corrupt deltas downstream.

export type RetransCause = 'rto' | 'fast' | 'tlp' | 'syn' | 'other';
export const RETRANS_CAUSES: readonly RetransCause[] = ['rto', 'fast', 'tlp', 'syn', 'other'];

/** Which end opened the connection, as the kernel saw it; unknown for connections older than the collector and for
 * sources that cannot tell (ss -ti, recordings made before the loader printed it). */
export type FlowDirection = 'outbound' | 'inbound' | 'unknown';
const FLOW_DIRECTIONS: readonly FlowDirection[] = ['outbound', 'inbound', 'unknown'];

export interface FlowDelta {
  netns: number;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  retransSegs: number;
  events: Record<RetransCause, number>;
  segsOut: number;
  srttUs: number;
  opened: boolean;
  closed: boolean;
  durationUs: number;
  direction: FlowDirection;
}

export interface IntervalLine {
  type: 'interval';
  seq: number;
  tsMs: number;
  intervalMs: number;
  attach: string;
  activeConnections: number;
  mapFullDrops: number;
  evictedFlows: number;
  retransFailed: number;
  flowsTracked: number;
  /** Events the kernel did not run the programs for (recursion_misses delta); event counts by cause are low by this
   * much, retransSegs is not (it comes from tcp_sock.total_retrans). */
  missedEvents: number;
  flows: FlowDelta[];
}

/** When the collector samples segs_out and srtt: on every received segment (so every live flow's sent segments are
 * current each interval), or only at retransmits and state changes (kernels whose tcp_probe names no socket, and
 * recordings made before the loader said). */
export type Sampling = 'tcp_probe' | 'events';
const SAMPLINGS: readonly Sampling[] = ['tcp_probe', 'events'];

export interface StartLine {
  type: 'start';
  attach: string;
  sampling: Sampling;
  intervalMs: number;
  maxFlows: number;
  pid: number;
  tsMs: number;
}

export type LoaderLine = StartLine | IntervalLine;

export class LoaderOutputError extends Error {
  override name = 'LoaderOutputError';
}

type Json = Record<string, unknown>;

function fail(field: string, rule: string): never {
  throw new LoaderOutputError(`invalid loader line: ${field} must ${rule}`);
}

function uint(o: Json, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${path}${key}`, `be an integer in [0, ${max}]`);
  return v;
}

function int(o: Json, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${path}${key}`, 'be an integer');
  return v;
}

function bool(o: Json, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(`${path}${key}`, 'be a boolean');
  return v;
}

function str(o: Json, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) fail(`${path}${key}`, 'be a non-empty string of at most 64 characters');
  return v;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/;

function address(o: Json, key: string, path: string, family: 4 | 6): string {
  const v = str(o, key, path);
  if (family === 4 ? !IPV4.test(v) : !(IPV6.test(v) && v.includes(':'))) fail(`${path}${key}`, `be an IPv${family} address`);
  return v;
}

function object(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path || 'line', 'be a JSON object');
  return v as Json;
}

export function parseFlow(raw: unknown, path: string): FlowDelta {
  const o = object(raw, path);
  const p = `${path}.`;
  const family = uint(o, 'family', p);
  if (family !== 4 && family !== 6) fail(`${p}family`, 'be 4 or 6');
  const opened = bool(o, 'opened', p);
  const closed = bool(o, 'closed', p);
  const durationUs = uint(o, 'duration_us', p);
  if (durationUs > 0 && !closed) fail(`${p}duration_us`, 'be 0 unless closed is true');
  const events = {} as Record<RetransCause, number>;
  for (const cause of RETRANS_CAUSES) events[cause] = uint(o, cause, p);
  const direction = o.direction ?? 'unknown';
  if (!FLOW_DIRECTIONS.includes(direction as FlowDirection)) fail(`${p}direction`, 'be "outbound", "inbound" or "unknown"');
  return {
    netns: uint(o, 'netns', p, 0xffffffff),
    family,
    laddr: address(o, 'laddr', p, family),
    lport: uint(o, 'lport', p, 65535),
    raddr: address(o, 'raddr', p, family),
    rport: uint(o, 'rport', p, 65535),
    retransSegs: uint(o, 'retrans_segs', p),
    events,
    segsOut: uint(o, 'segs_out', p),
    srttUs: uint(o, 'srtt_us', p, 0xffffffff),
    opened,
    closed,
    durationUs,
    direction: direction as FlowDirection,
  };
}

export function parseLoaderLine(line: string): LoaderLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    fail('line', 'be valid JSON');
  }
  const o = object(raw, 'line');
  if (o.type === 'start') {
    const sampling = o.sampling ?? 'events';
    if (!SAMPLINGS.includes(sampling as Sampling)) fail('sampling', 'be "tcp_probe" or "events"');
    return {
      type: 'start',
      attach: str(o, 'attach', ''),
      sampling: sampling as Sampling,
      intervalMs: uint(o, 'interval_ms', ''),
      maxFlows: uint(o, 'max_flows', ''),
      pid: uint(o, 'pid', ''),
      tsMs: uint(o, 'ts_ms', ''),
    };
  }
  if (o.type !== 'interval') fail('type', 'be "start" or "interval"');
  if (!Array.isArray(o.flows)) fail('flows', 'be an array');
  return {
    type: 'interval',
    seq: uint(o, 'seq', ''),
    tsMs: uint(o, 'ts_ms', ''),
    intervalMs: uint(o, 'interval_ms', ''),
    attach: str(o, 'attach', ''),
    activeConnections: int(o, 'active_connections', ''),
    mapFullDrops: uint(o, 'map_full_drops', ''),
    evictedFlows: uint(o, 'evicted_flows', ''),
    retransFailed: uint(o, 'retrans_failed', ''),
    flowsTracked: uint(o, 'flows_tracked', ''),
    missedEvents: uint(o, 'missed_events', ''),
    flows: (o.flows as unknown[]).map((f, i) => parseFlow(f, `flows[${i}]`)),
  };
}
