// The hand-framed HTTP/2 gRPC stream the simulated filter VMs speak (h2-stream.ts) against a real control plane: it
// gets and ACKs snapshots as a filter does (the control plane counts the ACK), reads a refusal's status and message
// exactly as grpc-js does (trailers decoded by nghttp2), reads a stream's trailers after its responses, and tells a
// refused connect from a dropped connection.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messageType } from '../../control-plane/src/protos.ts';
import { H2GrpcStream, requestHeaderBlock } from './h2-stream.ts';
import { DiscoveryStream, http, rawClient, startTestPlane, within } from './helpers.ts';

const test = suite('hand-framed HTTP/2 discovery stream');
const PATH = '/meshlens.v1.PolicyDiscovery/StreamPolicies';
const requestType = messageType('DiscoveryRequest');
const responseType = messageType('DiscoveryResponse');

function open(address: string, token: string, nodeId: string) {
  const events = { connected: false, messages: [] as { versionInfo: string; nonce: string }[], ended: undefined as undefined | { code: number; details: string } };
  let waiter: (() => void) | undefined;
  const stream = new H2GrpcStream(address, requestHeaderBlock(address, PATH, token), requestType.encode({ node: { id: nodeId, worker: 'main' } }).finish(), {
    connected: () => { events.connected = true; },
    message: (bytes) => { events.messages.push(responseType.decode(bytes) as unknown as { versionInfo: string; nonce: string }); waiter?.(); },
    ended: (code, details) => { events.ended = { code, details }; waiter?.(); },
  });
  const until = (done: () => boolean) => within(new Promise<void>((resolve) => {
    const check = () => (done() ? resolve() : (waiter = check));
    check();
  }), 5000, 'the stream');
  return { stream, events, until };
}

test('snapshots are received and ACKed; refusals and trailers read as grpc-js reads them; refused vs dropped', async () => {
  const plane = await startTestPlane();
  try {
    const address = `127.0.0.1:${plane.grpcPort}`;
    const put = (expectedVersion: number, openMs: number) => http(plane.httpPort, 'PUT', '/v1/policies/orders',
      { token: plane.adminToken, body: { expectedVersion, policy: { target: { cluster: 'outbound|8080||orders.default.svc.cluster.local' }, breaker: { openMs } } } });
    assert.is((await put(0, 1000)).status, 200);
    const good = open(address, plane.proxyToken, 'sidecar~10.0.0.1~a.default~default.svc.cluster.local');
    await good.until(() => good.events.messages.length === 1);
    assert.ok(good.events.connected);
    assert.is(good.events.messages[0].versionInfo, '1');
    good.stream.write(requestType.encode({ versionInfo: '1', responseNonce: good.events.messages[0].nonce }).finish());
    // The ACK arrived: the next write is pushed (one response outstanding at a time) and the rollout counts the ACK.
    assert.is((await put(1, 2000)).status, 200);
    await good.until(() => good.events.messages.length === 2);
    assert.is(good.events.messages[1].versionInfo, '2');
    const rollout = await http(plane.httpPort, 'GET', '/v1/rollout', { token: plane.adminToken });
    assert.equal(rollout.json.nodes.map((n: any) => n.ackedVersion), ['1']);

    // A refused stream (trailers-only answer): the same status and message a grpc-js client reads.
    const refused = open(address, 'x'.repeat(32), 'sidecar~10.0.0.2~b.default~default.svc.cluster.local');
    await refused.until(() => refused.events.ended !== undefined);
    const viaGrpcJs = await within(new DiscoveryStream(rawClient(plane.grpcPort), 'x'.repeat(32)).status, 5000, 'grpc-js status');
    assert.equal(refused.events.ended, { code: viaGrpcJs.code, details: viaGrpcJs.details });
    assert.is(refused.events.ended!.code, 16);

    // Trailers after responses (the header blocks before them feed HPACK's dynamic table): the shutdown's status.
    await plane.stop();
    await good.until(() => good.events.ended !== undefined);
    assert.equal(good.events.ended, { code: 14, details: 'control plane shutting down' });
  } finally {
    await plane.stop().catch(() => {});
  }
  // Nothing listens: a refused connect. Something accepts and closes: a dropped connection.
  const port = await new Promise<number>((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => resolve(p)); }); });
  const nobody = open(`127.0.0.1:${port}`, 'p'.repeat(32), 'n');
  await nobody.until(() => nobody.events.ended !== undefined);
  assert.equal(nobody.events.ended, { code: 14, details: 'connect failed: ECONNREFUSED' });
  const closer = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
  try {
    const dropped = open(`127.0.0.1:${(closer.address() as any).port}`, 'p'.repeat(32), 'n');
    await dropped.until(() => dropped.events.ended !== undefined);
    assert.ok(dropped.events.connected);
    assert.equal(dropped.events.ended, { code: 14, details: 'connection dropped' });
  } finally {
    closer.close();
  }
});

test.run();
