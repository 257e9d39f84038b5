// What Istio's Wasm image fetcher does with a pulled image, so a test can say "Istio would load this module".
// Transcribed from istio/istio pkg/wasm/imagefetcher.go at 1.24.0 and 1.28.0 (identical there): PrepareFetch's
// binaryFetcher, extractDockerImage, extractOCIStandardImage, extractWasmPluginBinary, extractOCIArtifactImage.
// The digest Istio compares a WasmPlugin's sha256 with is the manifest's (pkg/wasm/cache.go: dChecksum from
// PrepareFetch, `img.Digest()`).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const DOCKER_MANIFEST_SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const WASM_LAYER = 'application/vnd.module.wasm.content.layer.v1+wasm';
const PLUGIN_FILE = 'plugin.wasm';

export interface Descriptor { mediaType: string; digest: string; size: number }
export interface Manifest { schemaVersion: number; mediaType?: string; config: Descriptor; layers: Descriptor[] }

export interface FetchedModule {
  /** which of imagefetcher.go's branches accepted the image */
  variant: 'docker' | 'compat-oci' | 'oci-artifact';
  wasm: Uint8Array;
  /** hex sha256 of the manifest bytes: what the WasmPlugin's sha256 must equal */
  manifestDigest: string;
  manifest: Manifest;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The tar entries' names and contents, as Go's archive/tar presents them: PAX extended headers ('x') and GNU long
 * names ('L') apply to the next entry; global headers ('g') are skipped.
 */
export function tarEntries(tar: Uint8Array): { name: string; type: string; data: Uint8Array }[] {
  const entries: { name: string; type: string; data: Uint8Array }[] = [];
  const text = (from: number, to: number) => {
    const bytes = tar.subarray(from, to);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes);
  };
  let at = 0;
  let nextName: string | undefined;
  while (at + 512 <= tar.length) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    const size = parseInt(text(at + 124, at + 136).trim() || '0', 8);
    const type = text(at + 156, at + 157) || '0';
    const prefix = text(at + 345, at + 500);
    const name = nextName ?? (prefix ? `${prefix}/${text(at, at + 100)}` : text(at, at + 100));
    const data = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      nextName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data))?.[1] ?? nextName;
      continue;
    }
    if (type === 'L') { nextName = new TextDecoder().decode(data).replace(/\0+$/, ''); continue; }
    if (type === 'g') continue;
    nextName = undefined;
    entries.push({ name, type, data });
  }
  return entries;
}

/** extractWasmPluginBinary: gunzip, then the first entry whose base name is plugin.wasm. */
function extractWasmPluginBinary(layer: Uint8Array): Uint8Array {
  const entry = tarEntries(gunzipSync(layer)).find((e) => basename(e.name) === PLUGIN_FILE);
  if (!entry) throw new Error(`${PLUGIN_FILE} not found in the archive`);
  return entry.data;
}

/** PrepareFetch + binaryFetcher on a manifest and a blob store. Throws with every branch's reason, as Istio does. */
export function fetchAsIstio(manifestBytes: Uint8Array, blob: (digest: string) => Uint8Array): FetchedModule {
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as Manifest;
  const manifestDigest = sha256(manifestBytes);
  const layerBytes = (d: Descriptor) => {
    const bytes = blob(d.digest);
    if (`sha256:${sha256(bytes)}` !== d.digest || bytes.length !== d.size) throw new Error(`blob ${d.digest} does not match its descriptor`);
    return bytes;
  };
  const layers = manifest.layers ?? [];
  if (manifest.mediaType === DOCKER_MANIFEST_SCHEMA2) {
    if (layers.length === 0) throw new Error('docker image: number of layers must be greater than zero');
    const last = layers[layers.length - 1]!;
    if (last.mediaType !== DOCKER_LAYER) throw new Error(`docker image: invalid media type ${last.mediaType} (expect ${DOCKER_LAYER})`);
    return { variant: 'docker', wasm: extractWasmPluginBinary(layerBytes(last)), manifestDigest, manifest };
  }
  const reasons: string[] = [];
  if (layers.length === 0) reasons.push('compat: number of layers must be greater than zero');
  else {
    const last = layers[layers.length - 1]!;
    if (last.mediaType !== OCI_LAYER) reasons.push(`compat: invalid media type ${last.mediaType} (expect ${OCI_LAYER})`);
    else {
      try {
        return { variant: 'compat-oci', wasm: extractWasmPluginBinary(layerBytes(last)), manifestDigest, manifest };
      } catch (error) {
        reasons.push(`compat: ${(error as Error).message}`);
      }
    }
  }
  if (layers.length !== 2) reasons.push(`oci: number of layers must be 2 but got ${layers.length}`);
  else {
    const wasmLayer = layers.find((l) => l.mediaType === WASM_LAYER);
    if (!wasmLayer) reasons.push(`oci: could not find the layer of type ${WASM_LAYER}`);
    else return { variant: 'oci-artifact', wasm: layerBytes(wasmLayer), manifestDigest, manifest };
  }
  throw new Error(`the given image is in invalid format as an OCI image: ${reasons.join('; ')}`);
}

/** The same on an OCI image layout directory (what `buildah push ... oci:<dir>` writes), picking the manifest by tag. */
export function fetchFromOciLayout(dir: string, tag: string): FetchedModule {
  const blobPath = (digest: string) => join(dir, 'blobs', ...digest.split(':'));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: (Descriptor & { annotations?: Record<string, string> })[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no manifest tagged ${tag} in ${dir}`);
  const manifest = new Uint8Array(readFileSync(blobPath(entry.digest)));
  if (`sha256:${sha256(manifest)}` !== entry.digest) throw new Error(`manifest ${entry.digest} does not match its digest`);
  return fetchAsIstio(manifest, (digest) => new Uint8Array(readFileSync(blobPath(digest))));
}
