// A cluster's hosts, picked round-robin, each with its own connection pool like Envoy's per-host pools. HTTP/1.1
// hosts keep idle keep-alive connections: a request takes one or opens one (bounded by the connect timeout), so
// upstream.local_address names a real socket that later requests reuse. Failures carry Envoy's reset reasons.
import http from 'node:http';
import type { Socket } from 'node:net';
import {
  UpstreamFailure, emptyStats, headerPairs, parseEndpoint, socketAddress, writeBody,
  type Endpoint, type EndpointStats, type PendingAttempt, type UpstreamRequest, type UpstreamResponse,
} from './upstream-endpoint.ts';
import { Http2Endpoint } from './upstream-h2.ts';

export {
  UpstreamFailure, parseEndpoint,
  type EndpointStats, type PendingAttempt, type UpstreamRequest, type UpstreamResponse,
} from './upstream-endpoint.ts';

export interface ClusterConfig {
  endpoints: string[];
  connectTimeoutMs?: number; // Envoy cluster connect_timeout, default 5 s
  kind?: 'http' | 'grpc'; // grpc: HTTP/2 (prior knowledge, one multiplexed connection per host) like Envoy
  /** Envoy cluster circuit_breakers thresholds; max_retries (concurrent retries) defaults to 3. */
  circuitBreakers?: { maxRetries?: number };
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
// Envoy's default circuit-breaker max_connections per cluster.
const MAX_CONNECTIONS = 1024;

class Http1Endpoint implements Endpoint {
  readonly stats: EndpointStats;
  private readonly agent: http.Agent;
  private readonly target: { host: string; port: number };
  private readonly sockets = new Set<Socket>();

  constructor(readonly address: string, private readonly connectTimeoutMs: number) {
    this.target = parseEndpoint(address);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, scheduling: 'lifo' });
    this.stats = emptyStats(address);
  }

  send(request: UpstreamRequest): PendingAttempt {
    this.stats.rqTotal++;
    let connected = false;
    let localAddress: string | undefined;
    let connectTimedOut = false;
    let resetLocally = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const outgoing = http.request({
      agent: this.agent,
      host: this.target.host,
      port: this.target.port,
      method: request.method,
      path: request.path,
      // Raw [name, value, name, value…] form keeps repeated headers and their order, as Envoy's codec does.
      // A streamed body keeps the downstream framing: its Content-Length, or chunked when it had none.
      headers: (Buffer.isBuffer(request.body)
        ? request.headers.concat([['content-length', String(request.body.length)]])
        : request.body.contentLength !== undefined
          ? request.headers.concat([['content-length', String(request.body.contentLength)]])
          : request.headers).flat(),
      setHost: false,
    });
    const onConnected = (socket: Socket): void => {
      connected = true;
      localAddress = socketAddress(socket.localAddress, socket.localPort);
      if (connectTimer) clearTimeout(connectTimer);
    };
    outgoing.on('socket', (socket: Socket) => {
      if (!this.sockets.has(socket)) {
        this.sockets.add(socket);
        this.stats.cxTotal++;
        this.stats.cxActive++;
        socket.once('close', () => {
          this.sockets.delete(socket);
          this.stats.cxActive--;
        });
      }
      if (socket.connecting) {
        connectTimer = setTimeout(() => {
          connectTimedOut = true;
          outgoing.destroy();
        }, this.connectTimeoutMs);
        socket.once('connect', () => onConnected(socket));
      } else {
        onConnected(socket);
      }
    });
    const response = new Promise<UpstreamResponse>((resolve, reject) => {
      outgoing.on('response', (message) => {
        if ((message.statusCode ?? 0) >= 500) this.stats.rqError++;
        else this.stats.rqSuccess++;
        resolve({
          status: message.statusCode ?? 0,
          headers: headerPairs(message.rawHeaders),
          body: message,
          isComplete: () => message.complete,
          trailers: () => headerPairs(message.rawTrailers),
          upstreamAddress: this.address,
          upstreamLocalAddress: localAddress ?? '',
        });
      });
      outgoing.on('error', (err: NodeJS.ErrnoException) => {
        if (connectTimer) clearTimeout(connectTimer);
        this.stats.rqError++;
        reject(this.classify(err, { connected, connectTimedOut, resetLocally, localAddress }));
      });
    });
    writeBody(request.body, outgoing);
    return {
      response,
      reset: () => {
        resetLocally = true;
        outgoing.destroy();
      },
    };
  }

  private classify(
    err: NodeJS.ErrnoException,
    state: { connected: boolean; connectTimedOut: boolean; resetLocally: boolean; localAddress?: string },
  ): UpstreamFailure {
    if (state.resetLocally) return new UpstreamFailure('local reset', '', this.address, state.localAddress);
    if (state.connectTimedOut) {
      this.stats.cxConnectFail++;
      return new UpstreamFailure('connection timeout', '', this.address, undefined);
    }
    if (!state.connected) {
      this.stats.cxConnectFail++;
      return new UpstreamFailure('remote connection failure', `delayed connect error: ${err.code ?? err.message}`, this.address, undefined);
    }
    return new UpstreamFailure('connection termination', '', this.address, state.localAddress);
  }

  close(): void {
    this.agent.destroy();
    for (const socket of this.sockets) socket.destroy();
  }
}

export class ClusterPool {
  private readonly endpoints: Endpoint[];
  private nextIndex = 0;
  private readonly maxRetries: number;
  private activeRetries = 0;
  retryOverflows = 0;

  constructor(readonly name: string, readonly config: ClusterConfig) {
    const connectTimeoutMs = config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!(connectTimeoutMs > 0)) throw new Error(`invalid cluster: ${name}.connectTimeoutMs must be > 0`);
    this.maxRetries = config.circuitBreakers?.maxRetries ?? 3;
    if (!(Number.isInteger(this.maxRetries) && this.maxRetries >= 0)) {
      throw new Error(`invalid cluster: ${name}.circuitBreakers.maxRetries must be an integer >= 0`);
    }
    // Envoy speaks HTTP/2 to gRPC clusters (http2_protocol_options) and HTTP/1.1 otherwise.
    this.endpoints = config.endpoints.map((address) =>
      config.kind === 'grpc' ? new Http2Endpoint(address, connectTimeoutMs) : new Http1Endpoint(address, connectTimeoutMs));
  }

  /**
   * The retries resource of Envoy's cluster circuit breaker: a request holds one slot from the moment a retry is
   * granted until its retried attempt is decided (or the request ends). Returns the release, or undefined on overflow.
   */
  tryAcquireRetry(): (() => void) | undefined {
    if (this.activeRetries >= this.maxRetries) {
      this.retryOverflows++;
      return undefined;
    }
    this.activeRetries++;
    let released = false;
    return () => {
      if (!released) this.activeRetries--;
      released = true;
    };
  }

  /**
   * Round-robin host choice with Envoy's retry host predicate loop: a host the predicate rejects is re-picked up to
   * `maxSelectionRetries` more times, then the last pick is used anyway. Undefined when the cluster has no hosts.
   */
  pickEndpoint(reject: (address: string) => boolean = () => false, maxSelectionRetries = 0): string | undefined {
    if (this.endpoints.length === 0) return undefined;
    let picked = '';
    for (let i = 0; i <= maxSelectionRetries; i++) {
      picked = this.endpoints[this.nextIndex++ % this.endpoints.length]!.address;
      if (!reject(picked)) break;
    }
    return picked;
  }

  send(address: string, request: UpstreamRequest): PendingAttempt {
    const endpoint = this.endpoints.find((e) => e.address === address);
    if (!endpoint) throw new Error(`invalid endpoint: ${address} must belong to cluster ${this.name}`);
    return endpoint.send(request);
  }

  recordTimeout(address: string): void {
    const endpoint = this.endpoints.find((e) => e.address === address);
    if (endpoint) endpoint.stats.rqTimeout++;
  }

  endpointStats(): EndpointStats[] {
    return this.endpoints.map((e) => ({ ...e.stats }));
  }

  close(): void {
    for (const endpoint of this.endpoints) endpoint.close();
  }
}
