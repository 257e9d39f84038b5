// Shared fixtures for control-plane tests: a control plane on 127.0.0.1:0 with a temp data dir, a raw discovery
// stream client speaking the protocol of discovery.proto with protobufjs-encoded bytes, and an HTTP admin client.
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { CONVERSION_OPTIONS, messageType } from '../../control-plane/src/protos.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../control-plane/src/server.ts';
import type { CommitConfirmed } from '../../control-plane/src/commit-confirmed.ts';
import type { SqliteConfirmations } from '../../control-plane/src/confirmation-store.ts';

export interface TestPlane extends Omit<ControlPlane, 'confirmations'> {
  confirmations: CommitConfirmed<SqliteConfirmations>;   // test planes run the SQLite store: list() answers synchronously
  dataDir: string;
  adminToken: string;
  proxyToken: string;
  clock: { now: number };
  stop(): Promise<void>;
}

export async function startTestPlane(options: ControlPlaneOptions & { dataDir?: string; keepDataDir?: boolean } = {}): Promise<TestPlane> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'meshlens-cp-'));
  const clock = { now: 1_800_000_000_000 };
  const plane = await startControlPlane({
    grpcHost: '127.0.0.1', httpHost: '127.0.0.1', grpcPort: 0, httpPort: 0, logger: silentLogger,
    registry: new Registry(), processMetrics: false, now: () => clock.now, ...options, dataDir,
  });
  const confirmations = plane.confirmations.sqlite();
  if (!confirmations) throw new Error('startTestPlane: the sqlite store must keep its confirmations in SQLite');
  return {
    ...plane, confirmations, dataDir, clock,
    adminToken: Object.values(plane.tokens.admin)[0], proxyToken: plane.tokens.proxy,
    async stop() {
      await plane.close();
      if (!options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const bearer = (token: string) => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
};

export interface DecodedResponse { versionInfo: string; nonce: string; resources: { id: string; version: string; policy: any }[] }

/** A filter VM's discovery stream: encodes DiscoveryRequests and decodes DiscoveryResponses by hand. */
export class DiscoveryStream {
  readonly responses: DecodedResponse[] = [];
  readonly status: Promise<grpc.StatusObject>;
  #waiters: ((response: DecodedResponse) => void)[] = [];
  #call: grpc.ClientDuplexStream<Uint8Array, Buffer>;

  constructor(readonly client: grpc.Client, token: string | null) {
    const requestType = messageType('DiscoveryRequest');
    const responseType = messageType('DiscoveryResponse');
    this.#call = client.makeBidiStreamRequest(
      '/meshlens.v1.PolicyDiscovery/StreamPolicies',
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => bytes,
      token === null ? new grpc.Metadata() : bearer(token),
    );
    this.#requestType = requestType;
    this.status = new Promise((resolve) => this.#call.on('status', resolve));
    this.#call.on('error', () => {});
    this.#call.on('data', (bytes: Buffer) => {
      const response = responseType.toObject(responseType.decode(bytes), CONVERSION_OPTIONS) as DecodedResponse;
      const waiter = this.#waiters.shift();
      if (waiter) waiter(response);
      else this.responses.push(response);
    });
  }
  #requestType: ReturnType<typeof messageType>;

  send(request: Record<string, unknown>): void {
    this.#call.write(this.#requestType.encode(this.#requestType.fromObject(request)).finish());
  }

  sendRaw(bytes: Uint8Array): void {
    this.#call.write(bytes);
  }

  next(): Promise<DecodedResponse> {
    const queued = this.responses.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  ack(response: DecodedResponse): void {
    this.send({ versionInfo: response.versionInfo, responseNonce: response.nonce });
  }

  end(): void {
    this.#call.end();
  }

  cancel(): void {
    this.#call.cancel();
  }
}

export function rawClient(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** Races a promise against a deadline so a hung protocol fails the test instead of the runner timeout. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); }),
  ]);
}

export async function http(port: number, method: string, path: string, options: { token?: string | null; body?: unknown; rawBody?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) { body = JSON.stringify(options.body); headers['content-type'] = 'application/json'; }
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  const text = await response.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, json, text };
}

/** Unary call with hand-encoded request bytes; resolves with the raw response or the status error. */
export function unaryRaw(client: grpc.Client, path: string, bytes: Uint8Array, token: string | null):
  Promise<{ error: grpc.ServiceError | null; response?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes,
      token === null ? new grpc.Metadata() : bearer(token), (error, response) => resolve({ error, response }));
  });
}
