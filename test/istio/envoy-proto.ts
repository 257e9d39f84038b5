// Strict checker for Envoy configuration fragments against Envoy's own API protos (the envoy-api tree bundled in
// @grpc/grpc-js-xds). It follows Envoy's YAML/JSON → proto path (proto3 JSON mapping with unknown fields rejected,
// Any resolved through its @type) and the protoc-gen-validate rules Envoy enforces on load, because protobufjs'
// fromObject/verify silently ignore misspelt fields — exactly the mistake that makes Envoy NACK a patch.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const xdsPackageDir = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const depsDir = join(xdsPackageDir, 'deps');
const includeDirs = ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => join(depsDir, d));
const descriptorProto = join(dirname(require.resolve('protobufjs/package.json')), 'google/protobuf/descriptor.proto');

/** Proto files whose messages meshlens' shipped Envoy configuration uses. */
export const ENVOY_PROTO_FILES = [
  'envoy/extensions/filters/http/wasm/v3/wasm.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/route/v3/route_components.proto',
  'envoy/config/core/v3/extension.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  // ReloadConfig.backoff (added in addWasmFailurePolicy) is a BackoffStrategy.
  'envoy/config/core/v3/backoff.proto',
  // The control-plane cluster's Istio mTLS transport socket (UpstreamTlsContext, SDS secret configs).
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
];

export function envoyApiRoot(files: string[] = ENVOY_PROTO_FILES): protobuf.Root {
  const root = new protobuf.Root();
  const common = (protobuf as unknown as { common: Record<string, unknown> }).common;
  root.resolvePath = (origin, target) => {
    if (target in common) return target;
    if (target === 'google/protobuf/descriptor.proto') return descriptorProto;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(files, { keepCase: true });
  addWasmFailurePolicy(root);
  root.resolveAll();
  return root;
}

/**
 * The envoy-api tree bundled in @grpc/grpc-js-xds predates Envoy 1.33, which added `PluginConfig.failure_policy`
 * (FAIL_RELOAD: a VM that failed with a runtime error is recreated for the next request) and `reload_config`.
 * We cannot change that dependency, so the two fields are declared here exactly as Envoy defines them: envoyproxy
 * PR #36456 (envoy commit 64b4d2e, mirrored to data-plane-api 1cfc0d5a, `envoy/extensions/wasm/v3/wasm.proto`),
 * first released in v1.33.0 (changelogs/1.33.0.yaml, new_features, area wasm). Field numbers and enum values are
 * Envoy's, so a typo in the shipped manifests is caught like any other unknown field or enum value.
 */
function addWasmFailurePolicy(root: protobuf.Root): void {
  const wasm = root.lookup('envoy.extensions.wasm.v3') as protobuf.Namespace | null;
  if (wasm === null) return; // a root loaded without the wasm protos has nothing to extend
  const plugin = wasm.lookupType('PluginConfig');
  if (plugin.fields.failure_policy) return; // a newer bundled envoy-api already has them
  wasm.add(new protobuf.Enum('FailurePolicy', { UNSPECIFIED: 0, FAIL_RELOAD: 1, FAIL_CLOSED: 2, FAIL_OPEN: 3 }));
  const backoff = new protobuf.Field('backoff', 1, '.envoy.config.core.v3.BackoffStrategy');
  wasm.add(new protobuf.Type('ReloadConfig').add(backoff));
  const added = [new protobuf.Field('failure_policy', 7, 'FailurePolicy'), new protobuf.Field('reload_config', 8, 'ReloadConfig')];
  for (const field of added) plugin.add(field);
  // loadSync already resolved PluginConfig, so the root's resolveAll would not visit the fields added here.
  for (const field of [backoff, ...added]) field.resolve();
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_TYPES = new Set(['uint32', 'fixed32']);
const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64_TYPES = new Set(['uint64', 'fixed64']);
const WRAPPER_SCALARS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};
const TYPE_URL_PREFIX = 'type.googleapis.com/';

export class EnvoyConfigChecker {
  readonly root: protobuf.Root;

  constructor(root: protobuf.Root = envoyApiRoot()) {
    this.root = root;
  }

  /** Every problem found in `value` read as a message of `typeName` (fully qualified); empty = Envoy accepts it. */
  check(typeName: string, value: unknown): string[] {
    const errors: string[] = [];
    this.checkMessage(this.root.lookupType(typeName), value as Json, typeName, errors);
    return errors;
  }

  /** A typed_config / Any value: `{"@type": "type.googleapis.com/…", …}`. */
  checkAny(value: unknown, path = '$'): string[] {
    const errors: string[] = [];
    this.checkMessage(this.root.lookupType('google.protobuf.Any'), value as Json, path, errors);
    return errors;
  }

  private checkMessage(type: protobuf.Type, value: Json, path: string, errors: string[]): void {
    const name = type.fullName.slice(1);
    if (name === 'google.protobuf.Any') return this.checkAnyValue(value, path, errors);
    if (name in WRAPPER_SCALARS) return this.checkScalar(WRAPPER_SCALARS[name], value, path, errors);
    if (name === 'google.protobuf.Duration') {
      if (typeof value !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(value)) errors.push(`${path}: Duration must be a string like "1.5s", got ${JSON.stringify(value)}`);
      return;
    }
    if (name === 'google.protobuf.Timestamp') {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) errors.push(`${path}: Timestamp must be an RFC 3339 string`);
      return;
    }
    if (name === 'google.protobuf.Struct') {
      if (!isObject(value)) errors.push(`${path}: Struct must be an object`);
      return;
    }
    if (name === 'google.protobuf.Value') return;
    if (name === 'google.protobuf.ListValue') {
      if (!Array.isArray(value)) errors.push(`${path}: ListValue must be an array`);
      return;
    }
    if (!isObject(value)) {
      errors.push(`${path}: ${name} must be an object, got ${JSON.stringify(value)}`);
      return;
    }
    this.checkFields(type, value, path, errors, new Set());
  }

  private checkFields(type: protobuf.Type, value: { [key: string]: Json }, path: string, errors: string[], ignore: Set<string>): void {
    const name = type.fullName.slice(1);
    const byJsonName = new Map<string, protobuf.Field>();
    for (const field of type.fieldsArray) {
      byJsonName.set(field.name, field);
      byJsonName.set(jsonName(field.name), field);
    }
    const seen = new Set<protobuf.Field>();
    for (const [key, fieldValue] of Object.entries(value)) {
      if (ignore.has(key)) continue;
      const field = byJsonName.get(key);
      if (!field) {
        errors.push(`${path}.${key}: unknown field in ${name}`);
        continue;
      }
      if (seen.has(field)) {
        errors.push(`${path}.${key}: field ${field.name} given twice`);
        continue;
      }
      seen.add(field);
      if (fieldValue === null) continue;
      this.checkField(field, fieldValue, `${path}.${key}`, errors);
    }
    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => seen.has(f) && value[f.name] !== null && value[jsonName(f.name)] !== null);
      if (set.length > 1) errors.push(`${path}: oneof ${oneof.name} in ${name} has several members set (${set.map((f) => f.name).join(', ')})`);
      if (set.length === 0 && oneof.options?.['(validate.required)'] === true) {
        errors.push(`${path}: oneof ${oneof.name} in ${name} is required (one of ${oneof.oneof.join(', ')})`);
      }
    }
    for (const field of type.fieldsArray) {
      // PGV applies a oneof member's rules only when that member is the one set.
      if (!seen.has(field) && !field.partOf && field.options?.['(validate.rules).message.required'] === true) {
        errors.push(`${path}.${field.name}: required by ${name}`);
      }
      if (!seen.has(field)) this.checkRulesOnDefault(field, `${path}.${field.name}`, errors);
    }
  }

  private checkField(field: protobuf.Field, value: Json, path: string, errors: string[]): void {
    const rules = fieldRules(field);
    if (field.map) {
      if (!isObject(value)) return void errors.push(`${path}: map must be an object`);
      for (const [k, v] of Object.entries(value)) this.checkSingle(field, v, `${path}[${JSON.stringify(k)}]`, errors, {});
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return void errors.push(`${path}: repeated field must be an array`);
      const minItems = rules['repeated.min_items'];
      if (typeof minItems === 'number' && value.length < minItems) errors.push(`${path}: must have at least ${minItems} items`);
      value.forEach((v, i) => this.checkSingle(field, v, `${path}[${i}]`, errors, itemRules(rules)));
      return;
    }
    this.checkSingle(field, value, path, errors, rules);
  }

  private checkSingle(field: protobuf.Field, value: Json, path: string, errors: string[], rules: Record<string, unknown>): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
      if (typeof value === 'string') {
        if (!(value in resolved.values)) errors.push(`${path}: ${JSON.stringify(value)} is not a value of enum ${resolved.fullName.slice(1)}`);
      } else if (typeof value === 'number' && Number.isInteger(value)) {
        if (rules['enum.defined_only'] === true && !Object.values(resolved.values).includes(value)) errors.push(`${path}: ${value} is not a defined value of enum ${resolved.fullName.slice(1)}`);
      } else {
        errors.push(`${path}: enum must be a name or an integer`);
      }
      return;
    }
    if (resolved instanceof protobuf.Type) {
      this.checkMessage(resolved, value, path, errors);
      this.checkMessageRules(resolved, value, path, errors, rules);
      return;
    }
    this.checkScalar(field.type, value, path, errors, rules);
  }

  private checkAnyValue(value: Json, path: string, errors: string[]): void {
    if (!isObject(value)) return void errors.push(`${path}: Any must be an object with "@type"`);
    const typeUrl = value['@type'];
    if (typeof typeUrl !== 'string' || !typeUrl.startsWith(TYPE_URL_PREFIX)) {
      return void errors.push(`${path}: Any needs "@type": "${TYPE_URL_PREFIX}<message>"`);
    }
    const typeName = typeUrl.slice(TYPE_URL_PREFIX.length);
    let type: protobuf.Type;
    try {
      type = this.root.lookupType(typeName);
    } catch {
      return void errors.push(`${path}: unknown @type ${typeName} (not in the loaded Envoy API)`);
    }
    const name = type.fullName.slice(1);
    const specialJson = name in WRAPPER_SCALARS || name.startsWith('google.protobuf.');
    if (specialJson) {
      for (const key of Object.keys(value)) if (key !== '@type' && key !== 'value') errors.push(`${path}.${key}: unknown field in Any(${name})`);
      this.checkMessage(type, value.value ?? null, `${path}.value`, errors);
      return;
    }
    this.checkFields(type, value, path, errors, new Set(['@type']));
  }

  private checkScalar(protoType: string, value: Json, path: string, errors: string[], rules: Record<string, unknown> = {}): void {
    const fail = (rule: string) => errors.push(`${path}: ${protoType} ${rule}, got ${JSON.stringify(value)}`);
    if (protoType === 'string') {
      if (typeof value !== 'string') return void fail('must be a string');
      if (value === '' && rules['string.ignore_empty'] === true) return;
      const minLen = rules['string.min_len'] ?? rules['string.min_bytes'];
      if (typeof minLen === 'number' && Buffer.byteLength(value) < minLen) fail(`must be at least ${minLen} long`);
      const maxLen = rules['string.max_len'] ?? rules['string.max_bytes'];
      if (typeof maxLen === 'number' && Buffer.byteLength(value) > maxLen) fail(`must be at most ${maxLen} long`);
      const len = rules['string.len'];
      if (typeof len === 'number' && value.length !== len) fail(`must be exactly ${len} long`);
      const prefix = rules['string.prefix'];
      if (typeof prefix === 'string' && !value.startsWith(prefix)) fail(`must start with ${prefix}`);
      return;
    }
    if (protoType === 'bool') {
      if (typeof value !== 'boolean') fail('must be true or false');
      return;
    }
    if (protoType === 'bytes') {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) fail('must be base64 text');
      return;
    }
    if (protoType === 'double' || protoType === 'float') {
      if (typeof value !== 'number' && !(typeof value === 'string' && /^(-?Infinity|NaN|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(value))) fail('must be a number');
      else checkNumericRules(Number(value), protoType, rules, fail);
      return;
    }
    // int64/uint64 travel as decimal strings in proto3 JSON; Envoy accepts numbers for them too.
    const integral = typeof value === 'number' ? Number.isInteger(value) : typeof value === 'string' && /^-?\d+$/.test(value);
    if (!integral) return void fail('must be an integer');
    const n = BigInt(value as number | string);
    const range: [bigint, bigint] | undefined = INT32_TYPES.has(protoType)
      ? [-(2n ** 31n), 2n ** 31n - 1n]
      : UINT32_TYPES.has(protoType)
        ? [0n, 2n ** 32n - 1n]
        : INT64_TYPES.has(protoType)
          ? [-(2n ** 63n), 2n ** 63n - 1n]
          : UINT64_TYPES.has(protoType)
            ? [0n, 2n ** 64n - 1n]
            : undefined;
    if (!range) return void fail('is a scalar type this checker does not know');
    if (n < range[0] || n > range[1]) return void fail('is out of range');
    checkNumericRules(Number(n), protoType, rules, fail);
  }

  private checkMessageRules(type: protobuf.Type, value: Json, path: string, errors: string[], rules: Record<string, unknown>): void {
    const name = type.fullName.slice(1);
    if (name === 'google.protobuf.Duration' && typeof value === 'string') {
      const seconds = Number(value.slice(0, -1));
      for (const [op, test] of [['gt', (l: number) => seconds > l], ['gte', (l: number) => seconds >= l], ['lt', (l: number) => seconds < l], ['lte', (l: number) => seconds <= l]] as const) {
        const s = rules[`duration.${op}.seconds`];
        const ns = rules[`duration.${op}.nanos`];
        if (s !== undefined || ns !== undefined) {
          const limit = Number(s ?? 0) + Number(ns ?? 0) / 1e9;
          if (!test(limit)) errors.push(`${path}: Duration must be ${op} ${limit}s, got ${value}`);
        }
      }
    }
    if (name in WRAPPER_SCALARS && value !== null) {
      const scalarRules: Record<string, unknown> = {};
      const scalar = WRAPPER_SCALARS[name];
      for (const [k, v] of Object.entries(rules)) if (k.startsWith(`${scalar}.`)) scalarRules[k] = v;
      if (Object.keys(scalarRules).length > 0) this.checkScalar(scalar, value, path, errors, scalarRules);
    }
  }

  /** PGV rules that a proto3 default (field left out) can violate, like string.min_len on a scalar. */
  private checkRulesOnDefault(field: protobuf.Field, path: string, errors: string[]): void {
    if (field.repeated || field.map || field.partOf) return;
    const rules = fieldRules(field);
    const minLen = rules['string.min_len'] ?? rules['string.min_bytes'];
    if (field.type === 'string' && typeof minLen === 'number' && minLen > 0 && rules['string.ignore_empty'] !== true) errors.push(`${path}: required (string.min_len ${minLen})`);
    if (field.resolvedType instanceof protobuf.Enum && rules['enum.defined_only'] === true) return;
    for (const op of ['gt', 'gte'] as const) {
      const key = `${field.type}.${op}`;
      const limit = rules[key];
      if (typeof limit === 'number' && !(op === 'gt' ? 0 > limit : 0 >= limit)) errors.push(`${path}: required (${key} ${limit})`);
    }
  }
}

function checkNumericRules(n: number, protoType: string, rules: Record<string, unknown>, fail: (rule: string) => void): void {
  const limit = (op: string) => rules[`${protoType}.${op}`];
  const gt = limit('gt'), gte = limit('gte'), lt = limit('lt'), lte = limit('lte');
  if (typeof gt === 'number' && !(n > gt)) fail(`must be > ${gt}`);
  if (typeof gte === 'number' && !(n >= gte)) fail(`must be >= ${gte}`);
  if (typeof lt === 'number' && !(n < lt)) fail(`must be < ${lt}`);
  if (typeof lte === 'number' && !(n <= lte)) fail(`must be <= ${lte}`);
}

function fieldRules(field: protobuf.Field): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(field.options ?? {})) {
    if (k.startsWith('(validate.rules).')) rules[k.slice('(validate.rules).'.length)] = v;
  }
  return rules;
}

function itemRules(rules: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rules)) if (k.startsWith('repeated.items.')) out[k.slice('repeated.items.'.length)] = v;
  return out;
}

function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
