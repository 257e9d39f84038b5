// A minimal etcd v3 client over etcd's own gRPC API (protos/etcd/, transcribed from etcd v3.4.23): unary KV and
// Lease calls with fail-over across the member endpoints, and a Watch stream. No npm etcd client: node_modules is
// shared and @grpc/grpc-js already speaks everything needed. Plaintext, or TLS (server certificate checked against a
// CA, and a client certificate when etcd runs with --client-cert-auth).
//
// Fail-over: one channel per member. A call that ends UNAVAILABLE (connection refused or dropped, or etcd's own
// "no leader" / "leader changed" / "request timed out", which etcd v3.4 maps to codes.Unavailable:
// etcdserver/api/v3rpc/rpctypes/error.go) is tried again on the next member after a short pause, until the call's
// deadline. A retried Txn may therefore have been applied once already: callers make Txns idempotent to check
// (etcd-policy-store.ts compares on revisions and recognises its own write by a write id).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from './protos.ts';
import type { ProtoGrpcType } from './generated/rpc.ts';
import type { KVClient } from './generated/etcdserverpb/KV.ts';
import type { LeaseClient } from './generated/etcdserverpb/Lease.ts';
import type { WatchClient } from './generated/etcdserverpb/Watch.ts';
import type { RangeRequest } from './generated/etcdserverpb/RangeRequest.ts';
import type { RangeResponse__Output } from './generated/etcdserverpb/RangeResponse.ts';
import type { TxnRequest } from './generated/etcdserverpb/TxnRequest.ts';
import type { TxnResponse__Output } from './generated/etcdserverpb/TxnResponse.ts';
import type { LeaseGrantResponse__Output } from './generated/etcdserverpb/LeaseGrantResponse.ts';
import type { WatchResponse__Output } from './generated/etcdserverpb/WatchResponse.ts';
import type { WatchRequest } from './generated/etcdserverpb/WatchRequest.ts';
import type { LeaseKeepAliveRequest } from './generated/etcdserverpb/LeaseKeepAliveRequest.ts';
import type { LeaseKeepAliveResponse__Output } from './generated/etcdserverpb/LeaseKeepAliveResponse.ts';

export type { RangeResponse__Output as RangeResponse } from './generated/etcdserverpb/RangeResponse.ts';
export type { TxnResponse__Output as TxnResponse } from './generated/etcdserverpb/TxnResponse.ts';
export type { WatchResponse__Output as WatchResponse } from './generated/etcdserverpb/WatchResponse.ts';
export type { KeyValue__Output as KeyValue } from './generated/mvccpb/KeyValue.ts';
import type { KeyValue__Output as KeyValue } from './generated/mvccpb/KeyValue.ts';
export type { RequestOp } from './generated/etcdserverpb/RequestOp.ts';
export type { RangeRequest } from './generated/etcdserverpb/RangeRequest.ts';
export type { Compare } from './generated/etcdserverpb/Compare.ts';

const ENDPOINT = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;

/** Parses `host:port,host:port`; refuses anything else with the project's "invalid <thing>" form. */
export function parseEndpoints(value: string, field = 'etcd-endpoints'): string[] {
  const endpoints = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0 || endpoints.length > 16 || !endpoints.every((e) => ENDPOINT.test(e) && Number(e.split(':')[1]) <= 65535)) {
    throw new Error(`invalid flag: --${field} must be 1 to 16 comma-separated host:port endpoints`);
  }
  return endpoints;
}

/** A number as a key part that sorts as the number does (zero-padded to 16 digits). */
export const sortableNumber = (n: number): string => String(n).padStart(16, '0');

/** A key-value's value as UTF-8 text, undefined for an absent key. */
export const valueText = (kv: KeyValue | undefined): string | undefined => (kv ? Buffer.from(kv.value).toString('utf8') : undefined);

/** The end of the key range holding every key that starts with `prefix` (etcd's "prefix" range_end). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) { end[i]++; return end.subarray(0, i + 1); }
  }
  return Buffer.from([0]);
}

let cachedProto: ProtoGrpcType['etcdserverpb'] | undefined;
function etcdProto(): ProtoGrpcType['etcdserverpb'] {
  cachedProto ??= (grpc.loadPackageDefinition(protoLoader.loadSync(['etcd/rpc.proto'], LOADER_OPTIONS)) as unknown as ProtoGrpcType).etcdserverpb;
  return cachedProto;
}

interface Member { endpoint: string; kv: KVClient; lease: LeaseClient; watch: WatchClient }

export interface EtcdClientOptions {
  timeoutMs?: number;          // per call, fail-overs included; default 5 s
  retryPauseMs?: number;       // between attempts; default 100 ms
  tls?: EtcdTls;
}

/** TLS to etcd: the CA its server certificates are checked against (absent: the system's), and our client certificate. */
export interface EtcdTls { ca?: Buffer; cert?: Buffer; key?: Buffer }

export class EtcdError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'EtcdError';
  }
}

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly #members: Member[];
  readonly #timeoutMs: number;
  readonly #retryPauseMs: number;
  #current = 0;
  #closed = false;

  constructor(endpoints: readonly string[], options: EtcdClientOptions = {}) {
    const proto = etcdProto();
    this.endpoints = endpoints;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#retryPauseMs = options.retryPauseMs ?? 100;
    const tls = options.tls;
    const credentials = tls ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
    // Keepalive pings find a member that vanished without closing its connections (a lost node) within seconds.
    const channelOptions = { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 };
    this.#members = endpoints.map((endpoint) => ({
      endpoint,
      kv: new proto.KV(endpoint, credentials, channelOptions),
      lease: new proto.Lease(endpoint, credentials, channelOptions),
      watch: new proto.Watch(endpoint, credentials, channelOptions),
    }));
  }

  range(request: RangeRequest): Promise<RangeResponse__Output> {
    return this.#unary((m, deadline, done) => m.kv.Range(request, { deadline }, done));
  }

  txn(request: TxnRequest): Promise<TxnResponse__Output> {
    return this.#unary((m, deadline, done) => m.kv.Txn(request, { deadline }, done));
  }

  leaseGrant(ttlSeconds: number): Promise<LeaseGrantResponse__Output> {
    return this.#unary((m, deadline, done) => m.lease.LeaseGrant({ TTL: ttlSeconds }, { deadline }, done));
  }

  leaseRevoke(id: string): Promise<unknown> {
    return this.#unary((m, deadline, done) => m.lease.LeaseRevoke({ ID: id }, { deadline }, done));
  }

  /** One keep-alive of a lease (a short-lived stream: one request, one answer). TTL 0 in the answer = lease gone. */
  leaseKeepAliveOnce(id: string): Promise<LeaseKeepAliveResponse__Output> {
    return this.#unary((m, deadline, done) => {
      const call = m.lease.LeaseKeepAlive({ deadline }) as grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse__Output>;
      let answered = false;
      call.on('data', (response) => { answered = true; call.end(); done(null, response); });
      call.on('error', (error) => { if (!answered) done(error as grpc.ServiceError); });
      call.write({ ID: id });
    });
  }

  /**
   * A watch on [key, rangeEnd) from `startRevision`, on one member. `onResponse` gets every response (events,
   * progress, cancel); `onEnd` is called once when the stream ends for any reason: the caller re-syncs and watches
   * again (etcd-policy-store.ts), the next watch going to the next member.
   */
  watch(key: Buffer, rangeEnd: Buffer, startRevision: string, onResponse: (r: WatchResponse__Output) => void, onEnd: (error: Error) => void): { close(): void } {
    const member = this.#members[this.#current];
    const call = member.watch.Watch() as grpc.ClientDuplexStream<WatchRequest, WatchResponse__Output>;
    let ended = false;
    const end = (error: Error) => {
      if (ended) return;
      ended = true;
      this.#advance(member);
      onEnd(error);
    };
    call.on('data', (response) => {
      onResponse(response);
      if (response.canceled) { call.cancel(); end(new Error(`etcd watch canceled: ${response.cancelReason || 'no reason given'}`)); }
    });
    call.on('error', (error) => end(error));
    call.on('end', () => end(new Error('etcd watch stream ended')));
    call.write({ createRequest: { key, rangeEnd, startRevision, progressNotify: true } });
    return { close: () => { ended = true; call.cancel(); } };
  }

  close(): void {
    this.#closed = true;
    for (const m of this.#members) { m.kv.close(); m.lease.close(); m.watch.close(); }
  }

  /** Moves on from `member` when it is still the current one (a concurrent failure may have moved already). */
  #advance(member: Member): void {
    if (this.#members[this.#current] === member) this.#current = (this.#current + 1) % this.#members.length;
  }

  async #unary<T>(call: (member: Member, deadline: Date, done: (error: grpc.ServiceError | null, value?: T) => void) => void): Promise<T> {
    const deadlineMs = Date.now() + this.#timeoutMs;
    let last: grpc.ServiceError | undefined;
    for (;;) {
      if (this.#closed) throw new EtcdError(grpc.status.CANCELLED, 'etcd client closed');
      const member = this.#members[this.#current];
      try {
        return await new Promise<T>((resolve, reject) => call(member, new Date(deadlineMs), (error, value) => (error ? reject(error) : resolve(value as T))));
      } catch (error) {
        last = error as grpc.ServiceError;
        if (last.code !== grpc.status.UNAVAILABLE && last.code !== grpc.status.DEADLINE_EXCEEDED) {
          throw new EtcdError(last.code ?? grpc.status.UNKNOWN, `etcd ${member.endpoint}: ${last.details ?? last.message}`);
        }
        this.#advance(member);
        if (Date.now() + this.#retryPauseMs >= deadlineMs) break;
        await new Promise((resolve) => setTimeout(resolve, this.#retryPauseMs));
      }
    }
    throw new EtcdError(grpc.status.UNAVAILABLE,
      `etcd unreachable at ${this.endpoints.join(',')} (last: ${last?.details ?? last?.message ?? 'no answer'})`);
  }
}
