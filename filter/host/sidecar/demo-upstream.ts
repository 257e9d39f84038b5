// The demo application behind `npm start`: a small HTTP service with realistic REST paths, some failing and some
// slow, so the filter's metrics, breaker and retry decisions have something to show.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoUpstream {
  address: string; // "127.0.0.1:port"
  close(): Promise<void>;
}

export interface DemoUpstreamOptions {
  port?: number; // default 0 (ephemeral)
  random?: () => number; // drives the failure and latency draws
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startDemoUpstream(opts: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const random = opts.random ?? Math.random;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0]!;
    let match: RegExpExecArray | null;
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/api/orders') return json(res, 200, { orders: [{ id: '1001' }, { id: '1002' }] });
    if ((match = /^\/api\/orders\/([^/]+)$/.exec(path))) {
      return json(res, 200, { id: match[1], status: 'shipped', tenant: req.headers['x-tenant-id'] ?? null });
    }
    // Payments fail one time in four with 503, the way an overloaded dependency does.
    if ((match = /^\/api\/payments\/([^/]+)$/.exec(path))) {
      if (random() < 0.25) return json(res, 503, { error: 'payment provider unavailable' });
      return json(res, 200, { id: match[1], state: 'captured' });
    }
    // Inventory is slow: 200–1000 ms, above the default 800 ms slow-call threshold now and then.
    if ((match = /^\/api\/inventory\/([^/]+)$/.exec(path))) {
      const sku = match[1];
      setTimeout(() => json(res, 200, { sku, available: 7 }), 200 + Math.floor(random() * 800));
      return;
    }
    if (path === '/api/flaky') {
      if (random() < 0.5) return json(res, 500, { error: 'internal error' });
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'not found' });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
