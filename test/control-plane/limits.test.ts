// The limits table (control-plane/src/limits.ts) enforced over the real transports, HTTP and gRPC giving the same
// answer for the same request, node identities and scoped proxy tokens on discovery streams, the first-request
// timeout, rollout expiry and pagination, and the data directory's permissions.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import net from 'node:net';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LIMITS } from '../../control-plane/src/limits.ts';
import { CONVERSION_OPTIONS, messageType } from '../../control-plane/src/protos.ts';
import { startControlPlane } from '../../control-plane/src/server.ts';
import { DiscoveryStream, http, rawClient, startTestPlane, unaryRaw, within, type TestPlane } from './helpers.ts';
import { frameHeader, PREFACE, requestHeaderBlock } from './h2-stream.ts';

const GUARD_MS = 15_000;
const test = suite<{ plane: TestPlane; client: grpc.Client }>('limits');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane({ discovery: { firstRequestTimeoutMs: 300 }, rollout: { graceMs: 60_000, maxRows: 50 } });
  ctx.client = rawClient(ctx.plane.grpcPort);
});
test.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.plane.stop();
});

const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';

/** The same admin call over gRPC (raw bytes, so the request is exactly what the test encodes). */
async function grpcAdmin(plane: TestPlane, client: grpc.Client, method: string, request: Record<string, unknown> | Uint8Array) {
  const type = messageType(`${method}Request`);
  const bytes = request instanceof Uint8Array ? request : type.encode(type.fromObject(request)).finish();
  const { error, response } = await within(unaryRaw(client, `/meshlens.v1.Admin/${method}`, bytes, plane.adminToken), GUARD_MS, method);
  return { error, response };
}

async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable('expected a refusal');
}

const put = (plane: TestPlane, id: string, expectedVersion: unknown, policy: unknown) =>
  http(plane.httpPort, 'PUT', `/v1/policies/${id}`, { token: plane.adminToken, body: { expectedVersion, policy } });

test('policy strings, templates and status codes beyond the table are refused naming field and rule', async ({ plane }) => {
  const cases: [unknown, string][] = [
    [{ target: { cluster: ' ' } }, 'invalid policy: target.cluster must not be blank'],
    [{ target: { cluster: 'a\nb' } }, 'invalid policy: target.cluster must not contain control characters (newline, NUL, ...)'],
    [{ target: { cluster: 'a\u0000b' } }, 'invalid policy: target.cluster must not contain control characters (newline, NUL, ...)'],
    [{ target: { cluster: ' orders' } }, 'invalid policy: target.cluster must not start or end with whitespace'],
    [{ target: { cluster: 'c'.repeat(LIMITS.maxClusterBytes + 1) } }, `invalid policy: target.cluster must be at most ${LIMITS.maxClusterBytes} bytes (limit maxClusterBytes)`],
    [{ target: { pathTemplate: '/' + 'p'.repeat(100_000) } }, `invalid policy: target.pathTemplate must be at most ${LIMITS.maxPathTemplateBytes} bytes (limit maxPathTemplateBytes)`],
    [{ retry: { retriableStatusCodes: [503, 429, 503], on: { 'retriable-status-codes': { maxRetries: 1 } } } }, 'invalid policy: retry.retriableStatusCodes[2] must not repeat 503'],
  ];
  for (const [policy, message] of cases) {
    const answer = await put(plane, 'orders', 0, policy);
    assert.is(answer.status, 400, JSON.stringify(policy).slice(0, 80));
    assert.equal(answer.json, { code: 'INVALID_ARGUMENT', message });
  }
  assert.is((await plane.operations.list()).policies.length, 0, 'nothing stored');
  assert.is((await put(plane, 'orders', 0, { target: { cluster: 'c'.repeat(LIMITS.maxClusterBytes) } })).status, 200, 'at the limit is accepted');
});

test('a write that would make the snapshot larger than a filter takes is refused naming the limit, over HTTP and gRPC alike', async ({ plane, client }) => {
  // 1,000 policies is the count bound; here the byte bound is reached first with long (accepted) path templates.
  const big = (i: number) => ({ target: { cluster: CLUSTER, pathTemplate: `/${String(i).padStart(4, '0')}/${'x'.repeat(LIMITS.maxPathTemplateBytes - 6)}` } });
  let i = 0;
  for (;; i++) {
    const answer = await put(plane, `p${i}`, 0, big(i));
    if (answer.status !== 200) {
      assert.is(answer.status, 413);
      assert.is(answer.json.code, 'RESOURCE_EXHAUSTED');
      assert.match(answer.json.message, new RegExp(`^invalid snapshot: encoded size must be at most ${LIMITS.maxSnapshotBytes} bytes \\(limit maxSnapshotBytes; this write would make it \\d+\\)$`));
      break;
    }
    assert.ok(i < 2000, 'the limit was never reached');
  }
  const stored = await plane.operations.list();
  assert.is(stored.policies.length, i, 'the refused write stored nothing');
  // The same write over gRPC: same code, same message.
  const type = messageType('SetPolicyRequest');
  const { error } = await grpcAdmin(plane, client, 'SetPolicy', type.encode(type.fromObject({ id: `p${i}`, expectedVersion: 0, policy: big(i) })).finish());
  assert.is(error?.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(error!.details, /^invalid snapshot: encoded size must be at most 1048576 bytes \(limit maxSnapshotBytes/);
  // Later small changes are still accepted and published.
  assert.is((await put(plane, 'p0', 1, { target: { cluster: CLUSTER } })).status, 200);
});

test('smaller items: HTTP and gRPC give the same answer', async ({ plane, client }) => {
  // SetPolicy without a policy: refused on both, never a catch-all default.
  const httpNoPolicy = await http(plane.httpPort, 'PUT', '/v1/policies/orders', { token: plane.adminToken, body: { expectedVersion: 0 } });
  const grpcNoPolicy = await grpcAdmin(plane, client, 'SetPolicy', { id: 'orders', expectedVersion: 0 });
  assert.equal(httpNoPolicy.json, { code: 'INVALID_ARGUMENT', message: 'invalid policy: policy must be an object' });
  assert.is(grpcNoPolicy.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.is(grpcNoPolicy.error?.details, httpNoPolicy.json.message);
  assert.is((await plane.operations.list()).policies.length, 0);

  // Malformed percent-escapes are the client's error.
  const escape = await http(plane.httpPort, 'GET', '/v1/policies/%E0%A4%A', { token: plane.adminToken });
  assert.equal([escape.status, escape.json], [400, { code: 'INVALID_ARGUMENT', message: 'invalid request: path must use valid percent-encoding' }]);

  // Wrong wire type (field 1, id, sent as a varint): INVALID_ARGUMENT, not INTERNAL.
  const wire = await grpcAdmin(plane, client, 'GetPolicy', Uint8Array.from([0x0a, 0xff]));
  assert.is(wire.error?.code, grpc.status.INVALID_ARGUMENT, wire.error?.details);
  assert.match(wire.error!.details, /^invalid request: message must be a valid GetPolicy request/);

  // "007" is not 7.
  assert.is((await put(plane, 'orders', 0, {})).status, 200);
  const leading = await http(plane.httpPort, 'DELETE', '/v1/policies/orders?expectedVersion=007', { token: plane.adminToken });
  assert.equal(leading.json, { code: 'INVALID_ARGUMENT', message: 'invalid request: expectedVersion must be a non-negative integer' });
  assert.is((await plane.operations.list()).policies.length, 1);

  // Deleting a missing policy is NOT_FOUND on both, whatever version it names.
  const httpMissing = await http(plane.httpPort, 'DELETE', '/v1/policies/nope?expectedVersion=3', { token: plane.adminToken });
  const grpcMissing = await grpcAdmin(plane, client, 'DeletePolicy', { id: 'nope', expectedVersion: 3 });
  assert.equal([httpMissing.status, httpMissing.json], [404, { code: 'NOT_FOUND', message: 'policy nope not found' }]);
  assert.equal([grpcMissing.error?.code, grpcMissing.error?.details], [grpc.status.NOT_FOUND, 'policy nope not found']);

  // A 1 MB id is refused without being echoed, and the channel keeps working.
  const huge = 'a'.repeat(1 << 20);
  const hugeId = await grpcAdmin(plane, client, 'GetPolicy', { id: huge });
  assert.is(hugeId.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(hugeId.error!.details.length < 200, `error of ${hugeId.error!.details.length} characters`);
  assert.is((await grpcAdmin(plane, client, 'GetPolicy', { id: 'orders' })).error, null, 'the channel still answers');
  const httpHuge = await http(plane.httpPort, 'GET', `/v1/nothing/${'b'.repeat(10_000)}`, { token: plane.adminToken });
  assert.is(httpHuge.status, 404);
  assert.ok(httpHuge.text.length < 400, `error of ${httpHuge.text.length} characters`);
});

test('node identity: oversized or malformed ids and workers are refused and leave no rollout row', async ({ plane, client }) => {
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ id: 'n'.repeat(LIMITS.maxNodeIdBytes + 1), worker: 'w' }, /^invalid node: node.id must be at most 1024 bytes$/],
    [{ id: 'sidecar 1', worker: 'w' }, /^invalid node: node.id must be printable ASCII without spaces$/],
    [{ id: 'n', worker: 'w'.repeat(65) }, /^invalid node: node.worker must match/],
    [{ id: 'n', worker: 'worker\n0' }, /^invalid node: node.worker must match/],
  ];
  for (const [node, message] of refused) {
    const stream = new DiscoveryStream(client, plane.proxyToken);
    stream.send({ node });
    const status = await within(stream.status, GUARD_MS, 'refusal');
    assert.is(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, message);
  }
  assert.is(plane.operations.rolloutStatus().total, 0);
  const metrics = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_discovery_streams_refused_total');
  assert.match(metrics, /reason="invalid_request"} 4/);
});

test('NACK reasons are stored truncated and are not metric labels', async ({ plane, client }) => {
  await put(plane, 'orders', 0, {});
  for (let i = 0; i < 20; i++) {
    const stream = new DiscoveryStream(client, plane.proxyToken);
    stream.send({ node: { id: `n${i}`, worker: 'w' } });
    const response = await within(stream.next(), GUARD_MS, 'snapshot');
    stream.send({ versionInfo: '', responseNonce: response.nonce, errorDetail: { code: 3, message: `invalid x: f${i}${'z'.repeat(10_000)}\nsecond line` } });
  }
  for (;;) {
    if (plane.operations.rolloutStatus().nodes.filter((n) => n.nackedVersion === '1').length === 20) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const reasons = plane.operations.rolloutStatus().nodes.map((n) => n.nackReason);
  assert.ok(reasons.every((r) => r.length === LIMITS.maxNackReasonBytes && !r.includes('\n')), 'truncated, control characters replaced');
  const nacks = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_nacks_total');
  assert.equal(nacks.split('\n').filter((line) => line.startsWith('meshlens_cp_nacks_total')), ['meshlens_cp_nacks_total 20']);
});

test('a stream that never sends its first request is closed and counted', async ({ plane, client }) => {
  const silent = new DiscoveryStream(client, plane.proxyToken);
  const status = await within(silent.status, GUARD_MS, 'first-request timeout');
  assert.is(status.code, grpc.status.INVALID_ARGUMENT);
  assert.is(status.details, 'invalid discovery request: the first request must arrive within 300 ms');
  const refused = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_discovery_streams_refused_total');
  assert.match(refused, /reason="first_request_timeout"} 1/);
  const waiting = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_discovery_streams_awaiting_first_request');
  assert.match(waiting, /meshlens_cp_discovery_streams_awaiting_first_request 0/);
});

test('one connection holds at most maxStreamsPerConnection streams: advertised, and a client past it loses the connection', async ({ plane }) => {
  // Raw frames, because a compliant client (node:http2, grpc-js) queues requests past the peer's limit itself: what
  // is checked here is what the server does to a client that ignores it. nghttp2 treats a stream past the ACKed
  // SETTINGS_MAX_CONCURRENT_STREAMS as a connection error (RFC 9113 §5.1.2 allows it), and Node then ends the session
  // with GOAWAY naming the last stream it processed.
  const SETTINGS = 4, HEADERS = 1, GOAWAY = 7, ACK = 1, END_HEADERS = 4;
  const socket = net.connect(plane.grpcPort, '127.0.0.1');
  socket.on('error', () => {});
  let buffered = Buffer.alloc(0);
  let advertised: number | undefined;
  let goaway: { lastStreamId: number; code: number } | undefined;
  let serverSettings!: () => void;
  const settings = new Promise<void>((resolve) => { serverSettings = resolve; });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
      const length = buffered.readUIntBE(0, 3), type = buffered[3], flags = buffered[4];
      const payload = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      if (type === SETTINGS && !(flags & ACK)) {
        for (let at = 0; at + 6 <= payload.length; at += 6) if (payload.readUInt16BE(at) === 3) advertised = payload.readUInt32BE(at + 2);
        socket.write(frameHeader(0, SETTINGS, ACK, 0));
        serverSettings();
      }
      if (type === GOAWAY) goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
    }
  });
  try {
    socket.write(Buffer.concat([PREFACE, frameHeader(0, SETTINGS, 0, 0)]));
    await within(settings, GUARD_MS, 'the server\'s SETTINGS');
    assert.is(advertised, LIMITS.maxStreamsPerConnection, 'SETTINGS_MAX_CONCURRENT_STREAMS');
    // Streams that open and send nothing (each waits for its first request), one past the limit, in one write.
    const block = requestHeaderBlock(`127.0.0.1:${plane.grpcPort}`, '/meshlens.v1.PolicyDiscovery/StreamPolicies', plane.proxyToken);
    const last = 2 * LIMITS.maxStreamsPerConnection + 1;
    const frames: Buffer[] = [];
    for (let id = 1; id <= last; id += 2) frames.push(frameHeader(block.length, HEADERS, END_HEADERS, id), block);
    socket.write(Buffer.concat(frames));
    await within(closed, GUARD_MS, 'the server to close the connection');
    assert.ok(goaway, 'a GOAWAY before the close');
    assert.is(goaway!.lastStreamId, last - 2, 'the streams up to the limit were taken, the one past it was not');
    assert.is.not(goaway!.code, 0, 'an error code, not a graceful GOAWAY');
  } finally {
    socket.destroy();
  }
});

test('a stream that leaves its snapshot unread is closed after the slow-stream timeout; one that reads is not', async () => {
  const plane = await startTestPlane({ discovery: { slowStreamTimeoutMs: 500 } });
  const client = rawClient(plane.grpcPort);
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    // ~8 KB of snapshot against a 1 KiB stream window that is never read: the write cannot be flushed.
    for (let i = 0; i < 8; i++) await put(plane, `big-${i}`, 0, { target: { cluster: CLUSTER, pathTemplate: `/${i}/${'x'.repeat(1000)}` } });
    const reader = new DiscoveryStream(client, plane.proxyToken);
    reader.send({ node: { id: 'reader', worker: 'main' } });
    reader.ack(await within(reader.next(), GUARD_MS, 'reader snapshot'));
    const session = http2.connect(`http://127.0.0.1:${plane.grpcPort}`, { settings: { initialWindowSize: 1024 } });
    sessions.push(session);
    session.on('error', () => {});
    const stalled = session.request({ ':method': 'POST', ':path': '/meshlens.v1.PolicyDiscovery/StreamPolicies',
      'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${plane.proxyToken}` });
    stalled.on('error', () => {});
    stalled.pause();
    const body = messageType('DiscoveryRequest').encode({ node: { id: 'stalled', worker: 'main' } }).finish();
    const header = Buffer.alloc(5);
    header.writeUInt32BE(body.length, 1);
    stalled.write(Buffer.concat([header, body]));
    await within((async () => { while (plane.discovery.openStreams < 2) await new Promise((resolve) => setTimeout(resolve, 5)); })(), GUARD_MS, 'stalled stream');
    assert.ok(plane.discovery.unflushedBytes > 0, 'the stalled stream holds an unflushed write');
    await within((async () => {
      while (!/reason="slow_reader"} 1/.test(await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_discovery_streams_refused_total'))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })(), GUARD_MS, 'slow-reader refusal');
    assert.is(plane.discovery.unflushedBytes, 0, 'its bytes returned to the budget');
    assert.is(plane.discovery.openStreams, 1);
    // The reader's writes were flushed at once, so twice the timeout later it is still open and takes the next push.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await put(plane, 'big-0', 1, { target: { cluster: CLUSTER, pathTemplate: '/0/short' } });
    const next = await within(reader.next(), GUARD_MS, 'reader push');
    assert.is(next.versionInfo, '9');
    assert.is(plane.discovery.openStreams, 1);
    const refused = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_discovery_streams_refused_total');
    assert.match(refused, /reason="slow_reader"} 1$/m);
    reader.cancel();
  } finally {
    for (const session of sessions) session.destroy();
    client.close();
    await plane.stop();
  }
});

test('rollout rows expire after their grace, are bounded, and are listed in pages over HTTP and gRPC', async ({ plane, client }) => {
  const streams: DiscoveryStream[] = [];
  for (let i = 0; i < 30; i++) {
    const stream = new DiscoveryStream(client, plane.proxyToken);
    stream.send({ node: { id: `node-${String(i).padStart(2, '0')}`, worker: 'main' } });
    await within(stream.next(), GUARD_MS, 'snapshot');
    streams.push(stream);
  }
  // Pages: 30 rows in pages of 12 over HTTP, the same rows over gRPC.
  const pages: string[][] = [];
  let token = '';
  do {
    const page = await http(plane.httpPort, 'GET', `/v1/rollout?pageSize=12&pageToken=${token}`, { token: plane.adminToken });
    assert.is(page.status, 200, page.text);
    assert.is(page.json.total, 30);
    assert.is(page.json.connected, 30, 'counts cover every page');
    pages.push(page.json.nodes.map((n: { nodeId: string }) => n.nodeId));
    token = page.json.nextPageToken;
  } while (token !== '');
  assert.equal(pages.map((p) => p.length), [12, 12, 6]);
  assert.equal(pages.flat(), Array.from({ length: 30 }, (_, i) => `node-${String(i).padStart(2, '0')}`));
  const { error, response } = await grpcAdmin(plane, client, 'GetRolloutStatus', { pageSize: 12, pageToken: '24' });
  assert.is(error, null);
  const decoded = messageType('RolloutStatus').toObject(messageType('RolloutStatus').decode(response!), CONVERSION_OPTIONS) as any;
  assert.equal([decoded.nodes.map((n: { nodeId: string }) => n.nodeId), decoded.total, decoded.nextPageToken], [pages[2], 30, '']);
  const tooBig = await http(plane.httpPort, 'GET', '/v1/rollout?pageSize=5000', { token: plane.adminToken });
  assert.equal(tooBig.json, { code: 'INVALID_ARGUMENT', message: `invalid request: pageSize must be an integer in [1, ${LIMITS.maxPageSize}]` });

  // Bound: 50 rows; 20 more connected VMs fit, the 21st is refused while all 50 are connected.
  for (let i = 0; i < 20; i++) {
    const stream = new DiscoveryStream(client, plane.proxyToken);
    stream.send({ node: { id: `extra-${i}`, worker: 'main' } });
    await within(stream.next(), GUARD_MS, 'snapshot');
    streams.push(stream);
  }
  const over = new DiscoveryStream(client, plane.proxyToken);
  over.send({ node: { id: 'one-too-many', worker: 'main' } });
  const overStatus = await within(over.status, GUARD_MS, 'refusal at the row bound');
  assert.is(overStatus.code, grpc.status.RESOURCE_EXHAUSTED);

  // Streams end: rows stay for the grace, then go (clock injected), and the listing shrinks.
  for (const stream of streams.slice(0, 30)) stream.end();
  for (;;) {
    if (plane.operations.rolloutStatus().connected === 20) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.is(plane.operations.rolloutStatus().total, 50, 'kept during the grace');
  plane.clock.now += 60_001;
  await new Promise((resolve) => setTimeout(resolve, 1500));     // the 1 s maintenance tick prunes
  const after = plane.operations.rolloutStatus();
  assert.equal([after.total, after.connected], [20, 20]);
  const expired = await plane.metrics.registry.getSingleMetricAsString('meshlens_cp_rollout_rows_expired_total');
  assert.match(expired, /meshlens_cp_rollout_rows_expired_total 30/);
  for (const stream of streams) stream.cancel();
});

test('a namespace-scoped proxy token speaks only for its namespace\'s nodes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshlens-scope-'));
  chmodSync(dataDir, 0o700);
  const proxy = 'p'.repeat(32), scoped = 's'.repeat(32);
  writeFileSync(join(dataDir, 'tokens.json'), JSON.stringify({ admin: { admin: 'a'.repeat(32) }, proxy, proxyScopes: { shop: scoped } }), { mode: 0o600 });
  const plane = await startTestPlane({ dataDir });
  const client = rawClient(plane.grpcPort);
  try {
    const own = new DiscoveryStream(client, scoped);
    own.send({ node: { id: 'sidecar~10.0.0.5~cart-1.shop~shop.svc.cluster.local', worker: 'main' } });
    assert.is((await within(own.next(), GUARD_MS, 'own namespace')).versionInfo, '0');
    for (const id of ['sidecar~10.0.0.6~orders-1.default~default.svc.cluster.local', 'sidecar~10.0.0.6~x.shop~default.svc.cluster.local', 'shop']) {
      const other = new DiscoveryStream(client, scoped);
      other.send({ node: { id, worker: 'main' } });
      const status = await within(other.status, GUARD_MS, 'refusal');
      assert.is(status.code, grpc.status.PERMISSION_DENIED, id);
      assert.match(status.details, /^permission denied: node.id must be an Istio node of namespace shop for this token/);
    }
    assert.equal(plane.operations.rolloutStatus().nodes.map((n) => n.nodeId), ['sidecar~10.0.0.5~cart-1.shop~shop.svc.cluster.local']);
    // Telemetry for another namespace's node is refused the same way; the unscoped token may speak for any node.
    const reportType = messageType('TelemetryReport');
    const report = (id: string) => reportType.encode(reportType.fromObject({ node: { id }, windowStartUnixMs: 1, windowEndUnixMs: 2 })).finish();
    const foreign = await unaryRaw(client, '/meshlens.v1.Telemetry/Report', report('sidecar~10.0.0.6~orders-1.default~default.svc.cluster.local'), scoped);
    assert.is(foreign.error?.code, grpc.status.PERMISSION_DENIED);
    const unscoped = await unaryRaw(client, '/meshlens.v1.Telemetry/Report', report('sidecar~10.0.0.6~orders-1.default~default.svc.cluster.local'), proxy);
    assert.is(unscoped.error, null);
    own.cancel();
  } finally {
    client.close();
    await plane.stop();
  }
});

test('data directory 0700 and files 0600: created so, refused when looser', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'meshlens-perm-'));
  try {
    const fresh = join(parent, 'fresh');
    const plane = await startTestPlane({ dataDir: fresh, keepDataDir: true });
    await plane.stop();
    assert.is(statSync(fresh).mode & 0o777, 0o700);
    for (const name of ['tokens.json', 'meshlens.db']) assert.is(statSync(join(fresh, name)).mode & 0o777, 0o600, name);

    const looseDir = join(parent, 'loose-dir');
    mkdirSync(looseDir, { mode: 0o700 });
    chmodSync(looseDir, 0o755);
    await rejects(() => startControlPlane({ dataDir: looseDir, grpcPort: 0, httpPort: 0, processMetrics: false }),
      /invalid data directory: .*loose-dir must have mode 0700 \(it has 0755; run chmod 700 /);

    const looseTokens = join(parent, 'loose-tokens');
    mkdirSync(looseTokens, { mode: 0o700 });
    writeFileSync(join(looseTokens, 'tokens.json'), JSON.stringify({ admin: { admin: 'a'.repeat(32) }, proxy: 'p'.repeat(32) }));
    chmodSync(join(looseTokens, 'tokens.json'), 0o644);
    await rejects(() => startControlPlane({ dataDir: looseTokens, grpcPort: 0, httpPort: 0, processMetrics: false }),
      /invalid token file: .*tokens.json must have mode 0600 or stricter \(it has 0644; run chmod 600 /);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test.run();
