// proxy_get_property as Envoy answers it (§6): path segments joined by NUL, values as raw bytes (strings), 8-byte
// LE integers, timestamps/durations as int64 nanoseconds, maps in the pairs format; availability per callback.
import { WasmResult, RESPONSE_FLAG_BITS } from './abi-constants.ts';
import { DecodedStrings, firstValue, joinedValue, utf8Encoder, type HeaderList } from './headers.ts';
import type { StreamContext, Context } from './vm.ts';
import { LEGACY_PROPERTY_NAMES } from './envoy-profiles.ts';

export interface NodeInfo { id?: string; cluster?: string; metadata?: Record<string, string> }
export interface PluginIdentity {
  name: string; rootId: string; vmId: string; node: NodeInfo;
  /** The Envoy profile answers the top-level names removed in Envoy 1.33 (envoy-profiles.ts). */
  legacyProperties: boolean;
}
const LEGACY_NAMES: ReadonlySet<string> = new Set(LEGACY_PROPERTY_NAMES);

/** Where a property value goes: the host writes it straight into module memory, without intermediate copies. */
export interface PropertySink {
  string(s: string): number;
  int64(n: number | bigint): number;
  uint64(n: number): number;
  bytes(b: Uint8Array): number;
  pairs(h: HeaderList): number;
}
const EMPTY = new Uint8Array(0);
const str = (s: string): Uint8Array => utf8Encoder.encode(s);

// response.flags is StreamInfo::legacyResponseFlags(): bit n for core flag n (envoy/stream_info/stream_info.h,
// CoreResponseFlag). LH … DF hold bits 0 … 26 in every supported Envoy, so no profile changes them; the core flags
// added after DF (DO, DR, UDO) are never set by the sidecar and are not modelled.
export function responseFlagsBitmask(flags: string | undefined): number {
  if (!flags || flags === '-') return 0;
  let mask = 0;
  for (const f of flags.split(',')) {
    const bit = RESPONSE_FLAG_BITS[f.trim()];
    if (bit === undefined) throw new Error(`invalid response flags: ${f} must be an Envoy short flag`);
    mask |= bit;
  }
  return mask;
}

/** Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(code: number): number {
  switch (code) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

// --- minimal protobuf writer for xds.node (config.core.v3.Node: 1 id, 2 cluster, 3 metadata Struct) ---
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}
function field(num: number, payload: Uint8Array): number[] {
  return [...varint((num << 3) | 2), ...varint(payload.length), ...payload];
}
export function encodeNode(node: NodeInfo): Uint8Array {
  const bytes: number[] = [];
  if (node.id) bytes.push(...field(1, str(node.id)));
  if (node.cluster) bytes.push(...field(2, str(node.cluster)));
  const entries = Object.entries(node.metadata ?? {});
  if (entries.length > 0) {
    const struct: number[] = [];
    for (const [k, v] of entries) {
      const value = Uint8Array.from(field(3, str(v))); // google.protobuf.Value.string_value
      struct.push(...field(1, Uint8Array.from([...field(1, str(k)), ...field(2, value)])));
    }
    bytes.push(...field(3, Uint8Array.from(struct)));
  }
  return Uint8Array.from(bytes);
}

const FALSE_BYTE = Uint8Array.of(0);
/** A property path split once: its segments, plus the first two and the remainder as getProperty dispatches on. */
export interface ParsedPath { parts: string[]; top: string; second: string; rest: string[] }

// The segment names getProperty dispatches on. Segments are swapped for these literals when parsed, so its
// switches compare internalized strings (pointer equality) instead of freshly split ones character by character.
const SEGMENT_NAMES = new Map([
  'plugin_name', 'plugin_root_id', 'plugin_vm_id', 'node', 'xds', 'request', 'response', 'upstream', 'source',
  'destination', 'connection_id', 'connection', 'cluster_name', 'route_name', 'listener_direction', 'metadata',
  'filter_state', 'time', 'duration', 'protocol', 'path', 'url_path', 'query', 'method', 'host', 'scheme', 'id',
  'useragent', 'referer', 'headers', 'size', 'total_size', 'code', 'code_details', 'flags', 'grpc_status',
  'trailers', 'request_attempt_count', 'address', 'port', 'local_address', 'transport_failure_reason', 'mtls',
  'cluster', 'cluster_metadata', 'route_metadata', 'upstream_host_metadata', 'listener_metadata',
].map((name) => [name, name]));

function parsePath(split: string[]): ParsedPath {
  const parts = split.map((segment) => SEGMENT_NAMES.get(segment) ?? segment);
  return { parts, top: parts[0] ?? '', second: parts[1] ?? '', rest: parts.slice(2) };
}
// Property paths repeat on every request: each is split once.
const propertyPaths = new DecodedStrings<ParsedPath>(4096, (path) => {
  const parts = path.split('\u0000');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parsePath(parts);
});

/** The parsed NUL-separated path at [ptr, ptr + len), which the caller has bounds-checked. */
export function propertyPath(u8: Uint8Array, ptr: number, len: number): ParsedPath {
  return propertyPaths.get(u8, ptr, len);
}

function requestHeadersReachable(s: StreamContext): boolean { return s.requestHeadersActive || s.phase === 'log'; }

function requestProperty(k: PropertySink, s: StreamContext, key: string, rest: string[]): number {
  switch (key) {
    case 'time': return k.int64(s.startNs);
    case 'duration':
      return s.logInfo ? k.int64(Math.round(s.logInfo.durationMs * 1e6)) : WasmResult.NotFound;
    case 'protocol': return k.string(s.props.protocol ?? 'HTTP/1.1');
  }
  if (!requestHeadersReachable(s)) return WasmResult.NotFound;
  const h = s.requestHeaders;
  const header = (name: string) => { const v = firstValue(h, name); return v === undefined ? WasmResult.NotFound : k.string(v); };
  switch (key) {
    case 'path': return header(':path');
    case 'url_path': { const p = firstValue(h, ':path'); return p === undefined ? WasmResult.NotFound : k.string(p.split('?')[0]); }
    case 'query': { const p = firstValue(h, ':path'); if (p === undefined) return WasmResult.NotFound; const i = p.indexOf('?'); return k.string(i < 0 ? '' : p.slice(i + 1)); }
    case 'method': return header(':method');
    case 'host': return header(':authority');
    case 'scheme': return header(':scheme');
    case 'id': return header('x-request-id');
    case 'useragent': return header('user-agent');
    case 'referer': return header('referer');
    case 'headers': {
      if (rest.length === 0) return k.pairs(h);
      const v = joinedValue(h, rest[0].toLowerCase());
      return v === undefined ? WasmResult.NotFound : k.string(v);
    }
    case 'size': { const cl = firstValue(h, 'content-length'); return k.int64(cl !== undefined ? Number(cl) : (s.logInfo?.requestBytes ?? 0)); }
    case 'total_size': return s.logInfo ? k.int64(s.logInfo.requestBytes ?? 0) : WasmResult.NotFound;
  }
  return WasmResult.NotFound;
}

function responseProperty(k: PropertySink, s: StreamContext, key: string, rest: string[]): number {
  const code = s.logInfo?.responseCode ?? s.responseCode;
  switch (key) {
    case 'code': return code === undefined ? WasmResult.NotFound : k.int64(code);
    case 'flags': return k.int64(responseFlagsBitmask(s.logInfo?.responseFlags));
  }
  const headers = s.phase === 'log' ? (s.responseHeaders ?? s.logInfo?.responseHeaders) : (s.responseHeadersActive ? s.responseHeaders : undefined);
  switch (key) {
    case 'code': return code === undefined ? WasmResult.NotFound : k.int64(code);
    case 'code_details': {
      const d = s.responseCodeDetails ?? (code !== undefined ? 'via_upstream' : undefined);
      return d === undefined ? WasmResult.NotFound : k.string(d);
    }
    case 'flags': return k.int64(responseFlagsBitmask(s.logInfo?.responseFlags));
    case 'grpc_status': {
      if (s.logInfo?.grpcStatus !== undefined) return k.int64(s.logInfo.grpcStatus);
      const fromTrailer = s.responseTrailers && firstValue(s.responseTrailers, 'grpc-status');
      const fromHeader = headers && firstValue(headers, 'grpc-status');
      const explicit = fromTrailer ?? fromHeader;
      if (explicit !== undefined && /^\d+$/.test(explicit)) return k.int64(Number(explicit));
      return code === undefined ? WasmResult.NotFound : k.int64(httpToGrpcStatus(code));
    }
    case 'headers': {
      if (!headers) return WasmResult.NotFound;
      if (rest.length === 0) return k.pairs(headers);
      const v = joinedValue(headers, rest[0].toLowerCase());
      return v === undefined ? WasmResult.NotFound : k.string(v);
    }
    case 'trailers': return s.responseTrailers ? k.pairs(s.responseTrailers) : WasmResult.NotFound;
    case 'size': return k.int64(s.logInfo?.responseBytes ?? 0);
    case 'total_size': return s.logInfo ? k.int64(s.logInfo.responseBytes ?? 0) : WasmResult.NotFound;
  }
  return WasmResult.NotFound;
}

function upstreamProperty(k: PropertySink, s: StreamContext, key: string): number {
  const info = s.logInfo;
  switch (key) {
    case 'request_attempt_count': return k.uint64(info?.attemptCount ?? 0);
    case 'address': return info?.upstreamAddress ? k.string(info.upstreamAddress) : WasmResult.NotFound;
    case 'port': {
      const a = info?.upstreamAddress;
      return a ? k.int64(Number(a.slice(a.lastIndexOf(':') + 1))) : WasmResult.NotFound;
    }
    case 'local_address': return info?.upstreamLocalAddress ? k.string(info.upstreamLocalAddress) : WasmResult.NotFound;
    case 'transport_failure_reason':
      return info?.upstreamTransportFailureReason !== undefined ? k.string(info.upstreamTransportFailureReason) : WasmResult.NotFound;
  }
  return WasmResult.NotFound;
}

function addressProperty(k: PropertySink, address: string | undefined, key: string): number {
  if (!address) return WasmResult.NotFound;
  if (key === 'address') return k.string(address);
  if (key === 'port') return k.int64(Number(address.slice(address.lastIndexOf(':') + 1)));
  return WasmResult.NotFound;
}

function nodeProperty(k: PropertySink, node: NodeInfo, rest: string[]): number {
  if (rest.length === 0) return k.bytes(encodeNode(node));
  if (rest[0] === 'id') return k.string(node.id ?? '');
  if (rest[0] === 'cluster') return k.string(node.cluster ?? '');
  if (rest[0] === 'metadata') {
    if (rest.length === 1) return k.pairs(Object.entries(node.metadata ?? {}));
    const v = node.metadata?.[rest[1]];
    return v === undefined ? WasmResult.NotFound : k.string(v);
  }
  return WasmResult.NotFound;
}

/** Resolves a NUL-separated property path for the given (effective) context. */
export function getProperty(ctx: Context, id: PluginIdentity, path: ParsedPath, k: PropertySink): number {
  const { parts, top, second, rest } = path;
  // Envoy ≥ 1.33 no longer knows these names: they fall through to the `wasm.<name>` filter-state lookup below.
  if (!id.legacyProperties && LEGACY_NAMES.has(top)) return filterStateProperty(ctx, parts, k);
  switch (top) {
    case 'plugin_name': return k.string(id.name);
    case 'plugin_root_id': return k.string(id.rootId);
    case 'plugin_vm_id': return k.string(id.vmId);
    case 'node': return nodeProperty(k, id.node, parts.slice(1));
  }
  // xds.node is the bootstrap Node message: answered in the root context too (Envoy PR #32077, in every supported
  // version); its fields are traversable (`xds.node\0id`, `xds.node\0metadata\0NAMESPACE`), or serialized whole.
  if (top === 'xds' && second === 'node') return nodeProperty(k, id.node, rest);
  if (ctx.isRoot) return WasmResult.NotFound; // no stream: request/response/connection/xds-of-stream are absent
  const s = ctx as StreamContext;
  switch (top) {
    case 'request': return requestProperty(k, s, second, rest);
    case 'response': return responseProperty(k, s, second, rest);
    case 'upstream': return upstreamProperty(k, s, second);
    case 'source': return addressProperty(k, s.props.sourceAddress, second);
    case 'destination': return addressProperty(k, s.props.destinationAddress, second);
    case 'connection_id': return k.uint64(s.props.connectionId ?? s.id);
    case 'connection':
      if (second === 'id') return k.uint64(s.props.connectionId ?? s.id);
      if (second === 'mtls') return k.bytes(FALSE_BYTE);
      return WasmResult.NotFound;
    case 'cluster_name': return k.string(s.props.cluster);
    case 'route_name': return k.string(s.props.routeName ?? '');
    case 'listener_direction': return k.int64(s.props.listenerDirection ?? 0);
    case 'cluster_metadata': case 'route_metadata': case 'upstream_host_metadata': case 'listener_metadata':
      return k.bytes(EMPTY);
    case 'xds':
      switch (second) {
        case 'cluster_name': return k.string(s.props.cluster);
        case 'route_name': return k.string(s.props.routeName ?? '');
        case 'listener_direction': return k.int64(s.props.listenerDirection ?? 0);
        case 'cluster_metadata': case 'route_metadata': case 'upstream_host_metadata': case 'listener_metadata':
          return k.bytes(EMPTY);
      }
      return WasmResult.NotFound;
    case 'metadata': return k.bytes(EMPTY);
    case 'filter_state': {
      const v = s.filterState?.get(rest.length ? `${second}\u0000${rest.join('\u0000')}` : second);
      return v ? k.bytes(v) : WasmResult.NotFound;
    }
  }
  return filterStateProperty(ctx, parts, k);
}

/** An unknown top-level name: a value the filter stored with proxy_set_property (filter state `wasm.<path>`). */
function filterStateProperty(ctx: Context, parts: string[], k: PropertySink): number {
  if (ctx.isRoot) return WasmResult.NotFound;
  const stored = (ctx as StreamContext).filterState?.get(`wasm.${parts.join('\u0000')}`);
  return stored ? k.bytes(stored) : WasmResult.NotFound;
}
