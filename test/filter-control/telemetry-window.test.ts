// The per-window telemetry accumulator and the reconnect backoff, compiled with asc and driven directly: what a
// report carries (decoded with protobufjs), its bounds, and the jittered exponential backoff's range.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { loadControlHarness } from './load-harness.ts';

const h = await loadControlHarness();
const PROTO_ROOT = fileURLToPath(new URL('../../protos', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_ROOT, target));
root.loadSync(['meshlens/v1/telemetry.proto'], { keepCase: false });
root.resolveAll();
const Report = root.lookupType('meshlens.v1.TelemetryReport');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const decodeReport = (bytes: Uint8Array): any => Report.toObject(Report.decode(bytes), { longs: String, defaults: true, arrays: true });

const FLAG_UF = 0x20n;        // upstream connection failure
const FLAG_DC = 0x4000n;      // downstream connection termination: ignored by the classification
const C = 'outbound|8080||orders';

const window = suite('telemetry window');

window('outcomes are keyed by route and by upstream connection, with the breaker’s error classification', () => {
  h.windowNew(1000, 16, 16);
  //             cluster path            tenant   local              remote          code grpc flags  ms    attempts slowMs
  h.windowRecord(C, '/orders/{id}', 'acme', '10.0.0.5:40001', '10.0.0.9:8080', 200, -1, 0n, 3, 1, 800);
  h.windowRecord(C, '/orders/{id}', 'acme', '10.0.0.5:40001', '10.0.0.9:8080', 503, -1, 0n, 900, 3, 800);
  h.windowRecord(C, '/orders/{id}', 'acme', '10.0.0.5:40002', '10.0.0.9:8080', 200, 14, 0n, 40, 1, 800);
  h.windowRecord(C, '/orders/{id}', 'beta', '10.0.0.5:40002', '10.0.0.9:8080', 0, -1, FLAG_UF, 1, 2, 800);
  h.windowRecord(C, '/orders/{id}', 'beta', '', '', 200, -1, FLAG_DC, 0.2, 0, 800);   // never reached an upstream
  h.windowReject(C, '/orders/{id}', 'beta');
  h.windowReject(C, '/orders/{id}', 'beta');
  const report = decodeReport(h.windowTake('node-1', '42', 2000));
  assert.is(report.policyVersion, '42');
  assert.is(report.windowStartUnixMs, '1000');
  assert.is(report.windowEndUnixMs, '2000');
  assert.is(report.node.id, 'node-1');

  const routes = Object.fromEntries(report.routes.map((r: { tenant: string }) => [r.tenant, r]));
  assert.equal(Object.keys(routes).sort(), ['acme', 'beta']);
  const acme = routes.acme.counters;
  assert.is(acme.requests, 3);
  assert.is(acme.errors, 2, '503 and gRPC UNAVAILABLE are failures');
  assert.is(acme.slowCalls, 1, 'only the 900 ms call is ≥ 800 ms');
  assert.is(acme.durationMsSum, String(3 + 900 + 40));
  assert.is(acme.retries, 2, 'attempts - 1');
  // Bounds 0.5,1,5,10,25,50,100,250,500,1000,…: 3 ms → bucket 2, 40 ms → bucket 5, 900 ms → bucket 9.
  assert.equal(acme.durationBuckets, [0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
  const beta = routes.beta.counters;
  assert.is(beta.requests, 2);
  assert.is(beta.errors, 1, 'UF is a failure; DC is neither');
  assert.is(beta.breakerRejections, 2);
  assert.is(beta.retries, 1);
  assert.equal(beta.durationBuckets, [1, 1]);

  const connections = Object.fromEntries(report.connections.map((c: { localAddress: string }) => [c.localAddress, c]));
  assert.equal(Object.keys(connections).sort(), ['10.0.0.5:40001', '10.0.0.5:40002'], 'no entry without an upstream address');
  assert.is(connections['10.0.0.5:40001'].remoteAddress, '10.0.0.9:8080');
  assert.is(connections['10.0.0.5:40001'].cluster, C);
  assert.is(connections['10.0.0.5:40001'].counters.requests, 2);
  assert.is(connections['10.0.0.5:40002'].counters.errors, 2);
  // The connection's requests by (path template, tenant): the weights its kernel retransmits are split by.
  assert.equal(connections['10.0.0.5:40001'].routes, [{ pathTemplate: '/orders/{id}', tenant: 'acme', requests: 2, errors: 1 }]);
  assert.equal(connections['10.0.0.5:40002'].routes, [
    { pathTemplate: '/orders/{id}', tenant: 'acme', requests: 1, errors: 1 },
    { pathTemplate: '/orders/{id}', tenant: 'beta', requests: 1, errors: 1 },
  ]);
});

window('a connection keeps at most 16 (path, tenant) shares; the rest add up under ~other', () => {
  h.windowNew(0, 4, 64);
  for (let i = 0; i < 20; i++) h.windowRecord(C, `/p${i}`, 't', '10.0.0.5:1', '10.0.0.9:80', 200, -1, 0n, 1, 1, 800);
  const [connection] = decodeReport(h.windowTake('n', '', 1)).connections;
  assert.is(connection.routes.length, 16);
  assert.equal(connection.routes.slice(0, 15).map((r: { pathTemplate: string }) => r.pathTemplate), Array.from({ length: 15 }, (_, i) => `/p${i}`));
  assert.equal(connection.routes[15], { pathTemplate: '~other', tenant: '~other', requests: 5, errors: 0 }, '/p15../p19');
  assert.is(connection.routes.reduce((n: number, r: { requests: number }) => n + r.requests, 0), connection.counters.requests);
});

window('taking a window starts an empty one at that instant', () => {
  h.windowNew(0, 16, 16);
  h.windowRecord(C, '/a', 't', 'l:1', 'r:1', 200, -1, 0n, 1, 1, 800);
  decodeReport(h.windowTake('n', '', 500));
  assert.is(h.windowEntries(), 0);
  const next = decodeReport(h.windowTake('n', '', 900));
  assert.is(next.windowStartUnixMs, '500');
  assert.equal(next.routes, []);
  assert.equal(next.connections, []);
});

window('tables are bounded: new keys beyond the cap are dropped and counted, known keys keep counting', () => {
  h.windowNew(0, 2, 3);
  for (let port = 0; port < 10; port++) h.windowRecord(C, `/p${port % 5}`, 't', `10.0.0.5:${port}`, '10.0.0.9:80', 200, -1, 0n, 1, 1, 800);
  h.windowRecord(C, '/p0', 't', '10.0.0.5:0', '10.0.0.9:80', 200, -1, 0n, 1, 1, 800);
  assert.is(h.windowEntries(), 5);
  // 4 route outcomes found no room (/p3 and /p4, twice each) and 8 connection outcomes (ports 2..9).
  const report = decodeReport(h.windowTake('n', '', 1));
  assert.is(report.connections.length, 2);
  assert.is(report.routes.length, 3);
  assert.is(h.windowDropped(), 4 + 8);
  const p0 = report.routes.find((r: { pathTemplate: string }) => r.pathTemplate === '/p0');
  assert.is(p0.counters.requests, 3);
});
window.run();

const backoff = suite('reconnect backoff');

backoff('full jitter under an exponential ceiling capped at 2 s, deterministic per seed', () => {
  const delays: Float64Array = h.backoffDelays(12345n, 12);
  for (let i = 0; i < delays.length; i++) {
    const ceiling = Math.min(2_000, 500 * 2 ** i);
    assert.ok(delays[i] >= 0 && delays[i] < ceiling, `attempt ${i}: ${delays[i]} within [0, ${ceiling})`);
    assert.is(delays[i], Math.floor(delays[i]));
  }
  assert.equal([...h.backoffDelays(12345n, 12)], [...delays]);
  assert.not.equal([...h.backoffDelays(12346n, 12)], [...delays], 'another VM (seed) draws other delays');
  // Over many draws the late attempts spread over the whole capped range.
  const late = h.backoffDelays(7n, 400).slice(10);
  assert.ok(Math.max(...late) > 1_700 && Math.min(...late) < 300);
});
backoff.run();
