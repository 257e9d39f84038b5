// A test that needs something this machine lacks must say so loudly and count as skipped, never as passed.
// Decide at registration time: `const t = needs(reason ?? null, test)` returns `test.skip` and prints a banner
// when `reason` is a string.
import type { Test } from 'uvu';

export function needs<T extends Test<any>>(missing: string | null, test: T): T {
  if (missing === null) return test;
  const line = `SKIPPED (machine lacks it): ${missing}`;
  process.stderr.write(`\n${'!'.repeat(line.length)}\n${line}\n${'!'.repeat(line.length)}\n`);
  return test.skip as unknown as T;
}
