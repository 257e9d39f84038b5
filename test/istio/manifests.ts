// Reads istio/ the way kustomize does for our layout (resources lists, one resource per file) so the manifest tests
// run without kubectl; the kustomize test renders the same overlays with the real tool when it is installed.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ISTIO_DIR = join(REPO_ROOT, 'istio');
export const OVERLAYS = ['envoyfilter', 'wasmplugin', 'wasmplugin-istio-1.24', 'replicated'] as const;
export type Overlay = (typeof OVERLAYS)[number];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Resource = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: any };

export interface ResourceFile {
  /** path relative to the repository root */
  file: string;
  resource: Resource;
}

/** A kustomize `patches` entry in the one form istio/ uses: an inline JSON 6902 patch on a target resource. */
export interface KustomizePatch {
  target: { group?: string; version?: string; kind: string; name: string };
  patch: string;
}

export interface Kustomization {
  resources?: string[];
  patches?: KustomizePatch[];
  [key: string]: unknown;
}

export function readKustomization(dir: string): Kustomization {
  return parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Files of a kustomization, following directory entries (bases) depth-first like kustomize, patches applied. */
export function resourceFiles(dir: string): ResourceFile[] {
  const out: ResourceFile[] = [];
  const kustomization = readKustomization(dir);
  for (const entry of kustomization.resources ?? []) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      out.push(...resourceFiles(path));
      continue;
    }
    const docs = parseAllDocuments(readFileSync(path, 'utf8'));
    if (docs.length !== 1) throw new Error(`invalid manifest ${relative(REPO_ROOT, path)}: file must hold exactly one resource, holds ${docs.length}`);
    const [doc] = docs;
    if (doc.errors.length > 0) throw new Error(`invalid manifest ${relative(REPO_ROOT, path)}: ${doc.errors[0].message}`);
    out.push({ file: relative(REPO_ROOT, path), resource: doc.toJS() as Resource });
  }
  for (const p of kustomization.patches ?? []) applyKustomizePatch(out, p, relative(REPO_ROOT, dir));
  return out;
}

function applyKustomizePatch(files: ResourceFile[], p: KustomizePatch, where: string): void {
  const { group, version, kind, name } = p.target;
  const hits = files.filter(({ resource: r }) => {
    const [g, v] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
    return r.kind === kind && r.metadata.name === name && (group === undefined || group === g) && (version === undefined || version === v);
  });
  if (hits.length !== 1) throw new Error(`invalid kustomization ${where}: patch target ${kind}/${name} must match one resource, matches ${hits.length}`);
  const hit = hits[0];
  const resource = structuredClone(hit.resource);
  for (const op of parse(p.patch) as { op: string; path: string; value?: unknown }[]) applyJsonPatchOp(resource, op, where);
  // The patched copy replaces the base's resource for this overlay only; the file it came from is unchanged.
  files[files.indexOf(hit)] = { file: hit.file, resource };
}

/** RFC 6902 add/replace/remove, the operations kustomize's JSON patches in istio/ use. */
function applyJsonPatchOp(doc: unknown, op: { op: string; path: string; value?: unknown }, where: string): void {
  const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  if (last === undefined) throw new Error(`invalid kustomization ${where}: patch path must not be empty`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let parent: any = doc;
  for (const k of keys) {
    parent = parent?.[k];
    if (parent === undefined) throw new Error(`invalid kustomization ${where}: patch path ${op.path} must exist`);
  }
  const exists = Array.isArray(parent) ? Number(last) < parent.length : Object.hasOwn(parent, last);
  if (op.op === 'add') {
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    else parent[last] = op.value;
  } else if (op.op === 'replace' || op.op === 'remove') {
    if (!exists) throw new Error(`invalid kustomization ${where}: ${op.op} path ${op.path} must exist`);
    if (op.op === 'replace') parent[last] = op.value;
    else if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    throw new Error(`invalid kustomization ${where}: patch op must be add, replace or remove, is ${op.op}`);
  }
}

export function overlayResources(overlay: Overlay): ResourceFile[] {
  return resourceFiles(join(ISTIO_DIR, 'overlays', overlay));
}

/** Every resource file under istio/ (base, overlays, mesh), whether or not a kustomization lists it. */
export function allYamlFiles(dir = ISTIO_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...allYamlFiles(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

/** Every distinct resource a user can apply: each overlay's (patched) resources once, plus the IstioOperator. */
export function everyResource(): Resource[] {
  const seen = new Map<string, Resource>();
  for (const overlay of OVERLAYS) for (const { resource } of overlayResources(overlay)) seen.set(JSON.stringify(resource), resource);
  const operator = readResource('istio/mesh/istio-operator.yaml');
  seen.set(JSON.stringify(operator), operator);
  return [...seen.values()];
}

export function readResource(pathFromRepo: string): Resource {
  return parse(readFileSync(join(REPO_ROOT, pathFromRepo), 'utf8')) as Resource;
}

export function find(resources: ResourceFile[], kind: string, name: string): Resource {
  const hit = resources.find((r) => r.resource.kind === kind && r.resource.metadata.name === name);
  if (!hit) throw new Error(`no ${kind}/${name} among ${resources.map((r) => `${r.resource.kind}/${r.resource.metadata.name}`).join(', ')}`);
  return hit.resource;
}

export const WASM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';

/** The plugin JSON as the EnvoyFilter ships it (the StringValue Envoy hands to on_configure). */
export function envoyFilterPluginConfigText(): string {
  const filter = find(overlayResources('envoyfilter'), 'EnvoyFilter', 'meshlens-http-filter');
  const patch = filter.spec.configPatches.find((p: Resource) => p.applyTo === 'HTTP_FILTER');
  const config = patch.patch.value.typed_config.config.configuration;
  if (config['@type'] !== 'type.googleapis.com/google.protobuf.StringValue') throw new Error('plugin configuration is not a StringValue');
  return config.value as string;
}

/** The plugin JSON as Istio renders a WasmPlugin's pluginConfig (Struct → JSON text). */
export function wasmPluginConfigText(): string {
  return JSON.stringify(find(overlayResources('wasmplugin'), 'WasmPlugin', 'meshlens').spec.pluginConfig);
}

export function kubectlMissing(): string | null {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? 'kubectl (for `kubectl kustomize`)' : null;
}

export function kustomizeBuild(dir: string): Resource[] {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout).map((d) => d.toJS() as Resource);
}

/** The labels the filter encodes (filter/stats-tags.json), in order. */
export function filterStatsTags(): { tag: string; regex: string }[] {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'filter/stats-tags.json'), 'utf8')) as { tag: string; regex: string }[];
}

/** Istio's bootstrap TagSpecifier for a name listed in extraStatTags (as filter/host/istio-stat-tags.ts renders it). */
export function istioExtraStatTagSpecifier(tag: string): { tag_name: string; regex: string } {
  return { tag_name: tag, regex: `(${tag}=\\.=(.*?);\\.;)` };
}

/** The mesh-wide extraStatTags of istio/mesh/istio-operator.yaml. */
export function meshExtraStatTags(): string[] {
  return readResource('istio/mesh/istio-operator.yaml').spec.meshConfig.defaultConfig.extraStatTags;
}
