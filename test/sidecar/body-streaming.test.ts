// Request bodies stream through the sidecar (the meshlens filter registers no on_request_body, so nothing needs them
// whole): a 256 MB upload moves RSS by a small fraction of its size, and the router keeps a replay copy only up to
// Envoy's 1 MiB buffer limit — under it a retry resends the whole body, over it retries are abandoned.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProxyWasmPlugin } from '../../filter/host/index.ts';
import { startSidecarWith, type SidecarWith } from '../../filter/host/sidecar/index.ts';
import { DEFAULT_BUFFER_LIMIT_BYTES } from '../../filter/host/sidecar/request-body.ts';
import { releaseFilter } from '../host/support.ts';
import { ObservedPlugin, RecordingPlugin } from './support.ts';

const test = suite('streamed request bodies');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** An upstream that counts body bytes without keeping them; `failFirst` answers the first N requests 503. */
async function countingUpstream(failFirst = 0) {
  const received: number[] = [];
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      received.push(n);
      res.writeHead(received.length <= failFirst ? 503 : 200);
      res.end(String(n));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** POSTs `total` bytes in 64 KiB chunks, honouring backpressure, so the client holds one chunk at a time. */
function upload(port: number, total: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false,
      headers: { host: 'orders', 'content-length': String(total), ...headers } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

let plugin: ObservedPlugin;
let sidecar: SidecarWith<ObservedPlugin | RecordingPlugin>;
let up: Awaited<ReturnType<typeof countingUpstream>>;

/**
 * The release filter sets x-envoy-retry-on itself (its retry policy), so the replay tests, which are about the
 * router, run with the recording stand-in that forwards the client's retry headers unchanged.
 */
async function start(failFirst = 0, filter: 'release' | 'recording' = 'release'): Promise<void> {
  up = await countingUpstream(failFirst);
  const host = filter === 'release'
    ? new ObservedPlugin(await ProxyWasmPlugin.create({ wasm: releaseFilter(), configuration: '{}', workers: 1 }))
    : new RecordingPlugin(1);
  if (host instanceof ObservedPlugin) plugin = host;
  sidecar = await startSidecarWith(host, {
    listener: { port: 0 }, admin: { port: 0 }, clusters: { orders: { endpoints: [up.address] } }, routes: [{ cluster: 'orders' }],
  });
}
test.after.each(async () => {
  await sidecar.close();
  await up.close();
});

/**
 * The client and the upstream live in a child process, so this process's RSS is the sidecar's alone (Node's own
 * buffer churn for 100 MB through one client and one server in a process is ~37 MiB before any GC).
 */
const PEER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => res.end(String(n)));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
process.stdin.once('data', (d) => {
  const { port, total } = JSON.parse(String(d));
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false,
    headers: { host: 'orders', 'content-length': String(total) } }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body }) + '\\n'); server.close(); process.stdin.destroy(); });
  });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < total) { sent += chunk.length; if (!req.write(chunk)) return void req.once('drain', pump); }
    req.end();
  };
  pump();
});
`;

test('a 256 MB body streams through: the sidecar\'s RSS grows by a small fraction of it, the upstream gets every byte', async () => {
  const peer = spawn(process.execPath, ['-e', PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
  try {
    const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
    up = { address: `127.0.0.1:${port}`, received: [], close: async () => {} };
    plugin = new ObservedPlugin(await ProxyWasmPlugin.create({ wasm: releaseFilter(), configuration: '{}', workers: 1 }));
    sidecar = await startSidecarWith(plugin, {
      listener: { port: 0 }, admin: { port: 0 }, clusters: { orders: { endpoints: [up.address] } }, routes: [{ cluster: 'orders' }],
    });
    // RSS after a collection still moves by several MiB between samples on its own (malloc arenas of V8's and
    // libuv's threads: 0-7 MiB peak growth over 100 MB here, and over 10 MiB once in CI), noise that does not grow with
    // the body. The body is large enough for a tenth of it to stand well clear of that noise; buffering it whole
    // would grow RSS by about twice its size.
    const total = 256 * 1024 * 1024;
    for (let i = 0; i < 3; i++) gc();
    const before = process.memoryUsage().rss;
    let peak = before;
    // Sampled after a collection: what the sidecar holds, not the garbage of the chunks it already passed on.
    const sampler = setInterval(() => { gc(); peak = Math.max(peak, process.memoryUsage().rss); }, 25);
    const logged = plugin.nextLog();
    peer.stdin!.write(`${JSON.stringify({ port: sidecar.listenerPort, total })}\n`);
    const response = JSON.parse((await lines.next()).value as string) as { status: number; body: string };
    clearInterval(sampler);
    const info = await logged;
    assert.is(response.status, 200);
    assert.is(response.body, String(total), 'the upstream received the whole body');
    assert.is(info.requestBytes, total, 'on_log sees the bytes received');
    const growth = peak - before;
    // Buffering it whole (as before) grew RSS by ~190 MB; streaming holds socket buffers and the 1 MiB replay copy
    // that is dropped once the body passes it.
    assert.ok(growth < total / 10, `peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB for a ${total / 2 ** 20} MiB body`);
    assert.equal(plugin.inner.activeStreams(), [0]);
  } finally {
    peer.kill();
  }
});

test('under the 1 MiB buffer limit a retry resends the whole body', async () => {
  await start(1, 'recording');
  const size = 512 * 1024;
  const response = await upload(sidecar.listenerPort, size, { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '1' });
  assert.is(response.status, 200);
  assert.equal(up.received, [size, size], 'both attempts carried the whole body');
});

test('over the 1 MiB buffer limit retries are abandoned (Envoy drops its copy): the 503 is passed on', async () => {
  await start(1, 'recording');
  const size = DEFAULT_BUFFER_LIMIT_BYTES + 64 * 1024;
  const response = await upload(sidecar.listenerPort, size, { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '1' });
  assert.is(response.status, 503);
  assert.equal(up.received, [size], 'one attempt only');
});

test.run();
