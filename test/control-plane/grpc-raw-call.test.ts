// PolicyDiscovery.StreamPolicies is served on node:http2 directly (control-plane/src/grpc-raw-call.ts), beside
// grpc-js on the same port and connections. What a gRPC client sees of that path, checked on the wire with a
// node:http2 client: the HTTP/2 and gRPC framing grpc-js would give, every refusal as a gRPC status with the
// meshlens error code, limits and deadlines, and that an ended call leaves nothing behind on the server.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frameGrpcMessage } from '../../control-plane/src/grpc-raw-call.ts';
import { messageType } from '../../control-plane/src/protos.ts';
import { DiscoveryStream, rawClient, startTestPlane, unaryRaw, within, type TestPlane } from './helpers.ts';

const GUARD_MS = 15_000;
const PATH = '/meshlens.v1.PolicyDiscovery/StreamPolicies';
const MAX_RECEIVE = 64 * 1024;

interface Exchange { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders | undefined; data: Buffer }

const test = suite<{ plane: TestPlane; session: http2.ClientHttp2Session }>('discovery on node:http2');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane({ maxReceiveBytes: MAX_RECEIVE });
  ctx.session = http2.connect(`http://127.0.0.1:${ctx.plane.grpcPort}`);
  ctx.session.on('error', () => {});
});
test.after.each(async (ctx) => {
  ctx.session.close();
  await ctx.plane.stop();
});

/** Opens the call, writes `body` (already framed) and, with `end`, half-closes; resolves when the stream closes. */
function exchange(ctx: { session: http2.ClientHttp2Session }, headers: http2.OutgoingHttpHeaders, body: Buffer, end = true): Promise<Exchange> {
  const stream = ctx.session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  const chunks: Buffer[] = [];
  let responseHeaders: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders | undefined;
  stream.on('response', (h) => { responseHeaders = h; });
  stream.on('trailers', (t) => { trailers = t; });
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('error', () => {});
  stream.write(body);
  if (end) stream.end();
  return within(new Promise((resolve) => stream.on('close', () => resolve({ headers: responseHeaders, trailers, data: Buffer.concat(chunks) }))),
    GUARD_MS, 'the call to close');
}

/** grpc-status, grpc-message and meshlens-error-code: from the trailers, or from the headers of a trailers-only answer. */
function status(e: Exchange): { code: number; message: string; errorCode: string | undefined } {
  const source = e.trailers ?? e.headers;
  return { code: Number(source['grpc-status']), message: decodeURI(String(source['grpc-message'] ?? '')), errorCode: source['meshlens-error-code'] as string | undefined };
}

const firstRequest = (id: string) => frameGrpcMessage([messageType('DiscoveryRequest').encode({ node: { id, worker: 'main' } }).finish()]);

test('a request that is not gRPC is answered 415, as grpc-js answers it', async (ctx) => {
  const e = await exchange(ctx, { 'content-type': 'application/json' }, Buffer.from('{}'));
  assert.is(e.headers[':status'], 415);
  assert.is(e.headers['grpc-status'], undefined);
});

test('without a token: a trailers-only UNAUTHENTICATED with the error code, and nothing held', async (ctx) => {
  const e = await exchange(ctx, {}, firstRequest('a'));
  assert.is(e.headers[':status'], 200);
  assert.is(e.headers['content-type'], 'application/grpc+proto');
  assert.is(e.trailers, undefined, 'the status travels in the only HEADERS frame');
  const s = status(e);
  assert.is(s.code, grpc.status.UNAUTHENTICATED);
  assert.is(s.errorCode, 'UNAUTHENTICATED');
  assert.is(ctx.plane.discovery.openStreams, 0);
});

test('a valid first request gets one framed response, then OK when the client half-closes', async (ctx) => {
  const e = await exchange(ctx, { authorization: `Bearer ${ctx.plane.proxyToken}` }, firstRequest('vm-1'));
  assert.is(e.headers[':status'], 200);
  assert.is(e.headers['content-type'], 'application/grpc+proto');
  assert.ok(e.trailers, 'status in trailers after the message');
  assert.is(status(e).code, grpc.status.OK);
  assert.is(e.data[0], 0, 'uncompressed');
  const length = e.data.readUInt32BE(1);
  assert.is(e.data.length, 5 + length, 'exactly one length-prefixed message');
  const response = messageType('DiscoveryResponse').decode(e.data.subarray(5)) as unknown as { versionInfo: string; nonce: string };
  assert.is(response.versionInfo, '0');
  assert.ok(response.nonce.length > 0);
  assert.is(ctx.plane.discovery.openStreams, 0, 'the half-closed stream is gone');
});

test('a message over the receive limit: RESOURCE_EXHAUSTED as grpc-js words it, before the body arrives', async (ctx) => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MAX_RECEIVE + 1, 1);
  const e = await exchange(ctx, { authorization: `Bearer ${ctx.plane.proxyToken}` }, prefix, false);
  const s = status(e);
  assert.is(s.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.is(s.message, `Received message larger than max (${MAX_RECEIVE + 1} vs. ${MAX_RECEIVE})`);
  assert.is(ctx.plane.discovery.openStreams, 0);
});

test('a compressed message is refused (only identity is accepted)', async (ctx) => {
  const framed = firstRequest('vm-1');
  framed[0] = 1;
  const s = status(await exchange(ctx, { authorization: `Bearer ${ctx.plane.proxyToken}`, 'grpc-encoding': 'gzip' }, framed, false));
  assert.is(s.code, grpc.status.INTERNAL);
  assert.match(s.message, /Compressed messages are not accepted/);
});

test('a request split across DATA frames and two messages in one frame are both read', async (ctx) => {
  const stream = ctx.session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', authorization: `Bearer ${ctx.plane.proxyToken}` });
  stream.on('error', () => {});
  const responses: Buffer[] = [];
  let pending = Buffer.alloc(0);
  const got = (n: number) => within(new Promise<void>((resolve) => {
    const check = () => { if (responses.length >= n) { stream.off('data', onData); resolve(); } };
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        responses.push(pending.subarray(5, 5 + pending.readUInt32BE(1)));
        pending = pending.subarray(5 + pending.readUInt32BE(1));
      }
      check();
    };
    stream.on('data', onData);
    check();
  }), GUARD_MS, `${n} responses`);
  const first = firstRequest('vm-split');
  stream.write(first.subarray(0, 3));
  await new Promise((resolve) => setTimeout(resolve, 50));
  stream.write(first.subarray(3));
  await got(1);
  const decoded = messageType('DiscoveryResponse').decode(responses[0]!) as unknown as { versionInfo: string; nonce: string };
  // The ACK, then a stale ACK, in one write: both parsed, the second ignored (a stale nonce), the stream still open.
  const requestType = messageType('DiscoveryRequest');
  stream.write(Buffer.concat([
    frameGrpcMessage([requestType.encode({ versionInfo: decoded.versionInfo, responseNonce: decoded.nonce }).finish()]),
    frameGrpcMessage([requestType.encode({ versionInfo: decoded.versionInfo, responseNonce: 'stale' }).finish()]),
  ]));
  const acked = async () => (await within(unaryRaw(rawClient(ctx.plane.grpcPort), '/meshlens.v1.Admin/GetRolloutStatus', new Uint8Array(0), ctx.plane.adminToken), GUARD_MS, 'rollout'));
  for (let i = 0; ; i++) {
    const { response } = await acked();
    const rollout = messageType('RolloutStatus').toObject(messageType('RolloutStatus').decode(response!), { defaults: true }) as { nodes: { nodeId: string; ackedVersion: string }[] };
    if (rollout.nodes.some((p) => p.nodeId === 'vm-split' && p.ackedVersion === '0')) break;
    assert.ok(i < 100, 'the ACK in the shared frame was read');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.is(ctx.plane.discovery.openStreams, 1);
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await within(new Promise((resolve) => stream.on('close', resolve)), GUARD_MS, 'close');
  for (let i = 0; ctx.plane.discovery.openStreams !== 0; i++) {
    assert.ok(i < 100, 'a reset stream is forgotten');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

test('a message trickled in 600 DATA frames is reassembled: a NACK with a 60 KB reason, kept clipped', async (ctx) => {
  const stream = ctx.session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', authorization: `Bearer ${ctx.plane.proxyToken}` });
  stream.on('error', () => {});
  const first = await within(new Promise<Buffer>((resolve) => {
    stream.once('data', (chunk: Buffer) => resolve(chunk));
    stream.write(firstRequest('vm-trickle'));
  }), GUARD_MS, 'the first response');
  const response = messageType('DiscoveryResponse').decode(first.subarray(5, 5 + first.readUInt32BE(1))) as unknown as { versionInfo: string; nonce: string };
  const nack = frameGrpcMessage([messageType('DiscoveryRequest').encode({ versionInfo: response.versionInfo, responseNonce: response.nonce,
    errorDetail: { code: 3, message: 'r'.repeat(60_000) } }).finish()]);
  for (let offset = 0; offset < nack.length; offset += 100) {
    stream.write(nack.subarray(offset, offset + 100));
    if (offset % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const rolloutType = messageType('RolloutStatus');
  for (let i = 0; ; i++) {
    const { response: bytes } = await within(unaryRaw(rawClient(ctx.plane.grpcPort), '/meshlens.v1.Admin/GetRolloutStatus', new Uint8Array(0), ctx.plane.adminToken), GUARD_MS, 'rollout');
    const row = (rolloutType.toObject(rolloutType.decode(bytes!), { defaults: true }) as { nodes: { nodeId: string; nackReason: string }[] }).nodes.find((n) => n.nodeId === 'vm-trickle');
    if (row?.nackReason) {
      assert.is(row.nackReason.length <= 512 + 3, true, `clipped: ${row.nackReason.length}`);
      assert.ok(row.nackReason.startsWith('rrrr'));
      break;
    }
    assert.ok(i < 100, 'the trickled NACK was read');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.is(ctx.plane.discovery.openStreams, 1, 'still open after a NACK');
  stream.close(http2.constants.NGHTTP2_CANCEL);
});

test('a grpc-timeout beyond setTimeout\'s range is no deadline (Node would fire it at once)', async (ctx) => {
  const stream = ctx.session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', authorization: `Bearer ${ctx.plane.proxyToken}`, 'grpc-timeout': '99999999H' });
  stream.on('error', () => {});
  let trailers: http2.IncomingHttpHeaders | undefined;
  stream.on('trailers', (t) => { trailers = t; });
  await within(new Promise((resolve) => { stream.once('data', resolve); stream.write(firstRequest('vm-far')); }), GUARD_MS, 'first response');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.is(trailers, undefined, 'no status: the call goes on');
  assert.is(ctx.plane.discovery.openStreams, 1);
  stream.close(http2.constants.NGHTTP2_CANCEL);
});

test('grpc-timeout is honoured: DEADLINE_EXCEEDED, and the stream is forgotten', async (ctx) => {
  const started = Date.now();
  const e = await exchange(ctx, { authorization: `Bearer ${ctx.plane.proxyToken}`, 'grpc-timeout': '300m' }, firstRequest('vm-deadline'), false);
  assert.is(status(e).code, grpc.status.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - started >= 290, 'not before the deadline');
  assert.is(e.data.readUInt32BE(1) + 5, e.data.length, 'the snapshot was sent before');
  assert.is(ctx.plane.discovery.openStreams, 0);
});

test('a grpc-js client streams policies and calls grpc-js methods on the same connection', async (ctx) => {
  const client = rawClient(ctx.plane.grpcPort);
  try {
    const stream = new DiscoveryStream(client, ctx.plane.proxyToken);
    stream.send({ node: { id: 'vm-grpcjs', worker: 'main' } });
    const response = await within(stream.next(), GUARD_MS, 'first response');
    assert.is(response.versionInfo, '0');
    const { error } = await within(unaryRaw(client, '/meshlens.v1.Admin/GetRolloutStatus', new Uint8Array(0), ctx.plane.adminToken), GUARD_MS, 'unary');
    assert.is(error, null);
    stream.end();
    const final = await within(stream.status, GUARD_MS, 'status');
    assert.is(final.code, grpc.status.OK);
  } finally {
    client.close();
  }
});

test.run();
