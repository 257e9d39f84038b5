// What every upstream connection pool shares: the request/response shapes, Envoy's reset reasons as failures, and
// per-host counters for /clusters.
import type { Readable, Writable } from 'node:stream';
import type { UpstreamResetReason } from './retry-state.ts';
import type { BodySource } from './request-body.ts';

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: [string, string][]; // regular headers only, plus "host"
  /** A whole body, or the downstream body streamed as it arrives. */
  body: Buffer | BodySource;
}

/** Sends a request body into an upstream stream: a Buffer at once, a streamed body as it arrives. */
export function writeBody(body: Buffer | BodySource, dest: Writable): void {
  if (Buffer.isBuffer(body)) dest.end(body);
  else body.pipeTo(dest);
}

export interface UpstreamResponse {
  status: number;
  headers: [string, string][]; // lower-cased names, in arrival order
  body: Readable;
  /** True once the whole body (and trailers) arrived. */
  isComplete(): boolean;
  /** Trailers received so far, lower-cased names. */
  trailers(): [string, string][];
  upstreamAddress: string;
  upstreamLocalAddress: string;
}

/** One upstream host's connection pool, HTTP/1.1 or HTTP/2. */
export interface Endpoint {
  readonly address: string;
  readonly stats: EndpointStats;
  send(request: UpstreamRequest): PendingAttempt;
  close(): void;
}

export function headerPairs(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return pairs;
}

export class UpstreamFailure extends Error {
  constructor(
    readonly reason: UpstreamResetReason,
    readonly transportFailureReason: string,
    readonly upstreamAddress: string,
    readonly upstreamLocalAddress: string | undefined,
  ) {
    super(`upstream ${upstreamAddress}: ${reason}${transportFailureReason ? `, ${transportFailureReason}` : ''}`);
  }
}

export interface PendingAttempt {
  response: Promise<UpstreamResponse>;
  /** Resets the stream (Envoy's LocalReset): the connection is closed, not returned to the pool. */
  reset(): void;
}

export interface EndpointStats {
  address: string;
  cxTotal: number;
  cxActive: number;
  cxConnectFail: number;
  rqTotal: number;
  rqSuccess: number;
  rqError: number;
  rqTimeout: number;
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`invalid endpoint: ${JSON.stringify(endpoint)} must be host:port`);
  }
  return { host: endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

export function socketAddress(address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined || port === undefined) return undefined;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function emptyStats(address: string): EndpointStats {
  return { address, cxTotal: 0, cxActive: 0, cxConnectFail: 0, rqTotal: 0, rqSuccess: 0, rqError: 0, rqTimeout: 0 };
}
