// PolicyDiscovery over real gRPC on 127.0.0.1: the protocol of discovery.proto exercised by raw clients that encode
// and decode the messages themselves, as the filter's codec will.
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messageType } from '../../control-plane/src/protos.ts';
import { suspectSetVersion } from '../../control-plane/src/network-suspects.ts';
import { DiscoveryStream, http, rawClient, startTestPlane, unaryRaw, within, type TestPlane } from './helpers.ts';

// Every await on the server is a guard against a hang, not a measurement: generous, so a loaded 2-core machine
// cannot turn a slow answer into a failure.
const GUARD_MS = 15_000;

const test = suite<{ plane: TestPlane; client: grpc.Client }>('policy discovery');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane();
  ctx.client = rawClient(ctx.plane.grpcPort);
});
test.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.plane.stop();
});

async function setPolicy(plane: TestPlane, id: string, expectedVersion: number, policy: unknown) {
  const response = await http(plane.httpPort, 'PUT', `/v1/policies/${id}`, { token: plane.adminToken, body: { expectedVersion, policy } });
  assert.is(response.status, 200, response.text);
  return response.json;
}

/**
 * Makes "nothing was pushed" observable without waiting: a unary call on the streams' own channel (one HTTP/2
 * connection). The server writes a push synchronously when it decides to send (snapshot commit or answered
 * response), so any push it decided on before handling this call precedes the reply on the connection, and the
 * client delivers the connection's frames in order; one macrotask lets grpc-js finish decoding what came first.
 */
async function serverRoundTrip(plane: TestPlane, client: grpc.Client): Promise<void> {
  const { error, response } = await within(
    unaryRaw(client, '/meshlens.v1.Admin/GetRolloutStatus', new Uint8Array(0), plane.adminToken), GUARD_MS, 'round trip');
  assert.is(error, null, error?.message);
  assert.ok(response, 'the round trip was answered');
  await new Promise((resolve) => setImmediate(resolve));
}

/** Waits until the rollout status satisfies `predicate` (ACK handling is asynchronous to the client's write). */
async function rolloutWhere(plane: TestPlane, predicate: (status: any) => boolean): Promise<any> {
  for (;;) {
    const status = plane.operations.rolloutStatus();
    if (predicate(status)) return status;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('first request gets the whole snapshot, an ACK is recorded as the node\'s version', async ({ plane, client }) => {
  await setPolicy(plane, 'orders', 0, { target: { cluster: 'orders' }, breaker: { openMs: 5000 } });
  await setPolicy(plane, 'billing', 0, { target: { cluster: 'billing' } });
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'sidecar~10.0.0.1', worker: 'worker_0' } });
  const response = await within(stream.next(), GUARD_MS, 'first response');
  assert.is(response.versionInfo, '2');
  assert.equal(response.resources.map((r) => r.id), ['billing', 'orders'], 'sorted by id');
  assert.is(response.resources[1].policy.breaker.openMs, 5000);
  assert.is(response.resources[1].policy.breaker.errorRateThreshold, 0.3, 'defaults applied before pushing');
  assert.ok(response.nonce.length > 0);
  stream.ack(response);
  const status = await within(rolloutWhere(plane, (s) => s.converged === 1), GUARD_MS, 'converged');
  assert.equal(status.nodes[0], {
    nodeId: 'sidecar~10.0.0.1', worker: 'worker_0', ackedVersion: '2', ackedAtUnixMs: plane.clock.now,
    nackedVersion: '', nackReason: '', nackedAtUnixMs: 0, pendingVersion: '', connected: true, suspectsVersion: '',
  });
  stream.end();
});

test('a stream holding a suspect set this control plane does not have is sent the empty set, not silence', async ({ plane, client }) => {
  // As after a failover to a replica that has no suspects (yet): without suspect fields the filter would keep its set.
  const fresh = new DiscoveryStream(client, plane.proxyToken);
  fresh.send({ node: { id: 'sidecar~10.0.0.7', worker: 'main' } });
  const first = (await within(fresh.next(), GUARD_MS, 'first response')) as any;
  assert.is(first.networkSuspectsVersion ?? '', '', 'a stream with no set gets no suspect fields');
  const moved = new DiscoveryStream(client, plane.proxyToken);
  moved.send({ node: { id: 'sidecar~10.0.0.8', worker: 'main' }, networkSuspectsVersion: 'a1b2c3d4e5f60718' });
  const response = (await within(moved.next(), GUARD_MS, 'first response')) as any;
  assert.is(response.networkSuspectsVersion, suspectSetVersion([]));
  assert.equal(response.networkSuspects ?? [], []);
  moved.send({ versionInfo: response.versionInfo, responseNonce: response.nonce, networkSuspectsVersion: response.networkSuspectsVersion });
  const status = await within(rolloutWhere(plane, (s) => s.nodes.some((n: { nodeId: string; suspectsVersion: string }) => n.nodeId === 'sidecar~10.0.0.8' && n.suspectsVersion === suspectSetVersion([]))), GUARD_MS, 'emptied set ACKed');
  assert.ok(status);
  // Once ACKed nothing more is pushed to it (the empty set counts as sent).
  await setPolicy(plane, 'orders', 0, { target: { cluster: 'orders' } });
  const next = (await within(moved.next(), GUARD_MS, 'policy push')) as any;
  assert.is(next.networkSuspectsVersion, suspectSetVersion([]), 'the emptied set stays what it holds');
  // One encoded response per kind of stream, not one per alternation: streams with no set share theirs.
  fresh.ack(first);
  fresh.ack((await within(fresh.next(), GUARD_MS, 'policy push')) as any);
  const late = new DiscoveryStream(client, plane.proxyToken);
  late.send({ node: { id: 'sidecar~10.0.0.9', worker: 'main' } });
  late.ack((await within(late.next(), GUARD_MS, 'first response')) as any);
  moved.send({ versionInfo: next.versionInfo, responseNonce: next.nonce, networkSuspectsVersion: next.networkSuspectsVersion });
  await within(rolloutWhere(plane, (s) => s.converged === 3), GUARD_MS, 'all three ACKed');
  // One push to all three, in the order they connected: no set, the empty set, no set.
  await setPolicy(plane, 'orders', 1, { target: { cluster: 'orders' }, breaker: { openMs: 7000 } });
  const pushes = await Promise.all([fresh, moved, late].map((s) => within(s.next(), GUARD_MS, 'second push') as Promise<any>));
  assert.equal(pushes.map((p) => p.versionInfo), ['2', '2', '2']);
  assert.is(pushes[0].nonce, pushes[2].nonce, 'the streams with no set are sent the same response');
  assert.is.not(pushes[0].nonce, pushes[1].nonce, 'the stream holding the empty set is sent its own');
  assert.is(pushes[1].networkSuspectsVersion, suspectSetVersion([]));
  fresh.end();
  moved.end();
  late.end();
});

test('a change is pushed to every connected stream and ACKs converge', async ({ plane, client }) => {
  const streams = [0, 1, 2].map((i) => {
    const stream = new DiscoveryStream(client, plane.proxyToken);
    stream.send({ node: { id: `node-${i}`, worker: 'main' } });
    return stream;
  });
  const initialNonces: string[] = [];
  for (const stream of streams) {
    const initial = await within(stream.next(), GUARD_MS, 'initial');
    initialNonces.push(initial.nonce);
    stream.ack(initial);
  }
  await setPolicy(plane, 'orders', 0, { target: { cluster: 'orders' } });
  for (const [i, stream] of streams.entries()) {
    const response = await within(stream.next(), GUARD_MS, 'push');
    assert.is(response.versionInfo, '1');
    assert.is(response.resources.length, 1);
    // Streams share one encoded response per snapshot; its nonce must still be new on each stream.
    assert.ok(response.nonce.length > 0 && response.nonce !== initialNonces[i], `push nonce ${response.nonce} after ${initialNonces[i]}`);
    stream.ack(response);
  }
  const status = await within(rolloutWhere(plane, (s) => s.converged === 3), GUARD_MS, 'converged');
  assert.is(status.connected, 3);
  const metrics = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_push_to_ack_seconds');
  assert.match(metrics, /meshlens_cp_push_to_ack_seconds_count 6/);
  for (const stream of streams) stream.end();
});

test('backpressure: nothing new is sent before the answer, then only the latest snapshot', async ({ plane, client }) => {
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' } });
  const first = await within(stream.next(), GUARD_MS, 'initial');
  assert.is(first.versionInfo, '0');
  await setPolicy(plane, 'a', 0, {});
  await setPolicy(plane, 'a', 1, { breaker: { openMs: 1000 } });
  await setPolicy(plane, 'b', 0, {});
  await serverRoundTrip(plane, client);
  assert.is(stream.responses.length, 0, 'no push while the first response is unanswered');
  stream.ack(first);
  const latest = await within(stream.next(), GUARD_MS, 'latest');
  assert.is(latest.versionInfo, '3', 'intermediate versions 1 and 2 skipped');
  assert.equal(latest.resources.map((r) => [r.id, r.version]), [['a', '2'], ['b', '1']]);
  stream.end();
});

test('NACK keeps the previous version, records the reason, and is not resent until a newer snapshot', async ({ plane, client }) => {
  await setPolicy(plane, 'orders', 0, {});
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' } });
  stream.ack(await within(stream.next(), GUARD_MS, 'initial'));
  await setPolicy(plane, 'orders', 1, { breaker: { windowMs: 2000 } });
  const bad = await within(stream.next(), GUARD_MS, 'push v2');
  const reason = 'invalid policy: breaker.windowMs must be an integer in [5000, 3600000]';
  stream.send({ versionInfo: '1', responseNonce: bad.nonce, errorDetail: { code: 3, message: reason } });
  const status = await within(rolloutWhere(plane, (s) => s.nodes[0]?.nackedVersion === '2'), GUARD_MS, 'nack');
  assert.is(status.nodes[0].ackedVersion, '1', 'previous version still the acknowledged one');
  assert.is(status.nodes[0].nackReason, reason);
  assert.is(status.converged, 0);
  const nacks = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_nacks_total');
  // Counted without a reason label (a proxy choosing the reason must not choose the series); the reason is in the row.
  assert.match(nacks, /^meshlens_cp_nacks_total 1$/m);
  await serverRoundTrip(plane, client);
  assert.is(stream.responses.length, 0, 'the rejected version is not resent');
  await setPolicy(plane, 'orders', 2, { breaker: { windowMs: 20000 } });
  const fixed = await within(stream.next(), GUARD_MS, 'push v3');
  assert.is(fixed.versionInfo, '3');
  stream.end();
});

test('a stale nonce is ignored and does not count as an ACK', async ({ plane, client }) => {
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' } });
  const first = await within(stream.next(), GUARD_MS, 'initial');
  stream.send({ versionInfo: first.versionInfo, responseNonce: 'not-the-nonce' });
  await setPolicy(plane, 'a', 0, {});
  await serverRoundTrip(plane, client);
  assert.is(stream.responses.length, 0, 'still waiting for the answer to the first response');
  assert.is(plane.operations.rolloutStatus().nodes[0].ackedVersion, '');
  stream.ack(first);
  assert.is((await within(stream.next(), GUARD_MS, 'after real ack')).versionInfo, '1');
  stream.end();
});

test('a VM already at the current version gets nothing until the snapshot changes', async ({ plane, client }) => {
  await setPolicy(plane, 'a', 0, {});
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' }, versionInfo: '1' });
  await within(rolloutWhere(plane, (s) => s.converged === 1), GUARD_MS, 'counted as converged');
  await serverRoundTrip(plane, client);
  assert.is(stream.responses.length, 0);
  await setPolicy(plane, 'a', 1, {});
  assert.is((await within(stream.next(), GUARD_MS, 'push')).versionInfo, '2');
  stream.end();
});

test('deleted policies disappear from the next snapshot', async ({ plane, client }) => {
  await setPolicy(plane, 'a', 0, {});
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' } });
  stream.ack(await within(stream.next(), GUARD_MS, 'initial'));
  const deleted = await http(plane.httpPort, 'DELETE', '/v1/policies/a?expectedVersion=1', { token: plane.adminToken });
  assert.is(deleted.status, 200);
  const response = await within(stream.next(), GUARD_MS, 'push');
  assert.is(response.versionInfo, '2');
  assert.equal(response.resources, []);
  stream.end();
});

test('bad streams end with a clear status while the server keeps serving', async ({ plane, client }) => {
  const noToken = new DiscoveryStream(client, null);
  noToken.send({ node: { id: 'n' } });
  assert.is((await within(noToken.status, GUARD_MS, 'status')).code, grpc.status.UNAUTHENTICATED);
  const wrongToken = new DiscoveryStream(client, 'x'.repeat(32));
  wrongToken.send({ node: { id: 'n' } });
  assert.is((await within(wrongToken.status, GUARD_MS, 'status')).code, grpc.status.UNAUTHENTICATED);
  const noNode = new DiscoveryStream(client, plane.proxyToken);
  noNode.send({ versionInfo: '' });
  const noNodeStatus = await within(noNode.status, GUARD_MS, 'status');
  assert.is(noNodeStatus.code, grpc.status.INVALID_ARGUMENT);
  assert.is(noNodeStatus.details, 'invalid discovery request: node.id must be set on the first request');
  const malformed = new DiscoveryStream(client, plane.proxyToken);
  malformed.sendRaw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));   // field 1, length far beyond the message
  const malformedStatus = await within(malformed.status, GUARD_MS, 'status');
  assert.is(malformedStatus.code, grpc.status.INVALID_ARGUMENT);
  assert.match(malformedStatus.details, /^invalid discovery request: message must be a valid DiscoveryRequest/);
  assert.is(plane.discovery.openStreams, 0);
  const good = new DiscoveryStream(client, plane.proxyToken);
  good.send({ node: { id: 'n', worker: 'w' } });
  assert.is((await within(good.next(), GUARD_MS, 'good stream')).versionInfo, '0');
  good.end();
});

test('stream close is tracked: connected gauge and rollout connected flag', async ({ plane, client }) => {
  const stream = new DiscoveryStream(client, plane.proxyToken);
  stream.send({ node: { id: 'n', worker: 'w' } });
  await within(stream.next(), GUARD_MS, 'initial');
  assert.match(await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_connected_proxies'), /meshlens_cp_connected_proxies 1/);
  stream.cancel();
  await within(rolloutWhere(plane, (s) => s.connected === 0 && s.nodes.length === 1), GUARD_MS, 'disconnect');
  assert.match(await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_connected_proxies'), /meshlens_cp_connected_proxies 0/);
});

test('the response body is a plain DiscoveryResponse (fields 1, 2, 3) a hand-written decoder can read', async ({ plane, client }) => {
  await setPolicy(plane, 'a', 0, { target: { cluster: 'c' } });
  const raw: Buffer[] = [];
  const call = client.makeBidiStreamRequest('/meshlens.v1.PolicyDiscovery/StreamPolicies',
    (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, (() => { const m = new grpc.Metadata(); m.set('authorization', `Bearer ${plane.proxyToken}`); return m; })());
  call.on('error', () => {});
  const got = new Promise<void>((resolve) => call.on('data', (b: Buffer) => { raw.push(b); resolve(); }));
  const requestType = messageType('DiscoveryRequest');
  call.write(requestType.encode({ node: { id: 'n' } }).finish());
  await within(got, GUARD_MS, 'response');
  const bytes = raw[0];
  // Walk the top-level fields: each must appear once, in order 1, 2, 3, with wire type 2 (length-delimited).
  const fields: number[] = [];
  let offset = 0;
  const varint = () => { let value = 0, shift = 0, byte; do { byte = bytes[offset++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80); return value; };
  while (offset < bytes.length) {
    const key = varint();
    assert.is(key & 7, 2);
    fields.push(key >>> 3);
    const length = varint();
    offset += length;
  }
  assert.equal(fields, [1, 2, 3]);
  call.end();
});

test.run();
