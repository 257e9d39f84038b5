// Many discovery streams that behave as filter VMs do around a control-plane restart: ACK every response, and when
// a stream ends reconnect after the delay the filter's own backoff (filter/assembly/control/backoff.ts, through the
// control harness, one seed per VM) draws, resetting it on every good response. Used by the 1,000-stream restart
// test and by bench:control-plane's reconverge_after_restart_ms.
//
// Each stream speaks gRPC over its own HTTP/2 connection framed by hand (h2-stream.ts) rather than through a grpc-js
// Client or a node:http2 session: a grpc-js channel per reconnect (resolver, load balancer, subchannel, call stack)
// cost ~1.5 ms of CPU and a node:http2 session ~0.5-0.8 ms, against ~0.7 ms the control plane spends on the same
// stream, and it ran on the machine the control plane is measured on. Envoy's side of a stream costs the control
// plane nothing, so the simulated side should cost it as little as possible.
import { performance } from 'node:perf_hooks';
import { messageType } from '../../control-plane/src/protos.ts';
import { loadControlHarness } from '../filter-control/load-harness.ts';
import { H2GrpcStream, requestHeaderBlock } from './h2-stream.ts';

const PATH = '/meshlens.v1.PolicyDiscovery/StreamPolicies';

/**
 * How a (re)connect chooses among several addresses (control-plane replicas):
 * - 'round-robin': the next address after the previous pick, starting at the stream's index, as Envoy's ROUND_ROBIN
 *   picks for a cluster that lists the replicas (envoy v1.36.0 source/extensions/load_balancing_policies/round_robin/
 *   round_robin_lb.h: hosts[rr_index++ % size], rr_index seeded at random). Every stream of a killed replica then
 *   moves to the same next replica.
 * - 'random': uniform per connection, as the shipped deployment gets it: istio/base's cluster is STRICT_DNS on the
 *   Service name, i.e. one ClusterIP, and kube-proxy's iptables rules send each new connection to a random endpoint
 *   of the Service. A killed replica stays pickable (its port refuses) as it does until its endpoint is removed.
 */
export type Pick = 'round-robin' | 'random';

export class ReconnectingStreams {
  readonly #streams = new Map<number, H2GrpcStream>();
  readonly #headerBlocks = new Map<string, Buffer>();
  readonly #acked = new Map<number, { version: string; atMs: number }>();
  /** Wall-clock time of each stream's latest (re)connect attempt. */
  readonly attempts = new Map<number, number>();
  /** Wall-clock time each stream's latest connection was up (TCP and the HTTP/2 preface done). */
  readonly connected = new Map<number, number>();
  /** Wall-clock time each stream's latest attempt ended (seen here: the drop, refusal or close). */
  readonly ended = new Map<number, number>();
  /**
   * Wall-clock time each stream's next attempt was due (end + the backoff's delay): an attempt that starts later
   * than this waited for this process's event loop, not for the filter's backoff or the control plane.
   */
  readonly due = new Map<number, number>();
  /** Wall-clock time of the first response on each stream's latest attempt. */
  readonly responded = new Map<number, number>();
  /** The address each stream's latest good response came from (several addresses: the replica it is on). */
  readonly connectedTo = new Map<number, string>();
  /** How streams ended, by gRPC status: what a restart looked like from the VMs' side. */
  readonly statuses = new Map<string, number>();
  readonly #requestType = messageType('DiscoveryRequest');
  readonly #responseType = messageType('DiscoveryResponse');
  #closed = false;
  readonly #picks = new Map<number, number>();

  private constructor(private readonly addresses: readonly string[], private readonly token: string, private readonly delays: Float64Array[],
    private readonly prefix: string, private readonly pick: Pick) {}

  /**
   * Opens `count` streams, each on its own HTTP/2 connection as each Envoy worker's VM has, and each reconnect on a
   * fresh connection, as Envoy connects to the cluster when the stream starts.
   */
  static async open(address: string | readonly string[], token: string, count: number, prefix: string, seedBase = 1, pick: Pick = 'round-robin'): Promise<ReconnectingStreams> {
    const h = await loadControlHarness();
    const delays = Array.from({ length: count }, (_, i) => h.backoffDelays(BigInt(seedBase + i), 64) as Float64Array);
    const streams = new ReconnectingStreams(typeof address === 'string' ? [address] : address, token, delays, prefix, pick);
    for (let i = 0; i < count; i++) streams.#connect(i, 0);
    return streams;
  }

  #connect(i: number, attempt: number): void {
    if (this.#closed) return;
    this.#streams.get(i)?.destroy();
    // Several addresses (control-plane replicas): see Pick.
    let address: string;
    if (this.pick === 'round-robin') {
      const pick = this.#picks.get(i) ?? i;
      this.#picks.set(i, pick + 1);
      address = this.addresses[pick % this.addresses.length];
    } else {
      // A per-stream LCG (Numerical Recipes constants) seeded by the stream: deterministic runs, independent streams.
      const state = (Math.imul(this.#picks.get(i) ?? (i * 2654435761) >>> 0, 1664525) + 1013904223) >>> 0;
      this.#picks.set(i, state);
      address = this.addresses[Math.floor((state / 2 ** 32) * this.addresses.length)];
    }
    this.attempts.set(i, performance.timeOrigin + performance.now());
    let failures = attempt;
    let responded = false;
    const last = this.#acked.get(i)?.version ?? '';
    const first = this.#requestType.encode({ node: { id: `${this.prefix}-${i}`, worker: 'main' }, versionInfo: last }).finish();
    let block = this.#headerBlocks.get(address);
    if (!block) this.#headerBlocks.set(address, (block = requestHeaderBlock(address, PATH, this.token)));
    const stream: H2GrpcStream = new H2GrpcStream(address, block, first, {
      connected: () => this.connected.set(i, performance.timeOrigin + performance.now()),
      message: (bytes) => {
        const response = this.#responseType.decode(bytes) as unknown as { versionInfo: string; nonce: string };
        if (!responded) { responded = true; this.responded.set(i, performance.timeOrigin + performance.now()); }
        failures = 0;                                    // a good response resets the backoff, as in the filter
        stream.write(this.#requestType.encode({ versionInfo: response.versionInfo, responseNonce: response.nonce }).finish());
        this.#acked.set(i, { version: response.versionInfo, atMs: performance.timeOrigin + performance.now() });
        this.connectedTo.set(i, address);
      },
      // Once per attempt, whichever way it ends: the status it ended with is counted and the next attempt scheduled.
      ended: (code, details) => {
        const endedAt = performance.timeOrigin + performance.now();
        this.ended.set(i, endedAt);
        const key = `${code} ${details.slice(0, 60)}`;
        this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
        if (this.#closed) return;
        const delay = this.delays[i][Math.min(failures, this.delays[i].length - 1)];
        this.due.set(i, endedAt + delay);
        setTimeout(() => this.#connect(i, failures + 1), delay);
      },
    });
    this.#streams.set(i, stream);
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
    for (const stream of this.#streams.values()) stream.destroy();
  }
}
