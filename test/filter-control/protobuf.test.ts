// The filter's protobuf codec (filter/assembly/control/protobuf.ts), compiled with asc, against protobufjs loading
// the same protos/meshlens/v1/*.proto: encoders byte for byte, decoders field for field, plus malformed and fuzzed
// input that must yield an error and never trap.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { defaultPolicy, validatePolicy } from '../../control-plane/src/policy-model.ts';
import { loadControlHarness } from './load-harness.ts';

const h = await loadControlHarness();
const PROTO_ROOT = fileURLToPath(new URL('../../protos', import.meta.url));

function loadRoot(unpackedStatusCodes = false): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_ROOT, target));
  root.loadSync(['meshlens/v1/discovery.proto', 'meshlens/v1/policy.proto', 'meshlens/v1/telemetry.proto'], { keepCase: false });
  root.resolveAll();
  if (unpackedStatusCodes) {
    // protobufjs derives packing from resolved features; override them so this root writes the expanded form.
    const field = root.lookupType('meshlens.v1.RetryPolicy').fields.retriableStatusCodes as unknown as { _features: Record<string, string> };
    field._features = { ...field._features, repeated_field_encoding: 'EXPANDED' };
  }
  return root;
}
const root = loadRoot();
const unpackedRoot = loadRoot(true);
const type = (name: string, r = root) => r.lookupType(`meshlens.v1.${name}`);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const encode = (name: string, object: object, r = root) => {
  const t = type(name, r);
  return t.encode(t.fromObject(object)).finish();
};

// Deterministic PRNG for fuzzing (mulberry32).
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
const request = suite('DiscoveryRequest encoding');

interface RequestCase {
  name: string; versionInfo: string; node?: { id: string; cluster: string; worker: string }; nonce: string;
  error?: { code: number; message: string };
}
const requestCases: RequestCase[] = [
  { name: 'first request with node', versionInfo: '', node: { id: 'sidecar~10.0.0.5~orders-1.default~default.svc.cluster.local', cluster: 'orders.default', worker: 'vm_0' }, nonce: '' },
  { name: 'first request after restart keeps version', versionInfo: '42', node: { id: 'n1', cluster: '', worker: 'vm_3' }, nonce: '' },
  { name: 'ack', versionInfo: '43', nonce: '1.a' },
  { name: 'nack', versionInfo: '42', nonce: '1.b', error: { code: 3, message: 'invalid policy: breaker.errorRateThreshold must be in (0, 1]' } },
  { name: 'nack with unicode and negative code', versionInfo: '', nonce: 'ñ', error: { code: -1, message: 'invalid policy: breaker.maxOpenMs must be ≥ breaker.openMs' } },
  { name: 'nack with empty detail', versionInfo: '7', nonce: 'x', error: { code: 0, message: '' } },
  { name: 'node with only a worker', versionInfo: '', node: { id: '', cluster: '', worker: 'vm_12' }, nonce: '' },
  { name: 'long strings (multi-byte length prefix)', versionInfo: '9'.repeat(300), nonce: 'n'.repeat(200), error: { code: 3, message: 'é'.repeat(5000) } },
];

for (const c of requestCases) {
  request(c.name, () => {
    const actual: Uint8Array = h.encodeRequest(c.versionInfo, c.node !== undefined, c.node?.id ?? '', c.node?.cluster ?? '',
      c.node?.worker ?? '', c.nonce, c.error !== undefined, c.error?.code ?? 0, c.error?.message ?? '');
    // Canonical proto3: implicit-presence fields at their zero value are absent; set messages are present.
    const object: Record<string, unknown> = {};
    if (c.versionInfo) object.versionInfo = c.versionInfo;
    if (c.node) object.node = Object.fromEntries(Object.entries(c.node).filter(([, v]) => v !== ''));
    if (c.nonce) object.responseNonce = c.nonce;
    if (c.error) object.errorDetail = Object.fromEntries(Object.entries(c.error).filter(([, v]) => v !== '' && v !== 0));
    assert.is(hex(actual), hex(encode('DiscoveryRequest', object)));
    // And it means what was intended.
    const decoded = type('DiscoveryRequest').toObject(type('DiscoveryRequest').decode(actual), { defaults: true });
    assert.is(decoded.versionInfo, c.versionInfo);
    assert.is(decoded.responseNonce, c.nonce);
    assert.is(decoded.errorDetail?.message, c.error?.message);
  });
}
request.run();

// ---------------------------------------------------------------------------------------------------------------
const response = suite('DiscoveryResponse decoding');

type Json = Record<string, unknown>;
function policy(overrides: (p: ReturnType<typeof defaultPolicy>) => void = () => {}): ReturnType<typeof defaultPolicy> {
  const p = defaultPolicy();
  overrides(p);
  return p;
}

// What the filter's decoder must produce: protobufjs's own decoding, shaped as the JSON model.
function expectedFromProtobufjs(bytes: Uint8Array, r = root): Json {
  const t = type('DiscoveryResponse', r);
  const o = t.toObject(t.decode(bytes), { longs: String, defaults: false, arrays: false }) as Json;
  const resources = ((o.resources as Json[] | undefined) ?? []).map((res) => ({
    id: res.id ?? '', version: res.version ?? '0', policy: res.policy ?? {},
  }));
  return { error: '', versionInfo: o.versionInfo ?? '', nonce: o.nonce ?? '', resources };
}

const decode = (bytes: Uint8Array): Json => JSON.parse(h.decodeResponse(bytes));

const responseCases: { name: string; message: Json; root?: protobuf.Root }[] = [
  { name: 'empty snapshot', message: { versionInfo: '1', nonce: '1.1' } },
  { name: 'one complete default policy', message: { versionInfo: '2', nonce: 'a', resources: [{ id: 'default', version: 1, policy: policy() }] } },
  {
    name: 'several policies, explicit zeros and false flags',
    message: {
      versionInfo: '17', nonce: 'q.9', resources: [
        { id: 'orders', version: 3, policy: policy((p) => { p.target.cluster = 'outbound|8080||orders.default.svc.cluster.local'; p.target.pathTemplate = '/orders/{id}'; p.target.perTenant = true; p.breaker.errorRateThreshold = 0.125; }) },
        { id: 'payments', version: 12, policy: policy((p) => { p.breaker.enabled = false; p.retry.enabled = false; p.retry.idempotentOnly = false; p.retry.budgetRatio = 0; p.retry.minRetriesPerSecond = 0; for (const rule of Object.values(p.retry.on)) rule.maxRetries = 0; }) },
      ],
    },
  },
  { name: 'uint64 version beyond 2^53', message: { versionInfo: '18446744073709551615', nonce: 'n', resources: [{ id: 'big', version: '18446744073709551615', policy: policy() }] } },
  { name: 'packed retriable status codes', message: { versionInfo: '5', nonce: 'n', resources: [{ id: 'codes', version: 1, policy: policy((p) => { p.retry.retriableStatusCodes = [409, 425, 503, 100, 599]; p.retry.on['retriable-status-codes'].maxRetries = 2; }) }] } },
  { name: 'unpacked retriable status codes', root: unpackedRoot, message: { versionInfo: '5', nonce: 'n', resources: [{ id: 'codes', version: 1, policy: policy((p) => { p.retry.retriableStatusCodes = [409, 503]; p.retry.on['retriable-status-codes'].maxRetries = 1; }) }] } },
  { name: 'partial policy (absent optionals stay absent)', message: { versionInfo: '3', nonce: 'n', resources: [{ id: 'p', version: 2, policy: { target: { cluster: 'c' }, breaker: { openMs: 5000 } } }] } },
  { name: 'resource without a policy', message: { versionInfo: '3', nonce: 'n', resources: [{ id: 'empty', version: 1 }] } },
  { name: 'unicode ids and clusters', message: { versionInfo: '4', nonce: 'ü', resources: [{ id: 'ä.b', version: 1, policy: { target: { cluster: 'κ|8080||svc' } } }] } },
];

for (const c of responseCases) {
  response(c.name, () => {
    const bytes = encode('DiscoveryResponse', c.message, c.root ?? root);
    assert.equal(decode(bytes), expectedFromProtobufjs(bytes, c.root ?? root));
  });
}

response('the network-suspect set decodes, is absent when not sent, and is bounded at 1024 addresses', () => {
  const suspects = (message: Json) => JSON.parse(h.decodeSuspects(encode('DiscoveryResponse', message)));
  assert.equal(suspects({ versionInfo: '1', nonce: 'n' }), { error: '', version: '', suspects: null }, 'none sent: the VM keeps its set');
  assert.equal(suspects({ versionInfo: '1', nonce: 'n', networkSuspectsVersion: '1900000000000', networkSuspects: ['10.0.1.2:8080', '[fd00::1]:443'] }),
    { error: '', version: '1900000000000', suspects: ['10.0.1.2:8080', '[fd00::1]:443'] });
  assert.equal(suspects({ versionInfo: '1', nonce: 'n', networkSuspectsVersion: '7' }), { error: '', version: '7', suspects: [] }, 'an emptied set');
  const many = Array.from({ length: 1025 }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`);
  assert.is(suspects({ versionInfo: '1', nonce: 'n', networkSuspectsVersion: '8', networkSuspects: many }).error,
    'invalid discovery response: networkSuspects must have at most 1024 entries');
});

response('packed and unpacked status codes decode alike', () => {
  const message = { versionInfo: '5', nonce: 'n', resources: [{ id: 'codes', version: 1, policy: policy((p) => { p.retry.retriableStatusCodes = [409, 503]; }) }] };
  const packed = encode('DiscoveryResponse', message);
  const unpacked = encode('DiscoveryResponse', message, unpackedRoot);
  assert.is.not(hex(packed), hex(unpacked));
  assert.equal(decode(unpacked), decode(packed));
});

response('the control plane’s snapshot body + separately encoded nonce (concatenation merges)', () => {
  const body = encode('DiscoveryResponse', { versionInfo: '8', resources: [{ id: 'a', version: 1, policy: policy() }] });
  const nonce = encode('DiscoveryResponse', { nonce: '3.z' });
  const bytes = Buffer.concat([body, nonce]);
  const decoded = decode(bytes);
  assert.is(decoded.nonce, '3.z');
  assert.is(decoded.versionInfo, '8');
  assert.equal(decoded, expectedFromProtobufjs(bytes));
});

// Unknown fields of every wire type, at top level and inside every nested message.
function unknownFields(): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((90 << 3) | 0).uint64(123456789);
  w.uint32((91 << 3) | 1).fixed64(42);
  w.uint32((92 << 3) | 2).bytes(Buffer.from('opaque'));
  w.uint32((93 << 3) | 3);                  // start group 93 with a nested group and a varint inside
  w.uint32((94 << 3) | 3).uint32((1 << 3) | 0).uint32(7).uint32((94 << 3) | 4);
  w.uint32((93 << 3) | 4);
  w.uint32((95 << 3) | 5).fixed32(7);
  return Buffer.from(w.finish());
}
function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((field << 3) | 2).bytes(payload);
  return Buffer.from(w.finish());
}

response('unknown fields of every wire type are skipped at every level', () => {
  const p = policy((x) => { x.retry.retriableStatusCodes = [503]; });
  const plain = encode('DiscoveryResponse', { versionInfo: '9', nonce: 'k', resources: [{ id: 'x', version: 4, policy: p }] });
  const target = Buffer.concat([encode('PolicyTarget', p.target), unknownFields()]);
  const breaker = Buffer.concat([unknownFields(), encode('BreakerPolicy', p.breaker)]);
  const rule = Buffer.concat([encode('RetryRule', { maxRetries: 2, backoffBaseMs: 250 }), unknownFields()]);
  const entry = Buffer.concat([lengthDelimited(1, Buffer.from('5xx')), unknownFields(), lengthDelimited(2, rule)]);
  const retryWithout5xx = encode('RetryPolicy', { ...p.retry, on: Object.fromEntries(Object.entries(p.retry.on).filter(([k]) => k !== '5xx')) });
  const retry = Buffer.concat([lengthDelimited(7, entry), retryWithout5xx, unknownFields()]);
  const policyBytes = Buffer.concat([lengthDelimited(1, target), unknownFields(), lengthDelimited(2, breaker), lengthDelimited(3, retry)]);
  const resource = Buffer.concat([encode('PolicyResource', { id: 'x', version: 4 }), unknownFields(), lengthDelimited(3, policyBytes)]);
  const bytes = Buffer.concat([unknownFields(), encode('DiscoveryResponse', { versionInfo: '9' }), lengthDelimited(2, resource), unknownFields(),
    encode('DiscoveryResponse', { nonce: 'k' })]);
  const expected = decode(plain);
  const actual = decode(bytes);
  assert.is(actual.error, '');
  assert.equal(actual, expected);
});

response('every truncation errors exactly when protobufjs refuses it, and decodes alike otherwise', () => {
  const bytes = encode('DiscoveryResponse', { versionInfo: '11', nonce: 'zz', resources: [
    { id: 'a', version: 300, policy: policy((p) => { p.retry.retriableStatusCodes = [500, 503]; }) },
    { id: 'b', version: 1, policy: { target: { cluster: 'c' } } },
  ] });
  let errors = 0;
  for (let n = 0; n < bytes.length; n++) {
    const cut = bytes.subarray(0, n);
    let reference: Json | undefined;
    try { reference = expectedFromProtobufjs(cut); } catch { reference = undefined; }
    const actual = decode(cut);
    if (reference === undefined) {
      errors++;
      assert.match(actual.error as string, /^invalid discovery response: .+ must .+/, `cut at ${n}`);
    } else {
      assert.equal(actual, reference, `cut at ${n}`);
    }
  }
  assert.ok(errors > bytes.length / 2, 'most truncations are malformed');
});

const malformed: [string, number[]][] = [
  ['varint longer than 64 bits', [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ['length past the end', [0x0a, 0x05, 0x31]],
  ['huge length', [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ['field number zero', [0x00, 0x01]],
  ['wire type 6', [0x0e]],
  ['wire type 7', [0x0f, 0x01]],
  ['unterminated group', [0x0b, 0x08, 0x01]],
  ['mismatched end group', [0x0b, 0x14]],
  ['stray end group', [0x0c]],
  ['versionInfo as a varint', [0x08, 0x01]],
  ['resource as a varint', [0x10, 0x01]],
  ['truncated double', [0x12, 0x0b, 0x1a, 0x09, 0x12, 0x07, 0x11, 0, 0, 0, 0, 0, 0]],
];
for (const [name, bytes] of malformed) {
  response(`malformed: ${name}`, () => {
    const actual = decode(new Uint8Array(bytes));
    assert.match(actual.error as string, /^invalid discovery response: .+ must .+/);
  });
}

response('a wrong wire type on a known field names the field', () => {
  // breaker.error_rate_threshold (double) sent as a varint.
  const breaker = Buffer.from([0x10, 0x01]);
  const policyBytes = lengthDelimited(2, breaker);
  const resource = Buffer.concat([encode('PolicyResource', { id: 'x' }), lengthDelimited(3, policyBytes)]);
  const actual = decode(Buffer.concat([lengthDelimited(2, resource), encode('DiscoveryResponse', { nonce: 'n' })]));
  assert.is(actual.error, 'invalid discovery response: resources[0].policy.breaker.errorRateThreshold must be a double (wire type 0)');
});

response('fuzz: random bytes and mutations never trap', () => {
  const next = rng(0x5eed);
  const valid = encode('DiscoveryResponse', { versionInfo: '12', nonce: 'f', resources: [{ id: 'a', version: 2, policy: policy() }] });
  const reference = decode(valid);
  let decodedOk = 0;
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) {
      bytes = new Uint8Array(Math.floor(next() * 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
    } else {
      bytes = Uint8Array.from(valid);
      const flips = 1 + Math.floor(next() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] ^= 1 << Math.floor(next() * 8);
    }
    const out = decode(bytes);             // a trap would throw a RuntimeError here
    if (out.error === '') decodedOk++;
    else assert.match(out.error as string, /^invalid discovery response: .+ must .+/);
  }
  assert.ok(decodedOk > 0);
  // The module is still healthy afterwards.
  assert.equal(decode(valid), reference);
});

response.run();

// ---------------------------------------------------------------------------------------------------------------
const validation = suite('snapshot validation reuses the policy parser');

const validate = (message: Json) => JSON.parse(h.validateResponse(encode('DiscoveryResponse', message)));
function twinMessage(p: unknown): string {
  try { validatePolicy(p); return ''; } catch (error) { return (error as Error).message; }
}

validation('a valid snapshot is accepted with its ids in order', () => {
  const out = validate({ versionInfo: '4', nonce: 'n', resources: [{ id: 'a', version: 1, policy: policy() }, { id: 'b', version: 1, policy: policy((p) => { p.target.cluster = 'x'; }) }] });
  assert.equal(out, { error: '', version: '4', ids: ['a', 'b'] });
});

const invalidPolicies: [string, (p: ReturnType<typeof defaultPolicy>) => void][] = [
  ['error rate above 1', (p) => { p.breaker.errorRateThreshold = 1.5; }],
  ['error rate 0', (p) => { p.breaker.errorRateThreshold = 0; }],
  ['window too short', (p) => { p.breaker.windowMs = 10; }],
  ['maxOpenMs below openMs', (p) => { p.breaker.openMs = 60000; p.breaker.maxOpenMs = 1000; }],
  ['too many retries', (p) => { p.retry.on['5xx'].maxRetries = 11; }],
  ['backoff above cap', (p) => { p.retry.backoffMaxMs = 100; }],
  ['status code out of range', (p) => { p.retry.retriableStatusCodes = [99]; }],
  ['empty target cluster', (p) => { p.target.cluster = ''; }],
  ['path template without a slash', (p) => { p.target.pathTemplate = 'orders'; }],
];
for (const [name, change] of invalidPolicies) {
  validation(`NACK message equals the TypeScript twin's: ${name}`, () => {
    const p = policy(change);
    const expected = twinMessage(p);
    assert.match(expected, /^invalid policy: .+ must .+/);
    const out = validate({ versionInfo: '6', nonce: 'n', resources: [{ id: 'ok', version: 1, policy: policy() }, { id: 'bad', version: 2, policy: p }] });
    assert.is(out.error, expected);
  });
}

validation('an unknown failure kind in retry.on is refused', () => {
  const p = policy() as unknown as Json;
  ((p.retry as Json).on as Json)['teapot'] = { maxRetries: 1, backoffBaseMs: 25 };
  const out = validate({ versionInfo: '6', nonce: 'n', resources: [{ id: 'bad', version: 1, policy: p }] });
  assert.match(out.error, /^invalid policy: retry\.on\.teapot must be a known failure kind/);
});

validation('duplicate ids and a missing version are refused', () => {
  assert.match(validate({ versionInfo: '6', nonce: 'n', resources: [{ id: 'a', version: 1, policy: policy() }, { id: 'a', version: 2, policy: policy() }] }).error,
    /^invalid discovery response: resources\[1\]\.id must be unique/);
  assert.is(validate({ nonce: 'n' }).error, 'invalid discovery response: versionInfo must be set');
});
validation.run();

// ---------------------------------------------------------------------------------------------------------------
const report = suite('TelemetryReport encoding and TelemetryReportAck decoding');

function randomCounters(next: () => number): Json {
  const pick = (max: number) => (next() < 0.3 ? 0 : Math.floor(next() * max));
  const buckets = Array.from({ length: Math.floor(next() * 21) }, () => pick(1000));
  return { requests: pick(1e6), errors: pick(1e4), slowCalls: pick(100), durationMsSum: String(pick(2 ** 52)), durationBuckets: buckets,
    retries: pick(50), breakerRejections: pick(20) };
}
// Canonical form: zero scalars and empty strings absent, trailing zero duration buckets trimmed.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === '' || v === 0 || v === '0') continue;
      if (k === 'durationBuckets') {
        const buckets = [...(v as number[])];
        while (buckets.length > 0 && buckets[buckets.length - 1] === 0) buckets.pop();
        if (buckets.length > 0) out[k] = buckets;
        continue;
      }
      out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

report('random reports encode byte for byte as protobufjs encodes them', () => {
  const next = rng(77);
  for (let i = 0; i < 200; i++) {
    const r: Json = {
      node: { id: `node-${i}`, cluster: i % 3 === 0 ? '' : 'orders.default', worker: `vm_${i % 5}` },
      policyVersion: i % 4 === 0 ? '' : String(i),
      windowStartUnixMs: String(1_700_000_000_000 + i * 1000), windowEndUnixMs: String(1_700_000_001_000 + i * 1000),
      connections: Array.from({ length: Math.floor(next() * 4) }, (_, j) => ({
        localAddress: `10.0.0.1:${40000 + j}`, remoteAddress: j % 2 ? '[fd00::1]:8080' : '10.0.0.9:8080', cluster: 'outbound|8080||orders', counters: randomCounters(next),
        routes: Array.from({ length: Math.floor(next() * 3) }, (_, k) => ({
          pathTemplate: k ? '/orders/{id}' : '', tenant: k ? 'acme' : '~other', requests: Math.floor(next() * 100), errors: Math.floor(next() * 3) })) })),
      routes: Array.from({ length: Math.floor(next() * 4) }, (_, j) => ({
        cluster: 'outbound|8080||orders', pathTemplate: j ? '/orders/{id}' : '~other', tenant: j ? 'acme' : 'unknown', counters: randomCounters(next) })),
      breakers: Array.from({ length: Math.floor(next() * 3) }, (_, j) => ({
        cluster: 'c', tenant: j ? 'acme' : '', state: Math.floor(next() * 4), transitions: Math.floor(next() * 3), policyId: j ? 'p' : '',
        pathTemplate: j ? '/orders/{id}' : '*', sinceUnixMs: String(j ? 1_700_000_000_000 + i : 0),
        openUntilUnixMs: String(j ? 1_700_000_030_000 + i : 0), openCause: Math.floor(next() * 4), tripRequests: Math.floor(next() * 50),
        tripFailures: Math.floor(next() * 20), tripSlowCalls: Math.floor(next() * 2) })),
    };
    const actual: Uint8Array = h.encodeReport(JSON.stringify(r));
    const expected = encode('TelemetryReport', canonical(r) as Json);
    assert.is(hex(actual), hex(expected), `report ${i}`);
  }
});

report('acks decode like protobufjs and malformed acks are errors', () => {
  for (const accepted of [0, 1, 300, 2 ** 32 - 1]) {
    const bytes = encode('TelemetryReportAck', { acceptedEntries: accepted });
    assert.equal(JSON.parse(h.decodeAck(bytes)), { error: '', acceptedEntries: accepted });
  }
  assert.match(JSON.parse(h.decodeAck(new Uint8Array([0x08]))).error, /^invalid telemetry report ack: message must be well-formed/);
  assert.match(JSON.parse(h.decodeAck(new Uint8Array([0x0a, 0x01, 0x00]))).error, /^invalid telemetry report ack: acceptedEntries must be a uint32/);
});
report.run();
