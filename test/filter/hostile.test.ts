// Hostile inputs a faithful host cannot produce (raw header bytes, malformed pairs, odd property encodings),
// driven through the release module with the minimal raw driver: the filter must never trap and never exceed
// its caps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readWasm } from './support.ts';
import { i64Bytes, RawHost, rawPairs } from './raw-host.ts';

const wasm = readWasm('meshlens.wasm');
const CLUSTER = 'outbound|80||orders';
// This raw host serves no xds.node: the proxy labels are Istio's "unknown".
const PROXY = 'reporter=.=source;.;source_workload=.=unknown;.;source_workload_namespace=.=unknown;.;';
/** The fields the filter derives from a cluster (istio_requests_total's destination_service labels), then the cluster. */
function clusterFields(cluster: string, service = cluster, name = service, namespace = 'unknown'): string {
  return `destination_service=.=${service};.;destination_service_name=.=${name};.;destination_service_namespace=.=${namespace};.;` +
    `upstream_cluster=.=${cluster};.;`;
}

async function host(configuration: object = {}): Promise<RawHost> {
  const raw = new RawHost();
  await raw.load(wasm);
  assert.ok(raw.configure(JSON.stringify(configuration)), 'configure');
  raw.properties.set('xds\0cluster_name', new TextEncoder().encode(CLUSTER));
  raw.properties.set('response\0code', i64Bytes(200n));
  raw.properties.set('request\0duration', i64Bytes(5_000_000n));
  return raw;
}

function requestsTotal(raw: RawHost): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, value] of raw.counters()) if (name.endsWith(';.;meshlens_requests_total')) out.set(name, value);
  return out;
}

const bytes = suite('hostile: raw header bytes');
bytes('invalid UTF-8 in tenant, path and method is labelled, not trusted, and never traps', async () => {
  const raw = await host();
  const nasty = [
    new Uint8Array([0xff, 0xfe, 0x41]), new Uint8Array([0xc0, 0xaf]), new Uint8Array([0xe2, 0x82]),
    new Uint8Array([0xf8, 0x88, 0x80, 0x80, 0x80]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0x61, 0x00, 0x62]),
  ];
  for (const value of nasty) {
    const path = new Uint8Array([0x2f, 0x61, 0x2f, ...value]);
    raw.requestHeaderPairs = rawPairs([[':method', value], [':path', path], ['x-tenant-id', value]]);
    assert.is(raw.stream(), 0, 'Continue');
  }
  const names = [...requestsTotal(raw).keys()];
  assert.ok(names.length > 0);
  for (const name of names) {
    assert.match(name, /^reporter=\.=source;\.;source_workload=\.=unknown;\.;source_workload_namespace=\.=unknown;\.;destination_service=\.=orders;\.;destination_service_name=\.=orders;\.;destination_service_namespace=\.=unknown;\.;upstream_cluster=\.=[^;]*;\.;path=\.=[A-Za-z0-9\-._~/{}|:@+]*;\.;method=\.=~other;\.;response_code=\.=200;\.;tenant=\.=unknown;\.;meshlens_requests_total$/);
  }
  assert.is([...requestsTotal(raw).values()].reduce((a, b) => a + b, 0n), BigInt(nasty.length));
});
bytes('malformed header pairs from the host count as absent headers', async () => {
  const raw = await host();
  const good = rawPairs([[':method', 'GET'], [':path', '/x'], ['x-tenant-id', 'acme']]);
  const variants: Uint8Array[] = [
    new Uint8Array([1, 2]),                                   // shorter than the count
    (() => { const b = good.slice(); new DataView(b.buffer).setUint32(0, 0xffffffff, true); return b; })(), // absurd count
    (() => { const b = good.slice(); new DataView(b.buffer).setUint32(4, 0x7fffffff, true); return b; })(), // over-long key
    (() => { const b = good.slice(); new DataView(b.buffer).setUint32(8, 0xfffffff0, true); return b; })(), // over-long value
    good.slice(0, good.length - 5),                           // truncated strings
  ];
  for (const pairs of variants) {
    raw.requestHeaderPairs = pairs;
    assert.is(raw.stream(), 0);
  }
  for (const name of requestsTotal(raw).keys()) assert.match(name, /method=\.=~other;\.;|path=\.=unknown;\.;|tenant=\.=unknown;\.;/);
});
bytes('missing or mis-sized properties fall back instead of trapping', async () => {
  const raw = await host();
  raw.properties.delete('xds\0cluster_name');
  raw.properties.set('response\0code', new Uint8Array([1, 2, 3]));
  raw.properties.delete('request\0duration');
  raw.requestHeaderPairs = rawPairs([[':method', 'GET'], [':path', '/x']]);
  raw.stream();
  // The legacy top-level name (Envoy <= 1.32) is not consulted: every supported Envoy serves xds.cluster_name.
  raw.properties.set('cluster_name', new TextEncoder().encode('legacy-cluster'));
  raw.stream();
  assert.equal([...requestsTotal(raw).entries()].sort(), [
    [`${PROXY}${clusterFields('unknown', 'unknown')}path=.=/x;.;method=.=GET;.;response_code=.=0;.;tenant=.=unknown;.;meshlens_requests_total`, 2n],
  ]);
});
bytes.run();

const caps = suite('hostile: cardinality stays bounded');
caps('10,000 tenants × 100,000 paths × odd methods never exceed maxSeries, and totals stay exact', async () => {
  const maxSeries = 500;
  const raw = await host({ metrics: { maxSeries }, tenant: { maxTenants: 100 }, paths: { maxPerCluster: 200 } });
  const methods = ['GET', 'POST', 'PROPFIND', 'get', 'X'.repeat(300)];
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    raw.properties.set('response\0code', i64Bytes(BigInt(100 + (i % 500))));
    raw.requestHeaderPairs = rawPairs([
      [':method', methods[i % methods.length]],
      [':path', `/r${i}/${'z'.repeat(i % 40)}?q=${i}`],
      ['x-tenant-id', `tenant-${i % 10_000}`],
    ]);
    raw.stream();
  }
  // maxSeries bounds exported series, folds included: a histogram exports 22 (19 buckets, +Inf, _sum, _count).
  const exported = [...raw.metrics.values()].filter((m) => m.name.includes('meshlens_'))
    .reduce((n, m) => n + (m.type === 2 ? 22 : 1), 0);
  // The budget is spent (all but the unused part of the 34 reserved fold series).
  assert.ok(exported <= maxSeries && exported >= maxSeries - 34, `${exported} series defined`);
  const total = [...requestsTotal(raw).values()].reduce((a, b) => a + b, 0n);
  assert.is(total, BigInt(N));
  assert.ok(raw.counters().get('meshlens_series_overflow_total')! > 0n);
  const overflow = `${PROXY}${clusterFields('~other', '~other', '~other', '~other')}path=.=~other;.;method=.=~other;.;response_code=.=~other;.;tenant=.=~other;.;meshlens_requests_total`;
  assert.ok(requestsTotal(raw).get(overflow)! > 0n);
  assert.ok(raw.memoryBytes() <= 4 * 1024 * 1024, `linear memory ${raw.memoryBytes()} bytes`);
});
caps('a 10 KB path and a 10 KB tenant header are bounded', async () => {
  const raw = await host();
  raw.requestHeaderPairs = rawPairs([[':method', 'GET'], [':path', '/' + 'a/'.repeat(5120)], ['x-tenant-id', 'x'.repeat(10240)]]);
  raw.stream();
  raw.requestHeaderPairs = rawPairs([[':method', 'GET'], [':path', '/' + '1'.repeat(10240)]]);
  raw.stream();
  assert.equal([...requestsTotal(raw).keys()].sort(), [
    `${PROXY}${clusterFields(CLUSTER, 'orders')}path=.=~other;.;method=.=GET;.;response_code=.=200;.;tenant=.=unknown;.;meshlens_requests_total`,
  ]);
  assert.is([...requestsTotal(raw).values()][0], 2n);
});
caps.run();

const abort = suite('hostile: the abort handler');
abort('an AssemblyScript abort logs one critical line through proxy_log and then traps', async () => {
  const raw = await host();
  raw.logs.length = 0;
  assert.throws(() => raw.callExport('malloc', 0xfffffff0), (err: Error) => err instanceof WebAssembly.RuntimeError);
  assert.is(raw.logs.length, 1);
  assert.is(raw.logs[0].level, 5);
  assert.match(raw.logs[0].message, /^meshlens abort: Allocation too large at ~lib\/rt\/tlsf\.ts:\d+:\d+$/);
});
abort.run();
