// Admin API over HTTP JSON and gRPC: validation, optimistic concurrency, auth, history, rollback, audit, limits.
import * as grpc from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { meshlensGrpc } from '../../control-plane/src/protos.ts';
import { bearer, http, startTestPlane, type TestPlane } from './helpers.ts';

const test = suite<{ plane: TestPlane; admin: any }>('admin api');

test.before.each(async (ctx) => {
  ctx.plane = await startTestPlane();
  const Admin = meshlensGrpc().Admin;
  ctx.admin = new Admin(`127.0.0.1:${ctx.plane.grpcPort}`, grpc.credentials.createInsecure());
});
test.after.each(async (ctx) => {
  ctx.admin.close();
  await ctx.plane.stop();
});

function grpcCall(client: any, method: string, request: unknown, token: string | null): Promise<{ error: grpc.ServiceError | null; response: any }> {
  return new Promise((resolve) => {
    client[method](request, token === null ? new grpc.Metadata() : bearer(token), (error: grpc.ServiceError | null, response: any) => resolve({ error, response }));
  });
}

const put = (plane: TestPlane, id: string, body: unknown, token: string | null = plane.adminToken) =>
  http(plane.httpPort, 'PUT', `/v1/policies/${id}`, { token, body });

test('HTTP: create, get, list; the stored policy has defaults applied and names its author', async ({ plane }) => {
  const created = await put(plane, 'orders', { expectedVersion: 0, policy: { target: { cluster: 'orders' }, breaker: { errorRateThreshold: 0.5 } } });
  assert.is(created.status, 200, created.text);
  assert.is(created.json.version, 1);
  assert.is(created.json.updatedBy, 'admin');
  assert.is(created.json.updatedAtUnixMs, plane.clock.now);
  assert.is(created.json.policy.breaker.errorRateThreshold, 0.5);
  assert.is(created.json.policy.breaker.slowCallMs, 800);
  const got = await http(plane.httpPort, 'GET', '/v1/policies/orders', { token: plane.adminToken });
  assert.equal(got.json, created.json);
  const list = await http(plane.httpPort, 'GET', '/v1/policies', { token: plane.adminToken });
  assert.equal(list.json, { policies: [created.json], snapshotVersion: 1 });
  assert.is((await http(plane.httpPort, 'GET', '/v1/policies/nope', { token: plane.adminToken })).status, 404);
});

test('validation errors name the field and the rule (HTTP 400, gRPC INVALID_ARGUMENT), nothing is stored', async ({ plane, admin }) => {
  const cases: [unknown, string][] = [
    [{ breaker: { errorRateThreshold: 1.5 } }, 'invalid policy: breaker.errorRateThreshold must be in (0, 1]'],
    [{ breaker: { windowMs: 10 } }, 'invalid policy: breaker.windowMs must be an integer in [1000, 3600000]'],
    [{ breaker: { treshold: 1 } }, 'invalid policy: breaker.treshold must not be present (unknown field)'],
  ];
  for (const [policy, message] of cases) {
    const response = await put(plane, 'p', { expectedVersion: 0, policy });
    assert.is(response.status, 400);
    assert.equal(response.json, { code: 'INVALID_ARGUMENT', message });
  }
  const viaGrpc = await grpcCall(admin, 'SetPolicy', { id: 'p', expectedVersion: 0, policy: { breaker: { errorRateThreshold: 1.5 } } }, plane.adminToken);
  assert.is(viaGrpc.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.is(viaGrpc.error?.details, 'invalid policy: breaker.errorRateThreshold must be in (0, 1]');
  const badId = await put(plane, 'Bad_ID', { expectedVersion: 0, policy: {} });
  assert.equal(badId.json, { code: 'INVALID_ARGUMENT', message: 'invalid policy: id must match [a-z0-9][a-z0-9._-]{0,62}' });
  const unknownField = await put(plane, 'p', { expectedVersion: 0, policy: {}, force: true });
  assert.equal(unknownField.json, { code: 'INVALID_ARGUMENT', message: 'invalid request: force must not be present (allowed: expectedVersion, policy, confirm)' });
  const missingVersion = await put(plane, 'p', { policy: {} });
  assert.equal(missingVersion.json, { code: 'INVALID_ARGUMENT', message: 'invalid request: expectedVersion must be a non-negative integer' });
  const malformed = await http(plane.httpPort, 'PUT', '/v1/policies/p', { token: plane.adminToken, rawBody: '{"policy": ' });
  assert.equal(malformed.json, { code: 'INVALID_ARGUMENT', message: 'invalid request: body must be valid JSON' });
  assert.equal((await http(plane.httpPort, 'GET', '/v1/policies', { token: plane.adminToken })).json.policies, []);
});

test('stale writes are rejected: HTTP 409 and gRPC FAILED_PRECONDITION, the newer version survives', async ({ plane, admin }) => {
  await put(plane, 'orders', { expectedVersion: 0, policy: {} });
  assert.is((await put(plane, 'orders', { expectedVersion: 1, policy: { breaker: { openMs: 1000 } } })).status, 200);
  const stale = await put(plane, 'orders', { expectedVersion: 1, policy: { breaker: { openMs: 2000 } } });
  assert.is(stale.status, 409);
  assert.equal(stale.json, { code: 'FAILED_PRECONDITION', message: 'stale write: policy orders is at version 2, the request expected version 1' });
  const again = await put(plane, 'orders', { expectedVersion: 0, policy: {} });
  assert.is(again.status, 409, 'create over an existing policy');
  const viaGrpc = await grpcCall(admin, 'SetPolicy', { id: 'orders', expectedVersion: 1, policy: {} }, plane.adminToken);
  assert.is(viaGrpc.error?.code, grpc.status.FAILED_PRECONDITION);
  const staleDelete = await http(plane.httpPort, 'DELETE', '/v1/policies/orders?expectedVersion=1', { token: plane.adminToken });
  assert.is(staleDelete.status, 409);
  const current = await http(plane.httpPort, 'GET', '/v1/policies/orders', { token: plane.adminToken });
  assert.is(current.json.version, 2);
  assert.is(current.json.policy.breaker.openMs, 1000);
});

test('auth: every admin call needs the admin token; the proxy token is not an admin token', async ({ plane, admin }) => {
  for (const token of [null, 'wrong-token-wrong-token', plane.proxyToken]) {
    const list = await http(plane.httpPort, 'GET', '/v1/policies', { token });
    assert.is(list.status, 401);
    assert.is(list.json.code, 'UNAUTHENTICATED');
    assert.is((await put(plane, 'p', { expectedVersion: 0, policy: {} }, token)).status, 401);
    const viaGrpc = await grpcCall(admin, 'ListPolicies', {}, token);
    assert.is(viaGrpc.error?.code, grpc.status.UNAUTHENTICATED);
  }
  assert.is((await http(plane.httpPort, 'GET', '/v1/policies', { token: plane.adminToken })).status, 200);
  assert.is((await http(plane.httpPort, 'GET', '/healthz')).status, 200, 'health needs no token');
});

test('history lists every change newest first with actor, old and new values; rollback makes a new version', async ({ plane }) => {
  await put(plane, 'orders', { expectedVersion: 0, policy: { breaker: { openMs: 1000 } } });
  plane.clock.now += 1000;
  await put(plane, 'orders', { expectedVersion: 1, policy: { breaker: { openMs: 2000 } } });
  plane.clock.now += 1000;
  await put(plane, 'orders', { expectedVersion: 2, policy: { breaker: { openMs: 3000 } } });
  const rolledBack = await http(plane.httpPort, 'POST', '/v1/policies/orders/rollback', { token: plane.adminToken, body: { toVersion: 1, expectedVersion: 3 } });
  assert.is(rolledBack.status, 200, rolledBack.text);
  assert.is(rolledBack.json.version, 4);
  assert.is(rolledBack.json.policy.breaker.openMs, 1000);
  const history = (await http(plane.httpPort, 'GET', '/v1/policies/orders/history', { token: plane.adminToken })).json.entries;
  assert.equal(history.map((e: any) => [e.version, e.kind, e.policy.breaker.openMs, e.previous?.breaker.openMs ?? null, e.rolledBackTo]),
    [[4, 'ROLLBACK', 1000, 3000, 1], [3, 'UPDATE', 3000, 2000, 0], [2, 'UPDATE', 2000, 1000, 0], [1, 'CREATE', 1000, null, 0]]);
  assert.equal(history.map((e: any) => e.actor), ['admin', 'admin', 'admin', 'admin']);
  assert.is(history[3].atUnixMs + 2000, history[0].atUnixMs);
  assert.is((await http(plane.httpPort, 'POST', '/v1/policies/orders/rollback', { token: plane.adminToken, body: { toVersion: 9, expectedVersion: 4 } })).status, 404);
  assert.is((await http(plane.httpPort, 'POST', '/v1/policies/orders/rollback', { token: plane.adminToken, body: { toVersion: 2, expectedVersion: 3 } })).status, 409);
});

test('gRPC admin: set, get, history, rollback and delete with proto messages', async ({ plane, admin }) => {
  const set = await grpcCall(admin, 'SetPolicy', { id: 'orders', expectedVersion: 0, policy: { target: { cluster: 'orders', perTenant: true }, retry: { on: { '5xx': { maxRetries: 0 } } } } }, plane.adminToken);
  assert.is(set.error, null);
  assert.is(set.response.version, '1');
  assert.is(set.response.policy.target.perTenant, true);
  assert.is(set.response.policy.retry.on['5xx'].maxRetries, 0, 'explicit zero kept, not replaced by the default 2');
  assert.is(set.response.policy.retry.on['gateway-error'].maxRetries, 2, 'defaults for kinds not given');
  const update = await grpcCall(admin, 'SetPolicy', { id: 'orders', expectedVersion: 1, policy: { breaker: { minRequests: 50 } } }, plane.adminToken);
  assert.is(update.response.version, '2');
  const history = await grpcCall(admin, 'GetHistory', { id: 'orders' }, plane.adminToken);
  assert.equal(history.response.entries.map((e: any) => e.kind), ['CHANGE_KIND_UPDATE', 'CHANGE_KIND_CREATE']);
  const rollback = await grpcCall(admin, 'Rollback', { id: 'orders', toVersion: 1, expectedVersion: 2 }, plane.adminToken);
  assert.is(rollback.response.policy.breaker.minRequests, 20);
  assert.is(rollback.response.policy.target.perTenant, true);
  const deleted = await grpcCall(admin, 'DeletePolicy', { id: 'orders', expectedVersion: 3 }, plane.adminToken);
  assert.is(deleted.response.snapshotVersion, '4');
  const missing = await grpcCall(admin, 'GetPolicy', { id: 'orders' }, plane.adminToken);
  assert.is(missing.error?.code, grpc.status.NOT_FOUND);
  const recreated = await grpcCall(admin, 'SetPolicy', { id: 'orders', expectedVersion: 0, policy: {} }, plane.adminToken);
  assert.is(recreated.response.version, '4', 'versions continue after a delete so old expected versions never match');
});

test('oversized HTTP bodies get 413 and the server keeps serving', async ({ plane }) => {
  const huge = await http(plane.httpPort, 'PUT', '/v1/policies/p', { token: plane.adminToken, rawBody: JSON.stringify({ expectedVersion: 0, policy: { target: { cluster: 'x'.repeat(2 << 20) } } }) });
  assert.is(huge.status, 413);
  assert.is(huge.json.code, 'RESOURCE_EXHAUSTED');
  assert.is((await put(plane, 'p', { expectedVersion: 0, policy: {} })).status, 200);
});

test('metrics, health and readiness endpoints; gRPC health reports SERVING', async ({ plane }) => {
  await put(plane, 'p', { expectedVersion: 0, policy: {} });
  await put(plane, 'p', { expectedVersion: 0, policy: {} });
  const metrics = await http(plane.httpPort, 'GET', '/metrics');
  assert.is(metrics.status, 200);
  assert.match(metrics.text, /meshlens_cp_snapshot_version 1/);
  assert.match(metrics.text, /meshlens_cp_policies 1/);
  assert.match(metrics.text, /meshlens_cp_admin_request_duration_seconds_count\{transport="http",operation="SetPolicy",code="OK"\} 1/);
  assert.match(metrics.text, /meshlens_cp_admin_request_duration_seconds_count\{transport="http",operation="SetPolicy",code="FAILED_PRECONDITION"\} 1/);
  assert.is((await http(plane.httpPort, 'GET', '/readyz')).status, 200);
  const healthClient = new grpc.Client(`127.0.0.1:${plane.grpcPort}`, grpc.credentials.createInsecure());
  const overall = await new Promise<Buffer>((resolve, reject) => healthClient.makeUnaryRequest('/grpc.health.v1.Health/Check',
    (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new grpc.Metadata(), (error, response) => (error ? reject(error) : resolve(response!))));
  assert.equal([...overall], [0x08, 0x01], 'HealthCheckResponse{status: SERVING}');
  const discovery = await new Promise<Buffer>((resolve, reject) => healthClient.makeUnaryRequest('/grpc.health.v1.Health/Check',
    (b: Buffer) => b, (b: Buffer) => b, Buffer.concat([Buffer.from([0x0a, 27]), Buffer.from('meshlens.v1.PolicyDiscovery')]),
    new grpc.Metadata(), (error, response) => (error ? reject(error) : resolve(response!))));
  assert.equal([...discovery], [0x08, 0x01]);
  // Reflection: ServerReflectionRequest{list_services: "*"} (field 7) lists the meshlens services.
  const reflection = await new Promise<Buffer>((resolve, reject) => {
    const call = healthClient.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
    call.on('data', (b: Buffer) => { resolve(b); call.end(); });
    call.on('error', reject);
    call.write(Buffer.from([0x3a, 0x01, 0x2a]));
  });
  for (const service of ['meshlens.v1.PolicyDiscovery', 'meshlens.v1.Telemetry', 'meshlens.v1.KernelTelemetry', 'meshlens.v1.Admin']) {
    assert.ok(reflection.includes(Buffer.from(service)), `reflection lists ${service}`);
  }
  healthClient.close();
});

test.run();
