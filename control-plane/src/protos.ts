// Loads protos/meshlens/v1/*.proto once, for gRPC service definitions and for direct protobufjs encode/decode
// (discovery responses are encoded once per snapshot, reports are decoded by hand so malformed input gets a clear
// status). LOADER_OPTIONS must match the flags in control-plane/scripts/gen-protos.mjs, which the generated types
// in ./generated/ describe.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ProtoGrpcType as AdminProto } from './generated/admin.ts';
import type { ProtoGrpcType as DiscoveryProto } from './generated/discovery.ts';
import type { ProtoGrpcType as KernelProto } from './generated/kernel.ts';
import type { ProtoGrpcType as TelemetryProto } from './generated/telemetry.ts';

export const PROTO_ROOT = fileURLToPath(new URL('../../protos', import.meta.url));

export const PROTO_FILES: readonly string[] = readdirSync(join(PROTO_ROOT, 'meshlens/v1'))
  .filter((name) => name.endsWith('.proto'))
  .sort()
  .map((name) => `meshlens/v1/${name}`);

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

/** protobufjs conversion options equal to LOADER_OPTIONS, for hand-decoded messages. */
export const CONVERSION_OPTIONS: protobuf.IConversionOptions = {
  longs: String, enums: String, defaults: true, oneofs: true,
};

type MeshlensGrpc = AdminProto & DiscoveryProto & KernelProto & TelemetryProto;

let cachedGrpc: MeshlensGrpc['meshlens']['v1'] | undefined;
let cachedDefinition: protoLoader.PackageDefinition | undefined;
let cachedRoot: protobuf.Root | undefined;

export function packageDefinition(): protoLoader.PackageDefinition {
  cachedDefinition ??= protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS);
  return cachedDefinition;
}

/** The meshlens.v1 gRPC namespace: service client constructors and their `.service` definitions. */
export function meshlensGrpc(): MeshlensGrpc['meshlens']['v1'] {
  cachedGrpc ??= (grpc.loadPackageDefinition(packageDefinition()) as unknown as MeshlensGrpc).meshlens.v1;
  return cachedGrpc;
}

/** The protobufjs Root with every meshlens.v1 type (for encode/decode outside gRPC). */
export function protoRoot(): protobuf.Root {
  if (!cachedRoot) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_ROOT, target));
    root.loadSync([...PROTO_FILES], { keepCase: false });
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

export function messageType(name: string): protobuf.Type {
  return protoRoot().lookupType(`meshlens.v1.${name}`);
}
