// The WasmPlugin's sha256 pin. For oci:// URLs Istio compares it with the image *manifest* digest, not the module's
// hash, so the pin is only knowable if the image is built deterministically: this builds the Wasm image in the
// "compat" layout Istio's fetcher reads (one layer, application/vnd.module.wasm.content.layer.v1+wasm) from
// filter/build/meshlens.wasm with fixed bytes everywhere, and optionally writes it as an OCI image layout that
// `oras cp --from-oci-layout` / `skopeo copy --preserve-digests` push unchanged.
//
//   node --import tsx istio/oci-digest.ts            print the digest of the current release module's image
//   node --import tsx istio/oci-digest.ts --write    also update the sha256 in overlays/wasmplugin/wasmplugin.yaml
//   node --import tsx istio/oci-digest.ts --layout <dir>   also write the OCI image layout to <dir>
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WASM_LAYER_MEDIA_TYPE = 'application/vnd.module.wasm.content.layer.v1+wasm';
export const WASM_CONFIG_MEDIA_TYPE = 'application/vnd.module.wasm.config.v1+json';
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

export function buildWasmImage(wasm: Uint8Array): WasmImage {
  const config = new TextEncoder().encode('{}');
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: WASM_CONFIG_MEDIA_TYPE, digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [
        {
          mediaType: WASM_LAYER_MEDIA_TYPE,
          digest: `sha256:${sha256(wasm)}`,
          size: wasm.length,
          annotations: { 'org.opencontainers.image.title': 'plugin.wasm' },
        },
      ],
    }),
  );
  return {
    blobs: new Map([
      [sha256(config), config],
      [sha256(wasm), wasm],
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
