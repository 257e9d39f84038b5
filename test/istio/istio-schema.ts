// Istio resources against Istio's CRD schemas as packaged by @kubernetes-models/istio: the generated validators
// check types, enums and required fields, but (like the CRDs' structural schemas, which prune silently) accept
// unknown fields; the package's generated TypeScript interfaces list every field, so a type-check of the resource
// as an object literal catches a misspelt field at any depth the schema describes.
import { join } from 'node:path';
import ts from 'typescript';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter';
import { WasmPlugin } from '@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator';
import { Telemetry } from '@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { REPO_ROOT, type Resource } from './manifests.ts';

interface IstioKind {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  model: new (data: any) => { validate(): void };
  /** module specifier and interface name of the generated type */
  typeModule: string;
  typeName: string;
  /** the CRD leaves spec unstructured, so there is no field list to check against */
  schemaless?: boolean;
}

const KINDS: Record<string, IstioKind> = {
  'networking.istio.io/v1alpha3/EnvoyFilter': {
    model: EnvoyFilter,
    typeModule: '@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter',
    typeName: 'IEnvoyFilter',
  },
  'extensions.istio.io/v1alpha1/WasmPlugin': {
    model: WasmPlugin,
    typeModule: '@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin',
    typeName: 'IWasmPlugin',
  },
  // Its CRD preserves unknown fields under spec (no schema), so the generated type has no spec and only the
  // validator's apiVersion/kind/metadata checks apply; mesh-config keys are checked by the manifest tests.
  'install.istio.io/v1alpha1/IstioOperator': {
    model: IstioOperator,
    typeModule: '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator',
    typeName: 'IIstioOperator',
    schemaless: true,
  },
  'security.istio.io/v1/PeerAuthentication': {
    model: PeerAuthentication,
    typeModule: '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication',
    typeName: 'IPeerAuthentication',
  },
  'telemetry.istio.io/v1/Telemetry': {
    model: Telemetry,
    typeModule: '@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry',
    typeName: 'ITelemetry',
  },
};

export function isIstioResource(r: Resource): boolean {
  return /\.istio\.io\//.test(r.apiVersion);
}

function kindOf(r: Resource): IstioKind {
  const kind = KINDS[`${r.apiVersion}/${r.kind}`];
  if (!kind) throw new Error(`invalid Istio resource: ${r.apiVersion}/${r.kind} must be one of ${Object.keys(KINDS).join(', ')}`);
  return kind;
}

/** Schema problems from the CRD validator (empty = valid). */
export function schemaErrors(r: Resource): string[] {
  const { model } = kindOf(r);
  try {
    new model(r).validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: { instancePath: string; message: string }[] }).errors;
    return details ? details.map((e) => `${e.instancePath || '/'} ${e.message}`) : [String(err)];
  }
}

/**
 * Fields the CRD does not define, per resource (index-aligned with `resources`), found by type-checking each
 * resource as an object literal of its generated interface. One TypeScript program for all of them.
 */
export function unknownFieldErrors(resources: Resource[]): string[][] {
  const virtualFile = join(REPO_ROOT, 'test/istio/__istio_resources_typecheck__.ts');
  const imports = new Map<string, string>();
  const lines: string[] = [];
  const lineOfResource: number[] = [];
  resources.forEach((r, i) => {
    const kind = kindOf(r);
    if (kind.schemaless) return void lineOfResource.push(-1);
    const alias = `T${imports.size}`;
    if (!imports.has(kind.typeModule)) imports.set(kind.typeModule, alias);
    lineOfResource.push(lines.length);
    lines.push(`export const r${i}: ${imports.get(kind.typeModule)}.${kind.typeName} = ${JSON.stringify(r)};`);
  });
  const header = [...imports].map(([module, alias]) => `import type * as ${alias} from ${JSON.stringify(module)};`);
  const source = [...header, ...lines].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => (f === virtualFile ? source : readFile(f));
  host.fileExists = (f) => f === virtualFile || fileExists(f);
  host.getSourceFile = (f, lang, onError, create) =>
    f === virtualFile ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, onError, create);
  const program = ts.createProgram([virtualFile], options, host);
  const file = program.getSourceFile(virtualFile)!;
  const out: string[][] = resources.map(() => []);
  const offset = header.length;
  for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
    const line = d.start === undefined ? -2 : file.getLineAndCharacterOfPosition(d.start).line - offset;
    const index = lineOfResource.indexOf(line);
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (index < 0) throw new Error(`type-check of Istio resources failed outside a resource: ${message}`);
    out[index].push(message);
  }
  return out;
}

