import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GET, lines, only, probe, within } from './support.ts';

const raw = (b: Buffer) => b;
function echoService(handler: grpc.handleUnaryCall<Buffer, Buffer>): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService({
    Say: { path: '/probe.Echo/Say', requestStream: false, responseStream: false,
      requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
  } as grpc.ServiceDefinition, { Say: handler });
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) reject(err); else resolve({ server, port });
  }));
}

const callouts = suite('callouts: proxy_grpc_call over a real gRPC server');
// Cleanups run even when an assertion fails, so a failing case cannot leave a server keeping the process alive.
const cleanups: (() => unknown)[] = [];
callouts.after.each(async () => { for (const c of cleanups.splice(0)) await c(); });

callouts('the call is attributed to the root context; the stream resumes through set_effective_context', async () => {
  const seen: string[] = [];
  const { server, port } = await echoService((call, cb) => { seen.push(call.request.toString()); cb(null, Buffer.concat([Buffer.from('pong:'), call.request])); });
  cleanups.push(() => server.forceShutdown());
  const { plugin } = await probe({ clusters: { 'control-plane': { address: `127.0.0.1:${port}` } } });
  cleanups.push(() => plugin.close());
  const stream = plugin.openStream(0, { cluster: 'c' });
  const first = stream.requestHeaders(GET('/grpc'), true);
  assert.equal(first, { action: 'paused' });
  assert.is(only(plugin, 'grpc.call'), 'grpc.call status=0 token=5', 'first gRPC call token of a VM is 5');
  const resumed = await within(stream.whenResumed!());
  assert.equal(resumed, { action: 'continue' });
  assert.equal(seen, ['ping']);
  assert.is(only(plugin, 'grpc.receive'), 'grpc.receive root=1 token=5 body=pong:ping', 'delivered to the root id, not stream 2');
  assert.is(only(plugin, 'grpc.effective='), 'grpc.effective=0');
  assert.is(only(plugin, 'grpc.continue='), 'grpc.continue=0');
  assert.equal(stream.forwardedRequestHeaders().at(-1), ['x-probe', 'seen']);
  stream.responseHeaders([[':status', '200']], true);
  stream.log({ responseCode: 200, durationMs: 4 });
  assert.equal(lines(plugin, 'order=', 'worker-0'), ['order=log ctx=2', 'order=done ctx=2', 'order=delete ctx=2']);
  assert.is(plugin.callCounts().proxy_grpc_call, 1);
});

callouts('a failed call arrives as on_grpc_close with get_status; a local reply from the root reaches the paused stream', async () => {
  const { server, port } = await echoService((_call, cb) => cb({ code: grpc.status.UNAVAILABLE, details: 'backend down' }));
  cleanups.push(() => server.forceShutdown());
  const { plugin } = await probe({ clusters: { 'control-plane': { address: `127.0.0.1:${port}` } } });
  cleanups.push(() => plugin.close());
  const stream = plugin.openStream(1, { cluster: 'c' });
  assert.equal(stream.requestHeaders(GET('/grpc'), true), { action: 'paused' });
  const resumed = await within(stream.whenResumed!());
  assert.is(only(plugin, 'grpc.close'), 'grpc.close root=1 token=5 status=14 message=backend down');
  assert.is(resumed.action, 'localReply');
  if (resumed.action !== 'localReply') return;
  assert.is(resumed.reply.status, 502);
  assert.is(resumed.reply.details, 'probe_upstream_failed');
  assert.is(resumed.reply.grpcStatus, 14);
});

callouts('an unknown cluster is PARSE_FAILURE and no token is issued', async () => {
  const { plugin } = await probe({ clusters: {} });
  cleanups.push(() => plugin.close());
  const r = plugin.request(0, { cluster: 'c', requestHeaders: GET('/grpc-unknown'), response: { responseCode: 200, durationMs: 1 } });
  assert.is(only(plugin, 'grpc.call'), 'grpc.call status=4 token=-');
  assert.not.ok(r.paused);
});
callouts('proxy_grpc_stream: initial metadata, messages, trailing metadata and close all reach the root', async () => {
  const server = new grpc.Server();
  const received: string[] = [];
  let metadataSeen = '';
  server.addService({
    Chat: { path: '/probe.Echo/Chat', requestStream: true, responseStream: true,
      requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
  } as grpc.ServiceDefinition, {
    Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      metadataSeen = String(call.metadata.get('x-probe-md')[0] ?? '');
      const md = new grpc.Metadata(); md.set('x-server', 'echo');
      call.sendMetadata(md);
      call.on('data', (b: Buffer) => { received.push(b.toString()); call.write(Buffer.from(`echo:${b}`)); });
      call.on('end', () => { const t = new grpc.Metadata(); t.set('x-trailer', 'bye'); call.end(t); });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => e ? reject(e) : resolve(p)));
  cleanups.push(() => server.forceShutdown());
  let onClose: () => void = () => {};
  const closed = new Promise<void>((resolve) => { onClose = resolve; });
  const { plugin } = await probe({
    clusters: { 'control-plane': { address: `127.0.0.1:${port}` } },
    onLog: (e) => { if (e.message.startsWith('grpc.close')) onClose(); },
  });
  cleanups.push(() => plugin.close());
  const r = plugin.request(0, { cluster: 'c', requestHeaders: GET('/stream'), response: { responseCode: 200, durationMs: 1 } });
  assert.not.ok(r.paused, 'a stream opened from a request does not hold the request');
  assert.is(only(plugin, 'stream.open'), 'stream.open status=0 token=6', 'first gRPC stream token is 6');
  assert.is(only(plugin, 'stream.send='), 'stream.send=0 send_on_call_token=2 send_unknown=1');
  await within(closed);
  assert.equal(received, ['hello']);
  assert.is(metadataSeen, '1', 'initial metadata from the pairs reached the server');
  assert.is(only(plugin, 'stream.initial'), 'stream.initial root=1 token=6 server=0:echo');
  assert.is(only(plugin, 'grpc.receive'), 'grpc.receive root=1 token=6 body=echo:hello');
  assert.is(only(plugin, 'stream.close='), 'stream.close=0', 'half-close keeps the stream until the remote closes');
  assert.is(only(plugin, 'stream.trailing'), 'stream.trailing root=1 token=6 trailer=0:bye');
  assert.is(only(plugin, 'grpc.close'), 'grpc.close root=1 token=6 status=0 message=OK');
});
callouts.run();

const httpCalls = suite('callouts: proxy_http_call over real HTTP');
const httpCleanups: (() => unknown)[] = [];
httpCalls.after.each(async () => { for (const c of httpCleanups.splice(0)) await c(); });

httpCalls('the response reaches the root with maps 6/7 and buffer 4; the stream resumes', async () => {
  const seen: { path?: string; host?: string; from?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url, host: req.headers.host, from: req.headers['x-from'] as string });
    res.writeHead(201, { 'x-echo': 'yes' });
    res.end('hello back');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  httpCleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  const { plugin } = await probe({ clusters: { web: { address: `127.0.0.1:${port}` } } });
  httpCleanups.push(() => plugin.close());
  const stream = plugin.openStream(1, { cluster: 'c' });
  assert.equal(stream.requestHeaders(GET('/http'), true), { action: 'paused' });
  assert.is(only(plugin, 'http.call'), 'http.call status=0 token=4', 'first HTTP call token is 4');
  assert.equal(await within(stream.whenResumed!()), { action: 'continue' });
  assert.equal(seen, [{ path: '/hello', host: 'web.local', from: 'probe' }]);
  const response = only(plugin, 'http.response');
  assert.match(response, /^http\.response root=1 token=4 headers=\d+ status=0:201 echo=0:yes body=hello back$/);
});

httpCalls('missing :authority or an unknown cluster is BAD_ARGUMENT', async () => {
  const { plugin } = await probe({ clusters: { web: { address: '127.0.0.1:9' } } });
  httpCleanups.push(() => plugin.close());
  plugin.request(0, { cluster: 'c', requestHeaders: GET('/http-no-authority'), response: { responseCode: 200, durationMs: 1 } });
  assert.is(only(plugin, 'http.call'), 'http.call status=2 token=-');
  const { plugin: other } = await probe({ clusters: {} });
  httpCleanups.push(() => other.close());
  other.request(0, { cluster: 'c', requestHeaders: GET('/http'), response: { responseCode: 200, durationMs: 1 } });
  assert.is(only(other, 'http.call'), 'http.call status=2 token=-');
});

httpCalls('a refused connection arrives as Envoy\'s 503 local response, not a failure', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  const { plugin } = await probe({ clusters: { web: { address: `127.0.0.1:${port}` } } });
  httpCleanups.push(() => plugin.close());
  const stream = plugin.openStream(0, { cluster: 'c' });
  assert.equal(stream.requestHeaders(GET('/http'), true), { action: 'paused' });
  await within(stream.whenResumed!());
  assert.match(only(plugin, 'http.response'), 'status=0:503');
  assert.match(only(plugin, 'http.response'), 'body=upstream connect error');
});
httpCalls.run();
