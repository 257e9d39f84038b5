// Optional mTLS on the gRPC port: with --tls-cert/--tls-key/--tls-ca a filter must present a client certificate
// signed by the CA (and still the proxy bearer token); without one the handshake fails.
import * as grpc from '@grpc/grpc-js';
import https from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { needs } from '../support/skip.ts';
import { hasOpenssl, makePki } from '../support/pki.ts';
import { DiscoveryStream, startTestPlane, within } from './helpers.ts';

const test = suite('mtls');

needs(hasOpenssl ? null : 'openssl CLI to create test certificates', test)('client certificate required and accepted', async () => {
  const pki = mkdtempSync(join(tmpdir(), 'meshlens-pki-'));
  makePki(pki);
  const file = (name: string) => join(pki, name);
  const plane = await startTestPlane({ tls: { certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt') } });
  try {
    const withCert = new grpc.Client(`127.0.0.1:${plane.grpcPort}`,
      grpc.credentials.createSsl(readFileSync(file('ca.crt')), readFileSync(file('client.key')), readFileSync(file('client.crt'))));
    const stream = new DiscoveryStream(withCert, plane.proxyToken);
    stream.send({ node: { id: 'n', worker: 'w' } });
    assert.is((await within(stream.next(), 5000, 'response over mTLS')).versionInfo, '0');
    stream.end();
    withCert.close();

    const withoutCert = new grpc.Client(`127.0.0.1:${plane.grpcPort}`, grpc.credentials.createSsl(readFileSync(file('ca.crt'))));
    const refused = new DiscoveryStream(withoutCert, plane.proxyToken);
    refused.send({ node: { id: 'n', worker: 'w' } });
    assert.is((await within(refused.status, 5000, 'refusal')).code, grpc.status.UNAVAILABLE);
    withoutCert.close();
  } finally {
    await plane.stop();
    rmSync(pki, { recursive: true, force: true });
  }
});

needs(hasOpenssl ? null : 'openssl CLI to create test certificates', test)('the HTTP admin API serves HTTPS with the same certificate options', async () => {
  const pki = mkdtempSync(join(tmpdir(), 'meshlens-pki-'));
  makePki(pki);
  const file = (name: string) => join(pki, name);
  const plane = await startTestPlane({ tls: { certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt') } });
  const get = (options: https.RequestOptions) => new Promise<{ status?: number; error?: string }>((resolve) => {
    const req = https.request({ host: '127.0.0.1', port: plane.httpPort, path: '/v1/policies', headers: { authorization: `Bearer ${plane.adminToken}` }, ...options },
      (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode })); });
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
  try {
    assert.is((await get({ ca: readFileSync(file('ca.crt')), cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) })).status, 200);
    assert.ok((await get({ ca: readFileSync(file('ca.crt')) })).error, 'no client certificate: refused in the handshake');
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: plane.httpPort, path: '/healthz' }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    assert.not.match(plain, /^HTTP 200/, `plaintext answered: ${plain}`);
  } finally {
    await plane.stop();
    rmSync(pki, { recursive: true, force: true });
  }
});

test.run();
