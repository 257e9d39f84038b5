// The filter's Wasm image as Istio's WasmPlugin pulls it (oci://): both ways of building it (filter/Containerfile
// with buildah, istio/oci-digest.ts deterministically) must pass Istio's fetcher (istio-wasm-image.ts) and hand it
// exactly filter/build/meshlens.wasm, and the WasmPlugin must pin the deterministic one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildWasmImage, writeOciLayout } from '../../istio/oci-digest.ts';
import { needs } from '../support/skip.ts';
import { fetchAsIstio, fetchFromOciLayout } from './istio-wasm-image.ts';
import { REPO_ROOT, loudly, missingForImages, sharedBuildah } from './support.ts';

const wasmPath = join(REPO_ROOT, 'filter/build/meshlens.wasm');
const wasm = new Uint8Array(readFileSync(wasmPath));
const plugin = parse(readFileSync(join(REPO_ROOT, 'istio/overlays/wasmplugin/wasmplugin.yaml'), 'utf8')) as { spec: { url: string; sha256: string } };
const [, repository, tag] = /^oci:\/\/([^:]+):(\S+)$/.exec(plugin.spec.url) ?? [];

function equalBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0, `${what}: bytes differ from filter/build/meshlens.wasm`);
}

const pinned = suite('istio/oci-digest.ts image');

pinned('Istio reads it as the compat variant and gets meshlens.wasm byte for byte', () => {
  const image = buildWasmImage(wasm);
  const fetched = fetchAsIstio(image.manifest, (digest) => image.blobs.get(digest.slice('sha256:'.length))!);
  assert.is(fetched.variant, 'compat-oci');
  assert.is(fetched.manifest.layers.length, 1);
  equalBytes(fetched.wasm, wasm, 'oci-digest image');
  assert.is(fetched.manifestDigest, image.digest);
});

pinned('its OCI layout, tagged as the WasmPlugin url says, carries the digest the WasmPlugin pins', () => {
  assert.ok(repository && tag, `WasmPlugin url ${plugin.spec.url} must be oci://<repository>:<tag>`);
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-oci-'));
  try {
    writeOciLayout(buildWasmImage(wasm), dir, tag!);
    const fetched = fetchFromOciLayout(dir, tag!);
    equalBytes(fetched.wasm, wasm, 'layout');
    assert.is(fetched.manifestDigest, plugin.spec.sha256, 'stale pin: run `node --import tsx istio/oci-digest.ts --write`');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

pinned('the old single raw-Wasm-layer layout is refused, as Istio refuses it (the checker is not a yes-man)', () => {
  const layer = wasm;
  const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const config = new TextEncoder().encode('{}');
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.module.wasm.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.module.wasm.content.layer.v1+wasm', digest: sha(layer), size: layer.length }],
  }));
  assert.throws(() => fetchAsIstio(manifest, (d) => (d === sha(layer) ? layer : config)), /number of layers must be 2 but got 1/);
});

pinned.run();

const built = suite('filter/Containerfile built with buildah');
const missing = missingForImages();
let buildah: ReturnType<typeof sharedBuildah> | undefined;
const localTag = 'localhost/meshlens-test/meshlens-filter:test';

built.before(loudly(async () => {
  if (missing) return;
  buildah = sharedBuildah();
  const started = Date.now();
  await buildah.bud('filter/Containerfile', localTag, {});
  console.log(`filter image built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}));

built.after(async () => {
  if (!buildah) return;
  await buildah.removeContainers();
  await buildah.buildah(['rmi', localTag]).catch(() => {});
});

needs(missing, built)('pushed as OCI: one tar+gzip layer with plugin.wasm at its root, byte-identical to meshlens.wasm', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-oci-'));
  try {
    await buildah!.buildah(['push', localTag, `oci:${dir}:${tag}`]);
    const fetched = fetchFromOciLayout(dir, tag!);
    assert.is(fetched.variant, 'compat-oci');
    assert.is(fetched.manifest.layers.length, 1, 'FROM scratch + one COPY: a single layer');
    equalBytes(fetched.wasm, wasm, 'buildah image');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

needs(missing, built)('pushed in Docker format (`--format docker`, e.g. for Docker Hub): Istio takes the docker branch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-dir-'));
  try {
    // dir: writes the manifest as pushed and each blob under its hex digest, whatever the manifest format.
    await buildah!.buildah(['push', '--format', 'v2s2', localTag, `dir:${dir}`]);
    const manifest = new Uint8Array(readFileSync(join(dir, 'manifest.json')));
    const fetched = fetchAsIstio(manifest, (digest) => new Uint8Array(readFileSync(join(dir, digest.slice('sha256:'.length)))));
    assert.is(fetched.variant, 'docker');
    equalBytes(fetched.wasm, wasm, 'buildah docker-format image');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

built.run();
