// Hostile HTTP/1 on a raw socket (node:net) against the sidecar running the release filter: every case gets the
// answer Envoy v1.36's HTTP/1 codec and HCM give (sources cited in filter/host/sidecar/listener.ts), every stream
// the filter saw ends in on_log with Envoy's response flags, and afterwards the sidecar serves, no stream context is
// left in any VM, no VM failed, the VMs' memory did not grow and RSS is back within 10 %.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProxyWasmPlugin } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { releaseFilter } from '../host/support.ts';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ObservedPlugin, request } from './support.ts';

const test = suite('hostile HTTP/1 on a raw socket, release filter');

// The runner starts Node without --expose-gc; the flag can still be set at run time and gc fetched from a context.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function settledRss(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().rss;
}

interface RawResponse { status: number; head: string; body: string; closed: boolean }

/**
 * Writes `parts` (each after the previous one was flushed) and collects what comes back until the server closes
 * the connection, or until `abortAfterMs` when the client itself goes away (then `closed` says who closed).
 */
function raw(port: number, parts: (string | Buffer)[], opts: { abortAfterMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const guard = setTimeout(() => { socket.destroy(); reject(new Error('no answer within 20 s')); }, 20_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(guard);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split >= 0 ? text.slice(0, split) : text;
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), head, body: split >= 0 ? text.slice(split + 4) : '', closed: closedByServer });
    });
    socket.on('connect', async () => {
      for (const part of parts) await new Promise<void>((done) => socket.write(part, () => done()));
      if (opts.abortAfterMs !== undefined) {
        setTimeout(() => { closedByServer = false; socket.destroy(); }, opts.abortAfterMs);
      }
    });
  });
}

const CLOSE = 'connection: close\r\n';
const header = (name: string, bytes: number) => `${name}: ${'a'.repeat(bytes)}\r\n`;
const manyHeaders = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');

interface Case {
  name: string;
  send: (string | Buffer)[];
  abortAfterMs?: number;
  status: number;
  /** Envoy's %RESPONSE_FLAGS% in the on_log info; undefined = none. */
  flags?: string;
  body?: string;
  /** The filter ran for the stream (an on_log) — true for every case that reached Envoy's codec as a request. */
  logged?: boolean;
  check?: (r: RawResponse) => void;
}

let plugin: ObservedPlugin;
let sidecar: SidecarWith<ObservedPlugin>;
interface Upstream {
  address: string;
  /** Requests received so far, and the last one (only the last: the RSS check must not measure this record). */
  count: number;
  last?: { url: string; headers: http.IncomingHttpHeaders };
  close(): Promise<void>;
}

/**
 * An upstream that accepts what the sidecar may forward (startUpstream's Node default of 16 KiB of headers would
 * itself answer 431 to the 59 KiB case). /slow answers only after the client gave up.
 */
async function upstream(): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    up.count++;
    up.last = { url: req.url ?? '', headers: req.headers };
    req.resume();
    if (req.url?.startsWith('/slow')) {
      setTimeout(() => { if (!res.destroyed) res.end('late'); }, 2000).unref();
      return;
    }
    req.on('end', () => res.end('ok'));
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const up: Upstream = {
    address: '',
    count: 0,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

let orders: Upstream;
let other: Upstream;

function cases(): Case[] {
  return [
    { name: '61 KiB of headers: 431 (Envoy max_request_headers_kb 60)', send: [`GET /a HTTP/1.1\r\nhost: o\r\n${header('x-big', 61 * 1024)}\r\n`],
      status: 431, flags: 'DPE', body: 'Request Header Fields Too Large' },
    { name: '59 KiB of headers: served (not Node\'s 16 KiB)', send: [`GET /a HTTP/1.1\r\nhost: o\r\n${CLOSE}${header('x-big', 59 * 1024)}\r\n`], status: 200 },
    { name: '101 headers: 431 (max_headers_count 100)', send: [`GET /a HTTP/1.1\r\nhost: o\r\n${manyHeaders(100)}\r\n`], status: 431, flags: 'DPE' },
    { name: '1,000 headers: 431', send: [`GET /a HTTP/1.1\r\nhost: o\r\n${manyHeaders(1000)}\r\n`], status: 431, flags: 'DPE' },
    { name: '100 headers: served', send: [`GET /a HTTP/1.1\r\nhost: o\r\n${CLOSE}${manyHeaders(98)}\r\n`], status: 200 },
    { name: 'HTTP/1.0 without Host: 426 (accept_http_10 off)', send: ['GET /a HTTP/1.0\r\n\r\n'], status: 426, flags: 'DPE', body: 'Upgrade Required' },
    { name: 'HTTP/1.0 with Host: 426 as well', send: ['GET /a HTTP/1.0\r\nhost: o\r\n\r\n'], status: 426, flags: 'DPE' },
    { name: 'HTTP/1.1 without Host: 400 missing_host_header', send: [`GET /a HTTP/1.1\r\n${CLOSE}\r\n`], status: 400 },
    { name: 'duplicate Host: joined with "," and routed (authorityIsValid allows ",")', send: [`GET /dup HTTP/1.1\r\nhost: a.example\r\nhost: b.example\r\n${CLOSE}\r\n`],
      status: 200, check: () => assert.is(other.last!.headers.host, 'a.example,b.example') },
    { name: 'absolute-form URI: routed by its authority, Host ignored', send: [`GET http://orders.example/api/orders/7?x=1 HTTP/1.1\r\nhost: elsewhere\r\n${CLOSE}\r\n`],
      status: 200, check: () => { assert.is(orders.last!.url, '/api/orders/7?x=1'); assert.is(orders.last!.headers.host, 'orders.example'); } },
    { name: 'absolute-form with a bad scheme: 400', send: ['GET ftp://orders.example/a HTTP/1.1\r\nhost: o\r\n\r\n'], status: 400, flags: 'DPE' },
    { name: 'CONNECT without a CONNECT route: 404 route_not_found, not a dropped socket', send: ['CONNECT orders.example:443 HTTP/1.1\r\nhost: orders.example:443\r\n\r\n'],
      status: 404, flags: 'NR' },
    { name: 'garbage request line: 400 codec error', send: ['\x01\x02 nonsense\r\n\r\n'], status: 400, flags: 'DPE', body: 'Bad Request' },
    { name: 'malformed chunked body: 400 and DPE', send: [`POST /slow HTTP/1.1\r\nhost: o\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n`, 'zz\r\n'],
      status: 400, flags: 'DPE' },
    { name: 'body aborted by the client: stream ends with DC', send: [`POST /slow HTTP/1.1\r\nhost: o\r\ncontent-length: 100000\r\n\r\n`, 'x'.repeat(1000)],
      abortAfterMs: 50, status: 0, flags: 'DC' },
    { name: 'client gone while the upstream answers: DC', send: [`GET /slow HTTP/1.1\r\nhost: o\r\n\r\n`], abortAfterMs: 50, status: 0, flags: 'DC' },
  ];
}

test.before(async () => {
  orders = await upstream();
  other = await upstream();
  plugin = new ObservedPlugin(await ProxyWasmPlugin.create({
    wasm: releaseFilter(), configuration: JSON.stringify({ paths: { templates: ['/api/orders/{id}'] } }), workers: 2,
  }));
  sidecar = await startSidecarWith(plugin, {
    listener: { port: 0 }, admin: { port: 0 },
    clusters: { orders: { endpoints: [orders.address] }, other: { endpoints: [other.address] } },
    routes: [{ authority: 'orders.example', cluster: 'orders' }, { cluster: 'other' }],
  });
});
test.after(async () => {
  await sidecar.close();
  await orders.close();
  await other.close();
});

async function runCase(c: Case): Promise<void> {
  const logged = plugin.nextLog();
  const r = await raw(sidecar.listenerPort, c.send, { abortAfterMs: c.abortAfterMs });
  const info = await logged;
  assert.is(r.status, c.status, `${c.name}: status (got ${JSON.stringify(r.head.slice(0, 80))})`);
  if (c.abortAfterMs === undefined) assert.ok(r.closed, `${c.name}: the sidecar closed the connection after answering`);
  if (c.body !== undefined) assert.is(r.body, c.body, `${c.name}: body`);
  if (c.status !== 0) assert.match(r.head, /\r\nserver: envoy/i, `${c.name}: answered by the sidecar`);
  assert.is(plugin.streams.length, 1, `${c.name}: one stream through the filter`);
  assert.is(info.responseCode, c.status, `${c.name}: on_log response code`);
  assert.is(info.responseFlags, c.flags, `${c.name}: response flags`);
  c.check?.(r);
  assert.ok(plugin.streams.every((s) => s.log !== undefined), `${c.name}: every stream so far reached on_log`);
  // The observer's own record (forwarded headers, up to 59 KiB here) must not be what the RSS check measures.
  plugin.streams.length = 0;
}

test('every case gets Envoy\'s answer and ends its stream in on_log with Envoy\'s flags', async () => {
  for (const c of cases()) await runCase(c);
});

test('after hundreds of hostile requests: serving, no live stream, no failed VM, no growth', async () => {
  // Warm every path until the filter's bounded state (tenants, paths, AssemblyScript's heap) has settled: linear
  // memory only ever grows by pages, so growth is judged after that, over many more rounds.
  for (let i = 0; i < 5; i++) {
    for (const c of cases()) await runCase(c);
    gc();
  }
  const vmMemory = plugin.inner.memoryBytes();
  const rss = settledRss();
  const rounds = 25;
  // A collection after every round keeps V8 from sizing its heap up on allocation rate alone, so RSS reflects what
  // is kept, which is what a leak would grow.
  for (let i = 0; i < rounds; i++) {
    for (const c of cases()) await runCase(c);
    gc();
  }
  // Let the last aborted upstream attempts unwind before counting.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(plugin.inner.activeStreams(), [0, 0], 'no stream context left open in any worker VM');
  const rqActive = async () => /\.downstream_rq_active: (\d+)\n/.exec((await request(sidecar.adminPort, '/stats')).body)?.[1];
  assert.is(await rqActive(), '0', 'admin /stats: the HCM has no stream open');
  assert.equal(plugin.inner.failedVms(), []);
  // AssemblyScript's collector may take one more page doubling before it settles (seen around 300 streams); the
  // leak this guards against grew a worker VM from 256 KiB to 2 MiB with its open streams.
  plugin.inner.memoryBytes().forEach((bytes, i) => assert.ok(bytes <= 2 * vmMemory[i]!, `VM ${i}: ${bytes} bytes after, ${vmMemory[i]} before`));
  const after = settledRss();
  assert.ok(after <= rss * 1.1, `RSS ${(after / 2 ** 20).toFixed(1)} MiB within 10 % of ${(rss / 2 ** 20).toFixed(1)} MiB`);
  // The counts are live, not constant: one request held by the upstream shows in both.
  const seen = other.count;
  const logged = plugin.nextLog();
  const held = raw(sidecar.listenerPort, [`GET /slow HTTP/1.1\r\nhost: o\r\n${CLOSE}\r\n`]);
  while (other.count === seen) await new Promise((r) => setTimeout(r, 5));
  assert.is(await rqActive(), '1');
  assert.is(plugin.inner.activeStreams().reduce((a, b) => a + b, 0), 1);
  assert.is((await held).status, 200, 'the upstream answers /slow after 2 s');
  await logged;
  assert.is(await rqActive(), '0');
  const ok = await request(sidecar.listenerPort, '/api/orders/1', { host: 'orders.example' });
  assert.is(ok.status, 200, 'still serving');
  const prom = plugin.stats.renderPrometheus();
  assert.match(prom, /\nenvoy_wasm_envoy_wasm_runtime_v8_active\{\} \d+\n/, 'Envoy\'s VM gauge is exported');
  assert.match(prom, '\nenvoy_wasm_meshlens_vm_reload_failure{} 0\n');
});

test.run();
