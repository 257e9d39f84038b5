// What the release filter puts on the wire of PolicyDiscovery/StreamPolicies, seen by a minimal grpc-js server on
// 127.0.0.1 that scripts the control plane's side: the first request (token, node, version), ACK and NACK shapes,
// a malformed response (stream abandoned, reconnect), a server-side close (reconnect announcing the version still
// enforced), and a wrong token against the real control plane (UNAUTHENTICATED, nothing applied).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { ManualClock, ProxyWasmPlugin } from '../../filter/host/index.ts';
import { silentLogger } from '../../control-plane/src/logging.ts';
import { defaultPolicy } from '../../control-plane/src/policy-model.ts';
import { startControlPlane } from '../../control-plane/src/server.ts';
import { releaseFilterPath } from '../support/release-filter.ts';
import { until } from '../support/until.ts';

const WASM = releaseFilterPath();
const PROTO_ROOT = fileURLToPath(new URL('../../protos', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_ROOT, target));
root.loadSync(['meshlens/v1/discovery.proto'], { keepCase: false });
root.resolveAll();
const Request = root.lookupType('meshlens.v1.DiscoveryRequest');
const Response = root.lookupType('meshlens.v1.DiscoveryResponse');
const TICK_MS = 100;
const TOKEN = 'filter-control-test-token-0123456789';

interface ScriptedStream {
  call: grpc.ServerDuplexStream<Buffer, Buffer>;
  authorization: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  requests: any[];
  ended: 'open' | 'cancelled' | 'ended';
}

const identity = (b: Buffer) => b;
async function scriptedServer(): Promise<{ port: number; streams: ScriptedStream[]; close(): void }> {
  const streams: ScriptedStream[] = [];
  const server = new grpc.Server();
  server.addService({
    StreamPolicies: {
      path: '/meshlens.v1.PolicyDiscovery/StreamPolicies', requestStream: true, responseStream: true,
      requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
    },
  }, {
    StreamPolicies: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const stream: ScriptedStream = { call, authorization: String(call.metadata.get('authorization')[0] ?? ''), requests: [], ended: 'open' };
      streams.push(stream);
      call.on('data', (bytes: Buffer) => stream.requests.push(Request.toObject(Request.decode(bytes), { defaults: false })));
      call.on('cancelled', () => { stream.ended = 'cancelled'; });
      call.on('end', () => { stream.ended = 'ended'; call.end(); });
      call.on('error', () => {});
    },
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((done, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : done(p))));
  return { port, streams, close: () => server.forceShutdown() };
}

function respond(stream: ScriptedStream, message: object): void {
  stream.call.write(Buffer.from(Response.encode(Response.fromObject(message)).finish()));
}

async function plugin(port: number, token: string, clock: ManualClock): Promise<ProxyWasmPlugin> {
  return ProxyWasmPlugin.create({
    wasm: readFileSync(WASM),
    configuration: JSON.stringify({
      tickMs: TICK_MS, reportIntervalMs: 60_000,
      controlPlane: { cluster: 'cp', token, timeoutMs: 1000 },
      node: { id: 'node-a', workload: 'orders', namespace: 'default' },
    }),
    workers: 1, clock, clusters: { cp: { address: `127.0.0.1:${port}` } },
  });
}

const test = suite('discovery stream wire protocol');

test('first request, ACK, NACK, malformed response and server close, request by request', async () => {
  const server = await scriptedServer();
  const clock = new ManualClock(Date.now());
  const p = await plugin(server.port, TOKEN, clock);
  try {
    clock.advance(TICK_MS);
    // The two VMs (main + one worker) hold one stream for the proxy (filter/assembly/control/proxy-share.ts).
    await until(() => server.streams.length === 1 && server.streams[0].requests.length === 1, 'the proxy to subscribe');
    const workers = server.streams.map((s) => s.requests[0].node.worker);
    assert.equal(workers, ['proxy']);
    for (const s of server.streams) {
      assert.is(s.authorization, `Bearer ${TOKEN}`);
      assert.equal(s.requests[0], { node: { id: 'node-a', cluster: 'orders.default', worker: s.requests[0].node.worker } },
        'version_info and response_nonce are empty on a fresh subscription');
    }
    const [a] = server.streams;

    const valid = defaultPolicy();
    respond(a, { versionInfo: '5', nonce: 'n1', resources: [{ id: 'p', version: 1, policy: valid }] });
    await until(() => a.requests.length === 2, 'the ACK');
    assert.equal(a.requests[1], { versionInfo: '5', responseNonce: 'n1' }, 'an ACK echoes version and nonce, without node');

    const invalid = defaultPolicy();
    invalid.breaker.halfOpenSuccesses = 9;
    respond(a, { versionInfo: '6', nonce: 'n2', resources: [{ id: 'p', version: 2, policy: invalid }] });
    await until(() => a.requests.length === 3, 'the NACK');
    assert.equal(a.requests[2], {
      versionInfo: '5', responseNonce: 'n2',
      errorDetail: { code: 3, message: 'invalid policy: breaker.halfOpenSuccesses must be ≤ breaker.halfOpenProbes' },
    });

    // Bytes that are not a DiscoveryResponse cannot be answered (no nonce): the VM abandons the stream.
    a.call.write(Buffer.from([0x0a, 0x05, 0x31]));
    await until(() => a.ended === 'cancelled', 'the malformed stream to be cancelled');
    const before = server.streams.length;
    for (let i = 0; i < 400 && server.streams.length === before; i++) {   // backoff ≤ 500 ms on the manual clock
      clock.advance(TICK_MS);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await until(() => server.streams.length === before + 1 && server.streams[before].requests.length === 1, 'the resubscription');
    const again = server.streams[before];
    assert.is(again.requests[0].versionInfo, '5', 'a new stream announces the version still enforced');
    assert.is(again.requests[0].node.worker, a.requests[0].node.worker, 'the proxy keeps its name across streams');

    // The control plane ends the stream: the VM reconnects the same way.
    again.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'going away' });
    const count = server.streams.length;
    for (let i = 0; i < 400 && server.streams.length === count; i++) {
      clock.advance(TICK_MS);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await until(() => server.streams.length === count + 1 && server.streams[count].requests.length === 1, 'the second resubscription');
    assert.is(server.streams[count].requests[0].versionInfo, '5');
    assert.ok(p.logs.some((l) => l.message.includes('stream closed with gRPC status 14 (going away)')));
    assert.is(p.stats.counter('meshlens_control_plane_malformed_responses_total'), 1);
  } finally {
    await p.close();
    server.close();
  }
});

test('a wrong token is refused by the real control plane and nothing is applied', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-filter-control-auth-'));
  const cp = await startControlPlane({ dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpHost: '127.0.0.1', httpPort: 0, processMetrics: false, logger: silentLogger });
  const clock = new ManualClock(Date.now());
  const p = await plugin(cp.grpcPort, 'not-the-proxy-token-at-all', clock);
  try {
    clock.advance(TICK_MS);
    await until(() => p.logs.filter((l) => l.message.includes('stream closed with gRPC status 16')).length === 1, 'UNAUTHENTICATED on the proxy\'s stream');
    assert.is(cp.operations.rolloutStatus().nodes.length, 0);
    assert.is(p.stats.counter('meshlens_control_plane_acks_total') ?? 0, 0);
    assert.is(p.stats.counter('meshlens_control_plane_stream_failures_total'), 1);
  } finally {
    await p.close();
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
