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
  /** The listener's HTTP connection manager: its stat_prefix and the streams it has open right now. */
  http?: { statPrefix(): string; downstreamRqActive(): number };
}

/**
 * Adds the HCM's http.<stat_prefix>.downstream_rq_active gauge to the plugin's /stats text, keeping Envoy's
 * order (scalars by name, then histograms).
 */
export function withHttpStatsText(text: string, statPrefix: string, active: number): string {
  const name = `http.${statPrefix}.downstream_rq_active`;
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');
  const at = lines.findIndex((l) => {
    const colon = l.lastIndexOf(': ');
    return !/^-?[\d.e+]+$/.test(l.slice(colon + 2)) || l.slice(0, colon) > name;
  });
  lines.splice(at < 0 ? lines.length : at, 0, `${name}: ${active}`);
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * The same gauge in Prometheus form: Envoy's built-in tag extractor takes the prefix out of http.$.** as
 * envoy_http_conn_manager_prefix (envoy v1.36.0 source/common/config/well_known_names.cc), so the family is
 * envoy_http_downstream_rq_active, placed among the gauges in name order (counters, gauges, histograms).
 */
export function withHttpStatsPrometheus(text: string, statPrefix: string, active: number): string {
  const family = 'envoy_http_downstream_rq_active';
  const block = `# TYPE ${family} gauge\n${family}{envoy_http_conn_manager_prefix="${statPrefix}"} ${active}\n`;
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
  const next = types.find((m) => m[2] === 'histogram' || (m[2] === 'gauge' && m[1]! > family));
  if (!next) return text + block;
  return text.slice(0, next.index) + block + text.slice(next.index);
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
      case '/stats/prometheus': {
        // Rendered a piece at a time when the stats can, so a large scrape does not stall the request path.
        const withHttp = (text: string) =>
          options.http ? withHttpStatsPrometheus(text, options.http.statPrefix(), options.http.downstreamRqActive()) : text;
        if (options.stats.renderPrometheusAsync) {
          options.stats.renderPrometheusAsync().then((body) => send(200, withHttp(body)), (e: Error) => send(500, `${e.message}\n`));
        } else send(200, withHttp(options.stats.renderPrometheus()));
        return;
      }
      case '/stats': {
        const text = options.stats.renderText();
        send(200, options.http ? withHttpStatsText(text, options.http.statPrefix(), options.http.downstreamRqActive()) : text);
        return;
      }
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
