// The TypeScript parts (host, sidecar, control plane, agent, tests) run through tsx, which strips types without
// checking them; this suite is where a type error fails the build.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const typecheck = suite('typecheck');

typecheck('tsc --noEmit finds no type errors in the strict TypeScript sources', () => {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'tsconfig.json'], {
    encoding: 'utf8',
  });
  const diagnostics = `${result.stdout}${result.stderr}`.trim();
  assert.is(diagnostics, '', diagnostics);
  assert.is(result.status, 0);
});

typecheck.run();
