// Istio's CRD schemas per release, and a structural OpenAPI v3 check of our resources against them.
//
// @kubernetes-models/istio (istio-schema.ts) holds one Istio release's schemas; users run several. Each release's
// schemas come from istio/istio at that tag, `manifests/charts/base/files/crd-all.gen.yaml` (1.24+; earlier
// releases kept it in `crds/`). That text is not committed here (third-party data stays out of this repository);
// it is read from, in order:
//   1. $MESHLENS_ISTIO_CRDS: a directory of `<tag>.json` files written by `--write` below;
//   2. ../shared/istio-crds/ beside the repository (CI's copy of the steering repo's shared/), same format;
//   3. a git clone of istio/istio: $ISTIO_GIT_DIR, or the mirror this workplace keeps at /work/.mirror.
// Without any of them the per-release tests are skipped loudly (test/support/skip.ts).
//
// Write fixtures for 1./2.: node --import tsx test/istio/istio-crds.ts --write <dir>
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, type Resource } from './manifests.ts';

/** The Istio releases meshlens claims, each at the newest patch tag when this was written. */
export const ISTIO_RELEASES = ['1.24.6', '1.25.5', '1.26.8', '1.27.9', '1.28.10'] as const;
export type IstioRelease = (typeof ISTIO_RELEASES)[number];

/**
 * The kinds istio/ ships that have a CRD (IstioOperator has none since 1.24: istioctl reads it locally). The
 * PeerAuthentication puts the control plane under STRICT mTLS; security.istio.io/v1 is served by every release here.
 */
export const CRD_KINDS = ['extensions.istio.io/v1alpha1/WasmPlugin', 'networking.istio.io/v1alpha3/EnvoyFilter', 'security.istio.io/v1/PeerAuthentication'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = { [key: string]: any };

export interface ReleaseSchemas {
  source: string;
  /** openAPIV3Schema per `group/version/Kind` */
  kinds: Record<string, Schema>;
}

const CRD_PATHS = ['manifests/charts/base/files/crd-all.gen.yaml', 'manifests/charts/base/crds/crd-all.gen.yaml'];

function gitDir(): string | null {
  for (const dir of [process.env.ISTIO_GIT_DIR, '/work/.mirror/istio+istio/repo']) {
    if (dir && existsSync(dir) && spawnSync('git', ['--git-dir', dir, 'rev-parse', '--verify', '-q', `${ISTIO_RELEASES[0]}^{commit}`]).status === 0) return dir;
  }
  return null;
}

function fixtureDir(): string | null {
  for (const dir of [process.env.MESHLENS_ISTIO_CRDS, join(REPO_ROOT, '../shared/istio-crds')]) {
    if (dir && ISTIO_RELEASES.every((tag) => existsSync(join(dir, `${tag}.json`)))) return dir;
  }
  return null;
}

/** Why the per-release schemas cannot be read here, or null when they can. */
export function istioCrdsMissing(): string | null {
  return fixtureDir() || gitDir()
    ? null
    : "Istio CRD schemas per release ($MESHLENS_ISTIO_CRDS, ../shared/istio-crds/ or an istio/istio git clone in $ISTIO_GIT_DIR)";
}

/** Descriptions are dropped: they are most of the text and no part of validation. */
function strip(schema: Schema): Schema {
  if (Array.isArray(schema)) return schema.map(strip);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) if (k !== 'description') out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strip(s)])) : strip(v);
  return out;
}

function fromCrdText(text: string, source: string): ReleaseSchemas {
  const kinds: Record<string, Schema> = {};
  for (const doc of parseAllDocuments(text)) {
    const crd = doc.toJS() as Schema | null;
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions) {
      const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
      if ((CRD_KINDS as readonly string[]).includes(key)) kinds[key] = strip(v.schema.openAPIV3Schema);
    }
  }
  for (const k of CRD_KINDS) if (!kinds[k]) throw new Error(`invalid Istio CRD source ${source}: must define ${k}`);
  return { source, kinds };
}

/** A file of istio/istio at a tag from the git clone, or null when no clone is at hand. */
export function istioSourceAt(tag: IstioRelease, path: string): string | null {
  const git = gitDir();
  if (!git) return null;
  const show = spawnSync('git', ['--git-dir', git, 'show', `${tag}:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (show.status !== 0) throw new Error(`git show ${tag}:${path} failed: ${show.stderr}`);
  return show.stdout;
}

export function istioGitMissing(): string | null {
  return gitDir() ? null : 'an istio/istio git clone ($ISTIO_GIT_DIR)';
}

const cache = new Map<string, ReleaseSchemas>();

export function releaseSchemas(tag: IstioRelease): ReleaseSchemas {
  const hit = cache.get(tag);
  if (hit) return hit;
  let out: ReleaseSchemas;
  const dir = fixtureDir();
  if (dir) {
    out = JSON.parse(readFileSync(join(dir, `${tag}.json`), 'utf8')) as ReleaseSchemas;
    // Fixtures written before a kind joined CRD_KINDS lack it: say how to refresh them rather than fail later.
    for (const k of CRD_KINDS) if (!out.kinds[k]) throw new Error(`invalid Istio CRD fixture ${join(dir, `${tag}.json`)}: must define ${k} (rewrite with istio-crds.ts --write)`);
  } else {
    const git = gitDir();
    if (!git) throw new Error(`no Istio CRD source: ${istioCrdsMissing()}`);
    const path = CRD_PATHS.find((p) => spawnSync('git', ['--git-dir', git, 'cat-file', '-e', `${tag}:${p}`]).status === 0);
    if (!path) throw new Error(`istio/istio ${tag} has none of ${CRD_PATHS.join(', ')}`);
    out = fromCrdText(istioSourceAt(tag, path)!, `istio/istio ${tag} ${path}`);
  }
  cache.set(tag, out);
  return out;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

const has = (self: Json, field: string) => isObject(self) && field in self;
const one = (self: Json, field: string) => (has(self, field) ? 1 : 0);
function urlScheme(text: string): string | null {
  try {
    return new URL(text).protocol.slice(0, -1);
  } catch {
    return null;
  }
}

function portLevelMtlsHasSelector(self: Json): boolean {
  if (!isObject(self) || !has(self, 'portLevelMtls')) return true;
  const labels = isObject(self.selector) ? self.selector.matchLabels : undefined;
  return isObject(labels) && Object.keys(labels).length > 0;
}

/**
 * The CEL rules (x-kubernetes-validations) of Istio 1.24-1.28's WasmPlugin, EnvoyFilter and PeerAuthentication schemas on the fields
 * istio/ sets, as JavaScript: keyed by the rule text with quotes unified and blanks removed (releases differ only
 * in quoting). A rule not listed here fails validation as "unevaluated", so a new rule on a field we use is seen.
 */
const CEL_RULES: Record<string, (self: Json) => boolean> = {
  '!self.contains("*")': (self) => typeof self === 'string' && !self.includes('*'),
  'self.all(key,!key.contains("*"))': (self) => isObject(self) && Object.keys(self).every((k) => !k.includes('*')),
  'self.all(key,key.size()!=0)': (self) => isObject(self) && Object.keys(self).every((k) => k.length !== 0),
  '(has(self.workloadSelector)?1:0)+(has(self.targetRefs)?1:0)<=1': (self) => one(self, 'workloadSelector') + one(self, 'targetRefs') <= 1,
  '(has(self.selector)?1:0)+(has(self.targetRef)?1:0)+(has(self.targetRefs)?1:0)<=1': (self) =>
    one(self, 'selector') + one(self, 'targetRef') + one(self, 'targetRefs') <= 1,
  '(has(self.valueFrom)?self.valueFrom:"")!="HOST"||!has(self.value)': (self) =>
    !isObject(self) || self.valueFrom !== 'HOST' || !has(self, 'value'),
  // PeerAuthentication spec: 1.24 and 1.25+ word the same rule differently.
  '(has(self.selector)&&has(self.selector.matchLabels)&&self.selector.matchLabels.size()>0)||!has(self.portLevelMtls)': portLevelMtlsHasSelector,
  'has(self.portLevelMtls)?(((has(self.selector)&&has(self.selector.matchLabels))?self.selector.matchLabels:{}).size()>0):true': portLevelMtlsHasSelector,
  // PeerAuthentication portLevelMtls keys (CEL int() of a non-numeric string is an error, i.e. refused)
  'self.all(key,0<int(key)&&int(key)<=65535)': (self) => isObject(self) && Object.keys(self).every((k) => /^-?\d+$/.test(k) && Number(k) > 0 && Number(k) <= 65535),
  'isURL(self)?(url(self).getScheme()in["","http","https","oci","file"]):(isURL("http://"+self)&&url("http://"+self).getScheme()in["","http","https","oci","file"])': (self) => {
    if (typeof self !== 'string') return false;
    const allowed = ['', 'http', 'https', 'oci', 'file'];
    const scheme = urlScheme(self);
    if (scheme !== null) return allowed.includes(scheme);
    const prefixed = urlScheme(`http://${self}`);
    return prefixed !== null && allowed.includes(prefixed);
  },
};

const celKey = (rule: string) => rule.replace(/'/g, '"').replace(/\s+/g, '');

/**
 * Structural OpenAPI v3 check as the API server applies a CRD schema with kubectl's default strict field validation:
 * types (with int-or-string and nullable), enum, required, unknown fields (an error unless the schema preserves
 * unknown fields), additionalProperties, items, list-map keys, length/size/range bounds, pattern, the oneOf/anyOf/not Istio uses
 * for "only one of", and the CEL rules in CEL_RULES.
 */
export function validateSchema(schema: Schema, value: Json, path = ''): string[] {
  const errors: string[] = [];
  const at = path || '/';
  if (value === null) {
    if (!schema.nullable) errors.push(`${at}: must not be null`);
    return errors;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || Number.isInteger(value))) errors.push(`${at}: must be an integer or a string`);
  } else if (schema.type) {
    const ok =
      schema.type === 'object' ? isObject(value)
      : schema.type === 'array' ? Array.isArray(value)
      : schema.type === 'integer' ? Number.isInteger(value)
      : schema.type === 'number' ? typeof value === 'number'
      : typeof value === schema.type;
    if (!ok) return [`${at}: must be of type ${schema.type}`];
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: must be one of ${schema.enum.join(', ')}, is ${JSON.stringify(value)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: must match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: must be <= ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: must have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: must have at most ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validateSchema(schema.items, v, `${path}/${i}`)));
    // list-type map: the API server refuses two items with the same key (e.g. vmConfig.env names)
    if (schema['x-kubernetes-list-type'] === 'map') {
      const keys = value.map((v) => JSON.stringify((schema['x-kubernetes-list-map-keys'] as string[]).map((k) => (isObject(v) ? v[k] : undefined))));
      keys.forEach((k, i) => { if (keys.indexOf(k) !== i) errors.push(`${path}/${i}: duplicate list-map key ${k}`); });
    }
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) errors.push(`${at}: must have at most ${schema.maxProperties} properties`);
    for (const r of schema.required ?? []) if (!(r in value)) errors.push(`${at}: ${r} is required`);
    for (const k of keys) {
      const sub = schema.properties?.[k] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) errors.push(...validateSchema(sub, value[k], `${path}/${k}`));
      else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true && (schema.properties || schema.additionalProperties === false)) {
        errors.push(`${path}/${k}: unknown field`);
      }
    }
  }
  for (const { rule, message } of (schema['x-kubernetes-validations'] ?? []) as { rule: string; message?: string }[]) {
    const check = CEL_RULES[celKey(rule)];
    if (!check) errors.push(`${at}: unevaluated CEL rule ${rule}`);
    else if (!check(value)) errors.push(`${at}: ${message ?? rule}`);
  }
  const matches = (s: Schema) => validateSchema(s, value, path).length === 0;
  if (schema.oneOf) {
    const n = (schema.oneOf as Schema[]).filter(matches).length;
    if (n !== 1) errors.push(`${at}: must match exactly one oneOf branch, matches ${n}`);
  }
  if (schema.anyOf && !(schema.anyOf as Schema[]).some(matches)) errors.push(`${at}: must match a branch of anyOf`);
  if (schema.not && matches(schema.not)) errors.push(`${at}: must not match ${JSON.stringify(schema.not)}`);
  return errors;
}

function schemaFor(release: ReleaseSchemas, r: Resource): Schema {
  const schema = release.kinds[`${r.apiVersion}/${r.kind}`];
  if (!schema) throw new Error(`invalid Istio resource: ${r.apiVersion}/${r.kind} must be one of ${Object.keys(release.kinds).join(', ')}`);
  // The API server supplies these for every object; Istio's CRD schemas describe only spec and status.
  const implicit = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };
  return { ...schema, properties: { ...implicit, ...schema.properties } };
}

/** Problems of one resource against one Istio release's CRD schema (empty = the API server accepts it). */
export function releaseErrors(tag: IstioRelease, r: Resource): string[] {
  return validateSchema(schemaFor(releaseSchemas(tag), r), r as unknown as Json);
}

if (process.argv[2] === '--write') {
  const dir = process.argv[3];
  if (!dir) throw new Error('usage: istio-crds.ts --write <dir>');
  mkdirSync(dir, { recursive: true });
  for (const tag of ISTIO_RELEASES) writeFileSync(join(dir, `${tag}.json`), `${JSON.stringify(releaseSchemas(tag))}\n`);
}
