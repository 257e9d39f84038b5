// Many discovery streams that behave as filter VMs do around a control-plane restart: ACK every response, and when
// a stream ends reconnect after the delay the filter's own backoff (filter/assembly/control/backoff.ts, through the
// control harness, one seed per VM) draws, resetting it on every good response. Used by the 1,000-stream restart
// test and by bench:control-plane's reconverge_after_restart_ms.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { messageType } from '../../control-plane/src/protos.ts';
import { loadControlHarness } from '../filter-control/load-harness.ts';

export class ReconnectingStreams {
  readonly #clients = new Map<number, grpc.Client>();
  readonly #calls = new Set<grpc.ClientDuplexStream<Uint8Array, Buffer>>();
  readonly #acked = new Map<number, { version: string; atMs: number }>();
  /** Wall-clock time of each stream's latest (re)connect attempt. */
  readonly attempts = new Map<number, number>();
  /** The address each stream's latest good response came from (several addresses: the replica it is on). */
  readonly connectedTo = new Map<number, string>();
  /** How streams ended, by gRPC status: what a restart looked like from the VMs' side. */
  readonly statuses = new Map<string, number>();
  #closed = false;

  readonly #picks = new Map<number, number>();

  private constructor(private readonly addresses: readonly string[], private readonly token: string, private readonly delays: Float64Array[], private readonly prefix: string) {}

  /**
   * Opens `count` streams, each on its own HTTP/2 connection as each Envoy worker's VM has, and each reconnect on a
   * fresh connection: Envoy connects to the cluster when the stream starts, whereas a reused grpc-js channel would
   * add its own sticky reconnect backoff (TRANSIENT_FAILURE) on top of the filter's.
   */
  static async open(address: string | readonly string[], token: string, count: number, prefix: string, seedBase = 1): Promise<ReconnectingStreams> {
    const h = await loadControlHarness();
    const delays = Array.from({ length: count }, (_, i) => h.backoffDelays(BigInt(seedBase + i), 64) as Float64Array);
    const streams = new ReconnectingStreams(typeof address === 'string' ? [address] : address, token, delays, prefix);
    for (let i = 0; i < count; i++) streams.#connect(i, 0);
    return streams;
  }

  #connect(i: number, attempt: number): void {
    if (this.#closed) return;
    const requestType = messageType('DiscoveryRequest');
    const responseType = messageType('DiscoveryResponse');
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    this.#clients.get(i)?.close();
    // Several addresses (control-plane replicas): each (re)connect takes the next, as Envoy's round robin does.
    const pick = this.#picks.get(i) ?? i;
    this.#picks.set(i, pick + 1);
    const address = this.addresses[pick % this.addresses.length];
    const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    this.#clients.set(i, client);
    const call = client.makeBidiStreamRequest('/meshlens.v1.PolicyDiscovery/StreamPolicies',
      (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, metadata, { waitForReady: false } as grpc.CallOptions);
    this.#calls.add(call);
    this.attempts.set(i, performance.timeOrigin + performance.now());
    let failures = attempt;
    call.on('data', (bytes: Buffer) => {
      const response = responseType.decode(bytes) as unknown as { versionInfo: string; nonce: string };
      failures = 0;                                    // a good response resets the backoff, as in the filter
      call.write(requestType.encode({ versionInfo: response.versionInfo, responseNonce: response.nonce }).finish());
      this.#acked.set(i, { version: response.versionInfo, atMs: performance.timeOrigin + performance.now() });
      this.connectedTo.set(i, address);
    });
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      const key = `${status.code} ${status.details.slice(0, 60)}`;
      this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
      this.#calls.delete(call);
      const delay = this.delays[i][Math.min(failures, this.delays[i].length - 1)];
      setTimeout(() => this.#connect(i, failures + 1), delay);
    });
    const last = this.#acked.get(i)?.version ?? '';
    call.write(requestType.encode({ node: { id: `${this.prefix}-${i}`, worker: 'main' }, versionInfo: last }).finish());
  }

  /** Latest ACK of stream i: its version, wall-clock time and the address it came through. */
  lastAck(i: number): { version: string; atMs: number; address: string } | undefined {
    const acked = this.#acked.get(i);
    return acked && { ...acked, address: this.connectedTo.get(i)! };
  }

  get size(): number {
    return this.delays.length;
  }

  /** Wall-clock times (ms) at which each stream ACKed `version`, once all have; undefined while some have not. */
  ackTimes(version: string): number[] | undefined {
    const times: number[] = [];
    for (let i = 0; i < this.delays.length; i++) {
      const acked = this.#acked.get(i);
      if (acked?.version !== version) return undefined;
      times.push(acked.atMs);
    }
    return times;
  }

  close(): void {
    this.#closed = true;
    for (const call of this.#calls) call.cancel();
    for (const client of this.#clients.values()) client.close();
  }
}
