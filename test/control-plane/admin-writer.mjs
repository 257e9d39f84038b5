// Admin writes over HTTP from their own thread, for flood.test.ts (plain JavaScript: a worker thread does not get
// tsx's loader): an operator writes from elsewhere, so what is
// measured is how long the control plane takes to answer, not how late this test process's event loop, busy with
// the flood's own gRPC clients, reads the answer (on the main thread, those clients' work was most of the p99).
// Protocol: workerData { httpPort, id, token }; posts 'baseline' after 20 writes alone, writes (20 ms apart) until
// it is sent 'stop' and has made at least 20 more, then posts { baseline, latencies } (ms) or { error }.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const { httpPort, id, token } = workerData;
let stopped = false;
parentPort.on('message', (message) => { if (message === 'stop') stopped = true; });

async function request(method, body) {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/policies/${id}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, json, text };
}

let version = (await request('GET')).json?.version ?? 0;
async function write() {
  const started = performance.now();
  const answer = await request('PUT', { expectedVersion: version, policy: { breaker: { openMs: 1000 + version } } });
  const elapsed = performance.now() - started;
  if (answer.status !== 200) throw new Error(`admin write answered ${answer.status}: ${answer.text}`);
  version = answer.json.version;
  return elapsed;
}

try {
  const baseline = [];
  for (let i = 0; i < 20; i++) baseline.push(await write());
  parentPort.postMessage('baseline');
  const latencies = [];
  while (!stopped || latencies.length < 20) {
    latencies.push(await write());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  parentPort.postMessage({ baseline, latencies });
} catch (error) {
  parentPort.postMessage({ error: String(error) });
}
