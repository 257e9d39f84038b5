// The Prometheus `npm start` runs beside the sidecar: Debian's `prometheus` binary, when present, scraping the local
// sidecar and control plane with the very jobs and rules istio/ ships. Both are read from istio/base's ConfigMaps at
// start, so there is no second copy to drift: only Kubernetes service discovery is replaced, by static targets that
// carry the __meta_kubernetes_* labels Kubernetes would give the local "pods", and istio/'s relabel rules run as
// written on them (Debian's Prometheus is built without Kubernetes SD anyway).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ISTIO_BASE = fileURLToPath(new URL('../../istio/base/', import.meta.url));
const SCRAPE_CONFIGMAP = join(ISTIO_BASE, 'prometheus-scrape-configmap.yaml');
const RULES_CONFIGMAP = join(ISTIO_BASE, 'prometheus-rules-configmap.yaml');
const SCRAPE_KEY = 'meshlens-scrape-configs.yml';
const RULES_KEY = 'meshlens.rules.yml';

export interface LocalTargets {
  /** The sidecar's Envoy-style admin, 127.0.0.1:port (it serves /stats/prometheus). */
  envoy: string;
  /** The control plane's HTTP API, 127.0.0.1:port (it serves /metrics). */
  controlPlane: string;
  /** The local pod, as Kubernetes SD would describe it. */
  pod: { name: string; namespace: string; app: string };
}

function configMapData(file: string, key: string): string {
  const resource = parse(readFileSync(file, 'utf8')) as { data?: Record<string, string> };
  const text = resource.data?.[key];
  if (typeof text !== 'string') throw new Error(`invalid istio manifest ${file}: data.${key} must be present`);
  return text;
}

/** The recording and alerting rules, exactly as istio/ ships them. */
export function istioRules(): string {
  return configMapData(RULES_CONFIGMAP, RULES_KEY);
}

/**
 * The discovered labels of each istio/ job's local target. Values are what Kubernetes SD would report for the pod
 * (its labels, its container port's name); istio/'s relabel_configs then keep and rename them as in a cluster.
 * A job without an entry here (the node agent: `npm start` runs none) is left out.
 */
function discoveredLabels(job: string, t: LocalTargets): { address: string; labels: Record<string, string> } | undefined {
  switch (job) {
    case 'meshlens-envoy':
      return {
        address: t.envoy,
        labels: {
          // Pods opt in with this label (istio/README.md); Istio's injector names the proxy's 15090 port
          // http-envoy-prom (istio/istio 1.28.0 manifests/charts/istio-control/istio-discovery/files/injection-template.yaml).
          __meta_kubernetes_pod_label_meshlens_io_filter: 'enabled',
          __meta_kubernetes_pod_container_port_name: 'http-envoy-prom',
          __meta_kubernetes_namespace: t.pod.namespace,
          __meta_kubernetes_pod_name: t.pod.name,
          __meta_kubernetes_pod_label_app: t.pod.app,
        },
      };
    case 'meshlens-control-plane':
      return {
        address: t.controlPlane,
        // Service and port names of istio/base/control-plane-service.yaml.
        labels: {
          __meta_kubernetes_service_name: 'meshlens-control-plane',
          __meta_kubernetes_endpoint_port_name: 'http',
          __meta_kubernetes_pod_name: 'meshlens-control-plane-local',
        },
      };
    default:
      return undefined;
  }
}

export interface LocalPrometheusConfig {
  /** prometheus.yml */
  config: string;
  /** job names scraped locally, in istio/'s order */
  jobs: string[];
}

/** prometheus.yml for the local targets: istio/'s jobs with static targets instead of Kubernetes SD. */
export function localPrometheusConfig(targets: LocalTargets, rulesFile: string, scrapeIntervalSeconds: number): LocalPrometheusConfig {
  const jobs = parse(configMapData(SCRAPE_CONFIGMAP, SCRAPE_KEY)) as Record<string, unknown>[];
  const scrapeConfigs: Record<string, unknown>[] = [];
  for (const job of jobs) {
    const local = discoveredLabels(String(job.job_name), targets);
    if (local === undefined) continue;
    const { kubernetes_sd_configs: _sd, ...rest } = job;
    scrapeConfigs.push({ ...rest, static_configs: [{ targets: [local.address], labels: local.labels }] });
  }
  const interval = `${scrapeIntervalSeconds}s`;
  const config = stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: [rulesFile],
    scrape_configs: scrapeConfigs,
  });
  return { config, jobs: scrapeConfigs.map((j) => String(j.job_name)) };
}

export interface LocalPrometheus {
  url: string;
  port: number;
  jobs: string[];
  close(): Promise<void>;
}

export interface StartPrometheusOptions {
  bin: string;
  /** 0 = a free loopback port */
  port: number;
  /** Configuration, rules and the TSDB go here. */
  dir: string;
  targets: LocalTargets;
  scrapeIntervalSeconds?: number;
  readyTimeoutMs?: number;
}

/** Why the binary cannot run (a sentence), or null when `<bin> --version` answers. */
export function prometheusUnavailable(bin: string): string | null {
  const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  if (probe.error) return `${bin} not found (Debian package "prometheus"; \`bash .ci/setup\` installs it)`;
  if (probe.status !== 0) return `${bin} --version exited with ${probe.status}`;
  return null;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts Prometheus and resolves once it answers /-/ready; rejects (and stops it) when it exits or never gets ready. */
export async function startPrometheus(opts: StartPrometheusOptions): Promise<LocalPrometheus> {
  mkdirSync(join(opts.dir, 'data'), { recursive: true });
  const rulesFile = join(opts.dir, RULES_KEY);
  writeFileSync(rulesFile, istioRules());
  const { config, jobs } = localPrometheusConfig(opts.targets, rulesFile, opts.scrapeIntervalSeconds ?? 5);
  const configFile = join(opts.dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  // An ephemeral port is probed first, and another process may take it before Prometheus binds: retry then.
  let lastError: unknown;
  for (let attempt = 0; attempt < (opts.port === 0 ? 3 : 1); attempt++) {
    const port = opts.port === 0 ? await freeLoopbackPort() : opts.port;
    const child = spawn(opts.bin, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(opts.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // The data dir lives on the operator's disk: bounded in age and size.
      '--storage.tsdb.retention.time=2d',
      '--storage.tsdb.retention.size=512MB',
      '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // npm start exiting any other way than through close() (process.exit on a fatal error) takes Prometheus along.
    const killOnExit = () => child.kill('SIGTERM');
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    };
    try {
      await waitReady(url, child, opts.readyTimeoutMs ?? 60_000, () => log);
      return { url, port, jobs, close: stop };
    } catch (err) {
      lastError = err;
      await stop();
    }
  }
  throw lastError;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Prometheus has no readiness event to wait on other than its own endpoint.
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}): ${log().trim()}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  throw new Error(`prometheus not ready after ${timeoutMs} ms: ${log().trim()}`);
}
