#!/usr/bin/env node
// npm run build:js: compiles control-plane/src and bpf/agent to dist/ (tsconfig.build.json), then lays dist/ out as
// the control-plane image's /app: the console's static files, package.json (its "type": "module" and version) and the .proto files protos.ts
// loads, both two levels above control-plane/src. `npx meshlens` / `node dist/control-plane/src/cli.js` run from it.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
mkdirSync(dist, { recursive: true });
cpSync(join(root, 'package.json'), join(dist, 'package.json'));
cpSync(join(root, 'protos'), join(dist, 'protos'), { recursive: true });
// The console's static files sit beside its compiled server (control-plane/ui/serve.ts reads them from its own dir).
for (const asset of ['index.html', 'app.js', 'app.css']) cpSync(join(root, 'control-plane/ui', asset), join(dist, 'control-plane/ui', asset));
// The bin must be executable for a direct ./dist/control-plane/src/cli.js and for npm's bin links.
chmodSync(join(dist, 'control-plane/src/cli.js'), 0o755);
