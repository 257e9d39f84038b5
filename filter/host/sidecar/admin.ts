// A read-only slice of Envoy's admin interface: /stats/prometheus, /stats, /ready and /clusters, with the content
// types and anti-caching headers Envoy's admin sends.
import http from 'node:http';
import type { ClusterPool } from './upstream-pool.ts';

export interface AdminStats {
  renderPrometheus(): string;
  /** Renders without holding the event loop (EnvoyStats: a piece at a time); used when present. */
  renderPrometheusAsync?(): Promise<string>;
  renderText(): string;
}

export interface AdminOptions {
  stats: AdminStats;
  clusters: ReadonlyMap<string, ClusterPool>;
  isReady?: () => boolean;
}

const TEXT_UTF8 = 'text/plain; charset=UTF-8';
const COMMANDS = ['/clusters', '/ready', '/stats', '/stats/prometheus'];

// Envoy's default circuit-breaker thresholds, printed per priority like its /clusters output.
const THRESHOLDS: [string, number][] = [
  ['max_connections', 1024],
  ['max_pending_requests', 1024],
  ['max_requests', 1024],
  ['max_retries', 3],
];

export function renderClusters(clusters: ReadonlyMap<string, ClusterPool>): string {
  const lines: string[] = [];
  for (const [name, pool] of clusters) {
    lines.push(`${name}::observability_name::${name}`);
    for (const priority of ['default_priority', 'high_priority']) {
      for (const [key, value] of THRESHOLDS) lines.push(`${name}::${priority}::${key}::${value}`);
    }
    lines.push(`${name}::added_via_api::false`);
    for (const e of pool.endpointStats()) {
      const host = `${name}::${e.address}`;
      lines.push(
        `${host}::cx_active::${e.cxActive}`,
        `${host}::cx_connect_fail::${e.cxConnectFail}`,
        `${host}::cx_total::${e.cxTotal}`,
        `${host}::rq_error::${e.rqError}`,
        `${host}::rq_success::${e.rqSuccess}`,
        `${host}::rq_timeout::${e.rqTimeout}`,
        `${host}::rq_total::${e.rqTotal}`,
        `${host}::hostname::`,
        `${host}::health_flags::healthy`,
        `${host}::weight::1`,
        `${host}::priority::0`,
        `${host}::success_rate::-1`,
        `${host}::local_origin_success_rate::-1`,
      );
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

export function createAdmin(options: AdminOptions): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string): void => {
      res.writeHead(status, {
        'content-type': TEXT_UTF8,
        'cache-control': 'no-cache, max-age=0',
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'This endpoint requires GET\n');
      return;
    }
    switch (path) {
      case '/stats/prometheus':
        if (options.stats.renderPrometheusAsync) {
          options.stats.renderPrometheusAsync().then((body) => send(200, body), (e: Error) => send(500, `${e.message}\n`));
        } else send(200, options.stats.renderPrometheus());
        return;
      case '/stats':
        send(200, options.stats.renderText());
        return;
      case '/ready': {
        const ready = options.isReady?.() ?? true;
        send(ready ? 200 : 503, ready ? 'LIVE\n' : 'PRE_INITIALIZING\n');
        return;
      }
      case '/clusters':
        send(200, renderClusters(options.clusters));
        return;
      default:
        send(404, `invalid path. admin commands are:\n${COMMANDS.map((c) => `  ${c}\n`).join('')}`);
    }
  });
}
