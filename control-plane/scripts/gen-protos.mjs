#!/usr/bin/env node
// Generates the TypeScript types for protos/meshlens/v1/*.proto and protos/etcd/*.proto into control-plane/src/generated/ (committed).
// The options here must match the loader options in control-plane/src/protos.ts, or the generated types would lie
// about the runtime objects. Usage: node control-plane/scripts/gen-protos.mjs [outDir]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const protoRoot = join(root, 'protos');
const outDir = resolve(process.argv[2] ?? join(root, 'control-plane/src/generated'));
const protoFiles = readdirSync(join(protoRoot, 'meshlens/v1'))
  .filter((name) => name.endsWith('.proto'))
  .sort()
  .map((name) => `meshlens/v1/${name}`)
  // etcd's own API (a minimal transcription), for the etcd policy store's client.
  .concat(['etcd/kv.proto', 'etcd/rpc.proto']);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const bin = join(root, 'node_modules/.bin/proto-loader-gen-types');
const result = spawnSync(bin, [
  '--longs=String', '--enums=String', '--defaults', '--oneofs', '--includeComments',
  '--grpcLib=@grpc/grpc-js', '--importFileExtension=.ts',
  `--includeDirs=${protoRoot}`, `--outDir=${outDir}`, ...protoFiles,
], { cwd: protoRoot, stdio: 'inherit' });
if (result.status !== 0) {
  process.stderr.write(`gen-protos: proto-loader-gen-types exited with ${result.status ?? result.signal}\n`);
  process.exit(1);
}

// The generator writes the absolute path of each .proto into a header comment; make it repo-relative so the
// committed output does not depend on where the repository is checked out (the staleness test diffs it).
function relativise(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) { relativise(path); continue; }
    const text = readFileSync(path, 'utf8');
    const fixed = text.split(`${protoRoot}/`).join('protos/');
    if (fixed !== text) writeFileSync(path, fixed);
  }
}
relativise(outDir);
