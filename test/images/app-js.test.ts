// The rest of the /app both runtime images take (the Containerfiles' compile and loader stages), made on this host
// by control-plane/image-app.sh js and bpf/Makefile (test/images/support.ts), on its own file after the dependencies
// for the same reason as app-deps.test.ts: tsc is the second slowest step of a cold run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../support/skip.ts';
import { loudly, missingForImages, removeApp, stageApp, type StagedApp } from './support.ts';

const missing = missingForImages();
const t = suite('staged /app');
let staged: StagedApp | undefined;
let app = '';

t.before(loudly(async () => {
  if (missing) return;
  staged = await stageApp('node-agent');
  app = join(staged.context, 'app');
  console.log(`/app staged on the host in ${staged.seconds.toFixed(1)} s (made now: ${staged.built.join(', ') || 'nothing, cached'})`);
}));

t.after(() => removeApp(staged));

const test = needs(missing, t);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('compiled JavaScript, the protos, package.json and the loader; no TypeScript', () => {
  for (const path of ['control-plane/src/cli.js', 'control-plane/src/protos.js', 'bpf/agent/main.js', 'protos/meshlens/v1/kernel.proto',
    'package.json', 'bpf/.output/retrans']) {
    assert.ok(existsSync(join(app, path)), path);
  }
  assert.equal(filesUnder(app).filter((f) => f.endsWith('.ts') && !f.includes('/node_modules/')), []);
  assert.is(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type, 'module', 'the compiled ES modules need "type": "module"');
});

t.run();
