// proxy_http_call and proxy_grpc_* bridged to real HTTP (node:http) and gRPC (@grpc/grpc-js, raw bytes). As in
// Envoy, every call is attributed to the root context: tokens come from the VM's counters (4k + kind), and
// responses are delivered later on the event loop to the root id, with the response maps/buffer readable only
// during that callback.
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { WasmResult } from './abi-constants.ts';
import { firstValue, type HeaderList } from './headers.ts';
import type { CalloutResponse, RootContext, WasmVm } from './vm.ts';

export interface ClusterConfig {
  address: string;
  /**
   * Every endpoint of the cluster when it has several (address is then the first): each gRPC call or stream picks
   * the next one, round robin, as Envoy's default ROUND_ROBIN load balancer does for an async client's requests
   * (envoyproxy/envoy v1.36.0 source/extensions/load_balancing_policies/round_robin/round_robin_lb.h,
   * unweightedHostPick: (index++) % hosts). Without health checking or outlier detection Envoy keeps picking a dead
   * endpoint in its turn: that stream fails UNAVAILABLE (the router's connect failure, source/common/grpc/
   * async_client_impl.cc) and the filter's reconnect takes the next one.
   */
  endpoints?: readonly string[];
}

const TOKEN_HTTP = 0, TOKEN_GRPC_CALL = 1, TOKEN_GRPC_STREAM = 2;
const identity = (b: Buffer) => b;

/** Parses bytes as envoy.config.core.v3.GrpcService; undefined when they are not a valid message. */
export function parseGrpcService(bytes: Uint8Array): { cluster?: string; target?: string } | undefined {
  const fields = readFields(bytes);
  if (!fields || fields.length === 0) return undefined;
  const out: { cluster?: string; target?: string } = {};
  for (const [num, value] of fields) {
    if (!(value instanceof Uint8Array)) continue;
    const inner = readFields(value);
    if (!inner) return undefined;
    const first = inner.find(([n]) => n === 1)?.[1];
    if (num === 1 && first instanceof Uint8Array) out.cluster = Buffer.from(first).toString('utf8');
    if (num === 2 && first instanceof Uint8Array) out.target = Buffer.from(first).toString('utf8');
  }
  return out.cluster !== undefined || out.target !== undefined ? out : undefined;
}

function readFields(b: Uint8Array): [number, Uint8Array | number][] | undefined {
  const out: [number, Uint8Array | number][] = [];
  let i = 0;
  const varint = (): number | undefined => {
    let r = 0, s = 0;
    for (;;) {
      if (i >= b.length || s > 63) return undefined;
      const x = b[i++];
      r += (x & 0x7f) * 2 ** s;
      s += 7;
      if (!(x & 0x80)) return r;
    }
  };
  while (i < b.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const num = Math.floor(key / 8), wire = key & 7;
    if (num === 0) return undefined;
    if (wire === 0) { const v = varint(); if (v === undefined) return undefined; out.push([num, v]); }
    else if (wire === 2) {
      const n = varint();
      if (n === undefined || i + n > b.length) return undefined;
      out.push([num, b.subarray(i, i + n)]);
      i += n;
    } else if (wire === 1) { if (i + 8 > b.length) return undefined; i += 8; }
    else if (wire === 5) { if (i + 4 > b.length) return undefined; i += 4; }
    else return undefined;
  }
  return out;
}

function metadataToPairs(md: grpc.Metadata | undefined): HeaderList {
  if (!md) return [];
  const out: HeaderList = [];
  for (const [k, v] of Object.entries(md.toJSON())) for (const x of v) out.push([k, Buffer.isBuffer(x) ? x.toString('base64') : String(x)]);
  return out;
}
function pairsToMetadata(pairs: HeaderList): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of pairs) {
    try { md.add(k.toLowerCase(), v); } catch { /* reserved names are Envoy's to set */ }
  }
  return md;
}

export class CalloutBridge {
  private readonly grpcClients = new Map<string, grpc.Client>();
  private readonly roundRobin = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private closed = false;

  constructor(private readonly clusters: Record<string, ClusterConfig>) {}

  private allocateToken(vm: WasmVm, kind: number): number {
    vm.tokenCounters[kind] += 4;
    return vm.tokenCounters[kind] >>> 0;
  }

  /** Runs a response callback on the root, unless the call was cancelled or the VM is gone/failed. */
  private deliver(vm: WasmVm, root: RootContext, token: number, keep: boolean, response: CalloutResponse, call: (vm: WasmVm) => void): void {
    if (this.closed || vm.failed || vm.root !== root || !vm.callouts.has(token)) return;
    if (!keep) vm.callouts.delete(token);
    vm.callout = response;
    try { call(vm); } finally { vm.callout = undefined; }
  }

  httpCall(vm: WasmVm, root: RootContext, cluster: string, headers: HeaderList, body: Uint8Array, trailers: HeaderList,
    timeoutMs: number, tokenP: number): number {
    if (!vm.writeU32(tokenP, 0)) return WasmResult.InvalidMemoryAccess;
    const target = this.clusters[cluster];
    if (!target) return WasmResult.BadArgument;
    const path = firstValue(headers, ':path'), method = firstValue(headers, ':method'), authority = firstValue(headers, ':authority');
    if (!path || !method || !authority) return WasmResult.BadArgument;
    if (timeoutMs < 0) return WasmResult.BadArgument;
    const token = this.allocateToken(vm, TOKEN_HTTP);
    const [host, port] = splitAddress(target.address);
    const outHeaders: Record<string, string | string[]> = { host: authority };
    for (const [k, v] of headers) if (!k.startsWith(':')) outHeaders[k] = v;
    if (body.length > 0) outHeaders['content-length'] = String(body.length);
    if (trailers.length > 0) { outHeaders['transfer-encoding'] = 'chunked'; delete outHeaders['content-length']; }
    let finished = false;
    const finish = (response: CalloutResponse | undefined) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.deliver(vm, root, token, false, response ?? {}, (v) => {
        if (!response) { root.statusCode = WasmResult.BrokenConnection; root.statusMessage = 'reset'; }
        else { root.statusCode = 0; root.statusMessage = ''; }
        const nh = response?.headers?.length ?? 0, nb = response?.body?.length ?? 0, nt = response?.trailers?.length ?? 0;
        v.invoke(root, v.exports.proxy_on_http_call_response, 'proxy_on_http_call_response', root.id, token, nh, nb, nt);
      });
    };
    const localReply = (status: number, text: string): CalloutResponse => ({
      headers: [[':status', String(status)], ['content-length', String(Buffer.byteLength(text))], ['content-type', 'text/plain']],
      body: Buffer.from(text), trailers: [],
    });
    const req = http.request({ host, port, method, path, headers: outHeaders, agent: this.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: HeaderList = [[':status', String(res.statusCode ?? 0)]];
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        const t: HeaderList = [];
        for (let i = 0; i < res.rawTrailers.length; i += 2) t.push([res.rawTrailers[i].toLowerCase(), res.rawTrailers[i + 1]]);
        finish({ headers: h, body: Buffer.concat(chunks), trailers: t });
      });
      res.on('error', () => finish(undefined));
      res.on('aborted', () => finish(undefined));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (finished) return;
      // Envoy's router answers a connect failure with its own 503; a reset after that is a call failure.
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENOTFOUND') {
        finish(localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure'));
      } else finish(undefined);
    });
    const timer = timeoutMs > 0 ? setTimeout(() => {
      finish(localReply(504, 'upstream request timeout'));
      req.destroy();
    }, timeoutMs) : undefined;
    if (body.length > 0) req.write(body);
    if (trailers.length > 0) req.addTrailers(Object.fromEntries(trailers));
    req.end();
    vm.callouts.set(token, { kind: TOKEN_HTTP, cancel: () => { finished = true; clearTimeout(timer); req.destroy(); } });
    return vm.writeU32(tokenP, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  private resolveGrpcTarget(service: Uint8Array): string | undefined {
    const parsed = parseGrpcService(service);
    if (parsed?.target) return parsed.target;
    const cluster = parsed?.cluster ?? Buffer.from(service).toString('utf8');
    const config = this.clusters[cluster];
    if (!config?.endpoints || config.endpoints.length === 0) return config?.address;
    const next = this.roundRobin.get(cluster) ?? 0;
    this.roundRobin.set(cluster, next + 1);
    return config.endpoints[next % config.endpoints.length];
  }
  private client(address: string): grpc.Client {
    let c = this.grpcClients.get(address);
    if (!c) {
      c = new grpc.Client(address, grpc.credentials.createInsecure());
      this.grpcClients.set(address, c);
    }
    return c;
  }

  grpcCall(vm: WasmVm, root: RootContext, service: Uint8Array, serviceName: string, method: string, md: HeaderList,
    message: Uint8Array, timeoutMs: number, tokenP: number): number {
    const address = this.resolveGrpcTarget(service);
    if (!address) return WasmResult.ParseFailure;
    if (!vm.inBounds(tokenP >>> 0, 4)) return WasmResult.InvalidMemoryAccess;
    const token = this.allocateToken(vm, TOKEN_GRPC_CALL);
    const options: grpc.CallOptions = timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
    const call = this.client(address).makeUnaryRequest(`/${serviceName}/${method}`, identity, identity, Buffer.from(message),
      pairsToMetadata(md), options, (err, value) => {
        if (err) {
          this.deliver(vm, root, token, false, {}, (v) => {
            root.statusCode = err.code ?? 2;
            root.statusMessage = err.details ?? err.message;
            v.invoke(root, v.exports.proxy_on_grpc_close, 'proxy_on_grpc_close', root.id, token, err.code ?? 2);
          });
          return;
        }
        const body = value ?? Buffer.alloc(0);
        this.deliver(vm, root, token, false, { body }, (v) => {
          v.invoke(root, v.exports.proxy_on_grpc_receive, 'proxy_on_grpc_receive', root.id, token, body.length);
        });
      });
    vm.callouts.set(token, { kind: TOKEN_GRPC_CALL, cancel: () => call.cancel() });
    vm.writeU32(tokenP, token);
    return WasmResult.Ok;
  }

  grpcStream(vm: WasmVm, root: RootContext, service: Uint8Array, serviceName: string, method: string, md: HeaderList,
    tokenP: number): number {
    const address = this.resolveGrpcTarget(service);
    if (!address) return WasmResult.ParseFailure;
    if (!vm.inBounds(tokenP >>> 0, 4)) return WasmResult.InvalidMemoryAccess;
    const token = this.allocateToken(vm, TOKEN_GRPC_STREAM);
    const call = this.client(address).makeBidiStreamRequest(`/${serviceName}/${method}`, identity, identity, pairsToMetadata(md), {});
    let localClosed = false;
    call.on('metadata', (m: grpc.Metadata) => {
      const initialMetadata = metadataToPairs(m);
      this.deliver(vm, root, token, true, { initialMetadata }, (v) => {
        v.invoke(root, v.exports.proxy_on_grpc_receive_initial_metadata, 'proxy_on_grpc_receive_initial_metadata', root.id, token, initialMetadata.length);
      });
    });
    call.on('data', (body: Buffer) => {
      this.deliver(vm, root, token, true, { body }, (v) => {
        v.invoke(root, v.exports.proxy_on_grpc_receive, 'proxy_on_grpc_receive', root.id, token, body.length);
      });
    });
    call.on('error', () => { /* the status event carries the outcome */ });
    call.on('status', (status: grpc.StatusObject) => {
      const trailingMetadata = metadataToPairs(status.metadata);
      this.deliver(vm, root, token, true, { trailingMetadata }, (v) => {
        v.invoke(root, v.exports.proxy_on_grpc_receive_trailing_metadata, 'proxy_on_grpc_receive_trailing_metadata', root.id, token, trailingMetadata.length);
      });
      this.deliver(vm, root, token, false, {}, (v) => {
        root.statusCode = status.code;
        root.statusMessage = status.details;
        v.invoke(root, v.exports.proxy_on_grpc_close, 'proxy_on_grpc_close', root.id, token, status.code);
      });
    });
    vm.callouts.set(token, {
      kind: TOKEN_GRPC_STREAM,
      cancel: () => call.cancel(),
      send: (msg, end) => {
        if (localClosed) return false;
        call.write(Buffer.from(msg));
        if (end) { localClosed = true; call.end(); }
        return true;
      },
      close: () => { if (!localClosed) { localClosed = true; call.end(); } },
    });
    vm.writeU32(tokenP, token);
    return WasmResult.Ok;
  }

  close(): void {
    this.closed = true;
    for (const c of this.grpcClients.values()) c.close();
    this.grpcClients.clear();
    this.agent.destroy();
  }
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`invalid cluster address: ${address} must be host:port`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}
