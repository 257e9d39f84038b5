// bpf/Containerfile built with buildah on the local Debian base, its app stage made on the host (image-app.sh and
// bpf/Makefile's loader rule, test/images/support.ts), and started with `buildah run --isolation chroot`: the loader
// runs against the image's own libbpf/libelf/zlib (installed by the Containerfile), and the compiled agent starts
// without tsx, serves /metrics and delivers KernelTelemetry reports over gRPC to a server on the host (chroot
// isolation shares the host's network namespace), with its eBPF program when given the capabilities, else on
// `ss -ti` with the reason logged.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { startKernelTelemetryServer } from '../bpf/helpers/kernel-telemetry-server.ts';
import { kernelTestsMissing } from '../bpf/helpers/netns.ts';
import {
  buildImage, devOnlyPackages, directorySize, localBase, loudly, missingForImages, removeApp, sharedBuildah, stageApp,
  stopDetached, withMountedImage, type Buildah, type StagedApp,
} from './support.ts';

const missing = missingForImages();
const image = 'localhost/meshlens-test/node-agent:test';
const t = suite('node-agent image');
let buildah: Buildah;
let staged: StagedApp | undefined;
let entrypoint: string[] = [];

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  const base = await localBase(buildah);
  console.log(`local base ready in ${((Date.now() - started) / 1000).toFixed(1)} s (mmdebstrap run now: ${base.built})`);
  staged = await stageApp('node-agent');
  console.log(`/app staged on the host in ${staged.seconds.toFixed(1)} s (made now: ${staged.built.join(', ') || 'nothing, cached'})`);
  const seconds = await buildImage(buildah, base.image, 'node-agent', staged, image);
  console.log(`node-agent image built in ${seconds.toFixed(1)} s (storage driver ${buildah.driver})`);
  entrypoint = (await buildah.inspectImage(image)).config.Entrypoint ?? [];
}));

t.after(async () => {
  if (missing) return;
  await buildah.removeContainers();
  // The image stays tagged: removing it would also remove its cached layers (the node agent's apt-get), and the next
  // run's build of the same name replaces it; the shared storage has its own size bound.
  removeApp(staged);
});

const test = needs(missing, t);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

test('runtime image: compiled agent, loader, no devDependency, no toolchain', async () => {
  const sizes = await withMountedImage(buildah, image, (rootfs) => {
    const app = join(rootfs, 'app');
    assert.ok(existsSync(join(app, 'bpf/agent/main.js')), 'compiled entry point');
    assert.not.ok(existsSync(join(app, 'bpf/agent/main.ts')), 'no TypeScript sources');
    assert.ok(existsSync(join(app, 'bpf/.output/retrans')), 'the loader where main.ts looks for it (../.output/retrans)');
    for (const name of devOnlyPackages()) assert.not.ok(existsSync(join(app, 'node_modules', name)), `devDependency ${name} in the image`);
    for (const tool of ['gcc', 'clang', 'bpftool', 'make', 'npm']) assert.not.ok(existsSync(join(rootfs, 'usr/bin', tool)), `${tool} in the runtime image`);
    return { app: directorySize(app), total: directorySize(rootfs) };
  });
  console.log(`node-agent image: /app ${(sizes.app / 1e6).toFixed(1)} MB, root filesystem ${(sizes.total / 1e6).toFixed(1)} MB`);
  assert.ok(sizes.app < 80e6, `/app is ${sizes.app} bytes`);
});

test('the loader resolves its shared libraries in the image and answers --help', async () => {
  const container = await buildah.from(image);
  const { stdout } = await buildah.runIn(container, ['/app/bpf/.output/retrans', '--help']);
  assert.match(stdout, /^Usage: retrans \[OPTION\.\.\.\]/);
  // A missing libbpf/libelf/zlib would have failed the exec above; name them so a broken image says which.
  const ldd = (await buildah.runIn(container, ['ldd', '/app/bpf/.output/retrans'])).stdout;
  for (const lib of ['libbpf.so.1', 'libelf.so.1', 'libz.so.1']) assert.match(ldd, new RegExp(`${lib.replace(/\./g, '\\.')} => /`));
  assert.not.match(ldd, /not found/);
});

test('--help prints the agent\'s usage and exits 0', async () => {
  assert.equal(entrypoint, ['node', '/app/bpf/agent/main.js']);
  const container = await buildah.from(image);
  const { stdout } = await buildah.runIn(container, [...entrypoint, '--help']);
  assert.match(stdout, /^usage: meshlens-agent \[options\]/);
  for (const flag of ['--no-bpf', '--control-plane HOST:PORT|none', '--metrics-port N', '--token-file FILE', '--netns-identity']) {
    assert.ok(stdout.includes(flag), `usage names ${flag}`);
  }
});

/**
 * Starts the image's agent reporting to a KernelTelemetry server on the host (chroot isolation shares the host's
 * network namespace) until two reports arrived; returns its log and the first report, and what /metrics served.
 */
async function runAgent(args: string[], security: { from?: string[]; run?: string[] } = {}): Promise<{ log: string; report: any; metrics: string }> {
  const server = await startKernelTelemetryServer();
  const port = await freePort();
  const container = await buildah.from(image, security.from);
  const running = buildah.startIn(container, [...entrypoint, ...args, '--interval-ms', '200', '--node-name', 'image-test',
    '--control-plane', server.address, '--metrics-host', '127.0.0.1', '--metrics-port', String(port)], security.run);
  try {
    const stderr: string[] = [];
    running.child.stderr!.on('data', (d) => stderr.push(String(d)));
    // An agent that dies (a missing module, a bad path in the image, a loader that cannot load) fails at once, with
    // its log.
    const exited = new Promise<never>((_, reject) => running.child.once('close', (code) =>
      reject(new Error(`agent exited with ${code}:\n${stderr.join('')}`))));
    exited.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no KernelTelemetry report within 120 s:\n${stderr.join('')}`)), 120_000);
    });
    try {
      await Promise.race([server.waitFor(2), exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.is(metrics.status, 200);
    return { log: stderr.join(''), report: server.reports[0], metrics: await metrics.text() };
  } finally {
    await stopDetached(running);
    await server.close();
  }
}

test('the agent starts without tsx on `ss -ti` (--no-bpf): /metrics answers and KernelTelemetry reports arrive', async () => {
  const { log, report, metrics } = await runAgent(['--no-bpf']);
  assert.match(log, /eBPF collection disabled: --no-bpf given/);
  assert.match(log, /source ss; metrics on http:\/\/127\.0\.0\.1:\d+\/metrics; reporting to /);
  assert.is(report.node.nodeName, 'image-test');
  assert.is(report.node.source, 'KERNEL_SOURCE_SS');
  assert.match(metrics, /# TYPE meshlens_tcp_retransmits_total counter/);
});

test('without CAP_BPF (buildah run\'s default capabilities) the agent says why it cannot load eBPF and falls back', async () => {
  const { log, report } = await runAgent([]);
  assert.match(log, /eBPF collection disabled: this process lacks CAP_BPF\+CAP_PERFMON \(or CAP_SYS_ADMIN\)/);
  assert.match(log, /source ss;/);
  assert.is(report.node.source, 'KERNEL_SOURCE_SS');
});

// As the DaemonSet runs it (istio/base/node-agent-daemonset.yaml): CAP_BPF and CAP_PERFMON added, seccomp Unconfined
// (a RuntimeDefault profile, buildah's included, refuses bpf() without CAP_SYS_ADMIN: measured here as EPERM on
// libbpf's trivial probe program). The loader shipped in the image loads its CO-RE program into this kernel from inside
// the container, and the reports say they come from eBPF.
// Only where the host's own loader can load and attach (test/bpf's check): elsewhere this skips, loudly.
needs(missing ?? kernelTestsMissing(), t)('with CAP_BPF, CAP_PERFMON and no seccomp filter the agent loads its eBPF program in the container', async () => {
  const { log, report } = await runAgent([], {
    from: ['--security-opt', 'seccomp=unconfined'],
    run: ['--cap-add', 'CAP_BPF', '--cap-add', 'CAP_PERFMON'],
  });
  assert.match(log, /source bpf;/, log);
  assert.not.match(log, /eBPF collection disabled/);
  assert.is(report.node.nodeName, 'image-test');
  assert.is(report.node.source, 'KERNEL_SOURCE_BPF');
});

t.run();
