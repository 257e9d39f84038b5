// bpf/Containerfile built with buildah on local Debian bases and started with `buildah run --isolation chroot`:
// the loader built in the image runs against the image's own libbpf/libelf/zlib, and the compiled agent starts
// without tsx, serves /metrics and delivers KernelTelemetry reports over gRPC to a server on the host (chroot
// isolation shares the host's network namespace). eBPF itself is not loaded here: test/bpf/ covers it on the host.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { startKernelTelemetryServer } from '../bpf/helpers/kernel-telemetry-server.ts';
import {
  buildImage, devOnlyPackages, directorySize, localBases, missingForRuntimeImages, sharedBuildah, stopDetached,
  withMountedImage, type Buildah,
  loudly,
} from './support.ts';

const missing = missingForRuntimeImages();
const image = 'localhost/meshlens-test/node-agent:test';
const t = suite('node-agent image');
let buildah: Buildah;
let entrypoint: string[] = [];

t.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  const bases = await localBases(buildah);
  console.log(`local bases ready in ${((Date.now() - started) / 1000).toFixed(1)} s (built now: ${bases.builtTarballs.length})`);
  const seconds = await buildImage(buildah, bases, 'bpf/Containerfile', image);
  console.log(`node-agent image built in ${seconds.toFixed(1)} s`);
  entrypoint = (await buildah.inspectImage(image)).config.Entrypoint ?? [];
}));

t.after(async () => {
  if (missing) return;
  await buildah.removeContainers();
  await buildah.buildah(['rmi', image]).catch(() => {});
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

test('the agent starts without tsx: /metrics answers and KernelTelemetry reports reach a control plane', async () => {
  assert.equal(entrypoint, ['node', '/app/bpf/agent/main.js']);
  const server = await startKernelTelemetryServer();
  const port = await freePort();
  const container = await buildah.from(image);
  // --no-bpf: the `ss -ti` source (iproute2 in the image); loading eBPF from a build container is not the point.
  const running = buildah.startIn(container, [...entrypoint, '--no-bpf', '--interval-ms', '200', '--node-name', 'image-test',
    '--control-plane', server.address, '--metrics-host', '127.0.0.1', '--metrics-port', String(port)]);
  try {
    const stderr: string[] = [];
    running.child.stderr!.on('data', (d) => stderr.push(String(d)));
    // An agent that dies (a missing module, a bad path in the image) fails at once, with its log.
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
    assert.match(stderr.join(''), /source ss; metrics on http:\/\/127\.0\.0\.1:\d+\/metrics; reporting to /);
    const report = server.reports[0];
    assert.is(report.node.nodeName, 'image-test');
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.is(metrics.status, 200);
    assert.match(await metrics.text(), /# TYPE meshlens_tcp_retransmits_total counter/);
  } finally {
    await stopDetached(running);
    await server.close();
  }
});

t.run();
