// `npm start`: the demo upstream, and the sidecar running the release filter in front of it, like a pod with Envoy.
// Ports: MESHLENS_LISTENER_PORT (10000), MESHLENS_ADMIN_PORT (15000); MESHLENS_FILTER_CONFIG replaces the plugin
// configuration JSON.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startDemoUpstream } from './sidecar/demo-upstream.ts';
import { startSidecar } from './sidecar/index.ts';

const FILTER = fileURLToPath(new URL('../build/meshlens.wasm', import.meta.url));
const DEMO_CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';

const DEFAULT_FILTER_CONFIG = {
  tenant: { headers: ['x-tenant-id'], maxTenants: 100 },
  paths: { templates: ['/api/orders/{id}', '/api/payments/{id}', '/api/inventory/{sku}'] },
  tickMs: 200,
  reportIntervalMs: 1000,
  node: { id: 'sidecar~127.0.0.1~demo-1.default~default.svc.cluster.local', workload: 'demo', namespace: 'default' },
};

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`invalid environment: ${name} must be a port in [0, 65535]`);
  return value;
}

async function main(): Promise<void> {
  if (!existsSync(FILTER)) {
    process.stderr.write(`meshlens: ${FILTER} is missing; build it with: npm run build:filter\n`);
    process.exit(1);
  }
  const upstream = await startDemoUpstream();
  const sidecar = await startSidecar({
    wasm: readFileSync(FILTER),
    configuration: process.env.MESHLENS_FILTER_CONFIG ?? JSON.stringify(DEFAULT_FILTER_CONFIG),
    listener: { port: port('MESHLENS_LISTENER_PORT', 10000) },
    admin: { port: port('MESHLENS_ADMIN_PORT', 15000) },
    clusters: { [DEMO_CLUSTER]: { endpoints: [upstream.address] } },
    routes: [{ prefix: '/', cluster: DEMO_CLUSTER, timeoutMs: 15000 }],
  }).catch(async (err: unknown) => {
    await upstream.close();
    throw err;
  });
  const listener = `http://127.0.0.1:${sidecar.listenerPort}`;
  process.stdout.write(
    [
      `meshlens sidecar listening on ${listener} (filter ${FILTER}, ${sidecar.plugin.workerCount} workers)`,
      `  admin:          http://127.0.0.1:${sidecar.adminPort}/stats/prometheus  (/stats /clusters /ready)`,
      `  demo upstream:  http://${upstream.address}  (/api/orders/{id}, /api/payments/{id} 25% 503, /api/inventory/{sku} slow, /api/flaky)`,
      `  try:            curl -s -H 'x-tenant-id: acme' ${listener}/api/orders/123`,
      `                  curl -s http://127.0.0.1:${sidecar.adminPort}/stats/prometheus | grep meshlens_`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`meshlens: ${signal}, shutting down\n`);
    Promise.all([sidecar.close(), upstream.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`meshlens: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`meshlens: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
