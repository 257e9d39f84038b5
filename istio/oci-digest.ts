// The WasmPlugin's sha256 pin. For oci:// URLs Istio compares it with the image *manifest* digest, not the module's
// hash, so the pin is only knowable if the image is built deterministically: this builds the Wasm image in the
// "compat" layout Istio's fetcher reads from filter/build/meshlens.wasm with fixed bytes everywhere, and optionally
// writes it as an OCI image layout that `oras cp --from-oci-layout` / `skopeo copy --preserve-digests` push unchanged.
//
// The layout is the one istio/istio pkg/wasm/imagefetcher.go (1.24.0 to 1.28.x, unchanged there) accepts for an OCI
// manifest: extractOCIStandardImage takes the *last* layer, requires media type
// application/vnd.oci.image.layer.v1.tar+gzip and returns the tar entry whose base name is `plugin.wasm`. (Its other
// branch, extractOCIArtifactImage, wants exactly two layers, one of them application/vnd.module.wasm.content.layer.v1+wasm;
// a single raw-Wasm layer passes neither.) `buildah bud -f filter/Containerfile` builds the same layout, but with
// build timestamps in it, so its digest differs per build; test/images/filter-image.test.ts checks both.
//
//   node --import tsx istio/oci-digest.ts            print the digest of the current release module's image
//   node --import tsx istio/oci-digest.ts --write    also update the sha256 in overlays/wasmplugin/wasmplugin.yaml
//   node --import tsx istio/oci-digest.ts --layout <dir>   also write the OCI image layout to <dir>
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OCI_LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
/** the file name Istio's compat extraction looks for (imagefetcher.go, wasmPluginFileName) */
export const PLUGIN_FILE_NAME = 'plugin.wasm';
const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export interface WasmImage {
  /** blobs by hex sha256 */
  blobs: Map<string, Uint8Array>;
  manifest: Uint8Array;
  /** hex sha256 of the manifest: the value Istio checks a WasmPlugin's sha256 against */
  digest: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A one-entry ustar archive: `plugin.wasm`, mode 0644, owner 0:0, mtime 0, so its bytes follow from the module's. */
export function pluginTar(wasm: Uint8Array): Uint8Array {
  const header = new Uint8Array(512);
  const put = (text: string, at: number) => header.set(new TextEncoder().encode(text), at);
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0');
  put(PLUGIN_FILE_NAME, 0);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(wasm.length, 12), 124);
  put(octal(0, 12), 136);
  put('        ', 148); // checksum field counts as spaces while summing
  put('0', 156);
  put('ustar\0' + '00', 257);
  put(octal(header.reduce((sum, b) => sum + b, 0), 7) + '\0', 148);
  const padded = Math.ceil(wasm.length / 512) * 512;
  const tar = new Uint8Array(512 + padded + 1024); // two zero blocks end the archive
  tar.set(header, 0);
  tar.set(wasm, 512);
  return tar;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * gzip with stored (uncompressed) deflate blocks. Compressed output depends on the zlib build (Node's Chromium zlib
 * picks matches differently with SIMD hashing), which would make the pinned digest depend on the machine; stored
 * blocks are byte-for-byte fixed by RFC 1951/1952. Wasm shrinks little under deflate, so little is lost.
 */
export function storedGzip(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = new Uint8Array(10 + data.length + blocks * 5 + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], 0); // deflate, no flags, mtime 0, OS unknown
  const view = new DataView(out.buffer);
  let at = 10;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * 0xffff, Math.min(data.length, (i + 1) * 0xffff));
    out[at] = i === blocks - 1 ? 1 : 0; // BFINAL on the last, BTYPE 00 = stored
    view.setUint16(at + 1, chunk.length, true);
    view.setUint16(at + 3, ~chunk.length & 0xffff, true);
    out.set(chunk, at + 5);
    at += 5 + chunk.length;
  }
  view.setUint32(at, crc32(data), true);
  view.setUint32(at + 4, data.length >>> 0, true);
  return out;
}

export function buildWasmImage(wasm: Uint8Array): WasmImage {
  const tar = pluginTar(wasm);
  const layer = storedGzip(tar);
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: 'wasm',
      os: 'wasip1',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    }),
  );
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: OCI_CONFIG_MEDIA_TYPE, digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: OCI_LAYER_MEDIA_TYPE, digest: `sha256:${sha256(layer)}`, size: layer.length }],
    }),
  );
  return {
    blobs: new Map([
      [sha256(config), config],
      [sha256(layer), layer],
      [sha256(manifest), manifest],
    ]),
    manifest,
    digest: sha256(manifest),
  };
}

export function ociManifestDigest(wasm: Uint8Array): string {
  return buildWasmImage(wasm).digest;
}

export function writeOciLayout(image: WasmImage, dir: string, tag: string): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [hex, bytes] of image.blobs) writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MANIFEST_MEDIA_TYPE,
          digest: `sha256:${image.digest}`,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
}

const WASMPLUGIN_FILE = join(REPO_ROOT, 'istio/overlays/wasmplugin/wasmplugin.yaml');

function main(args: string[]): void {
  const image = buildWasmImage(readFileSync(join(REPO_ROOT, 'filter/build/meshlens.wasm')));
  const layoutAt = args.indexOf('--layout');
  if (layoutAt >= 0) {
    const dir = args[layoutAt + 1];
    if (!dir) throw new Error('invalid arguments: --layout must be followed by a directory');
    const tag = /url: oci:\/\/[^:\s]+:(\S+)/.exec(readFileSync(WASMPLUGIN_FILE, 'utf8'))?.[1] ?? 'latest';
    writeOciLayout(image, resolve(dir), tag);
  }
  if (args.includes('--write')) {
    const text = readFileSync(WASMPLUGIN_FILE, 'utf8');
    const updated = text.replace(/^(\s*sha256:\s*)[0-9a-f]{64}\s*$/m, `$1${image.digest}`);
    if (updated === text && !text.includes(image.digest)) throw new Error(`invalid ${WASMPLUGIN_FILE}: sha256 must be a 64-hex line to update`);
    writeFileSync(WASMPLUGIN_FILE, updated);
  }
  console.log(image.digest);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
