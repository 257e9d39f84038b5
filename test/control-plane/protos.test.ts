// The wire contracts: committed generated types are up to date, proto conventions hold, and the Policy message
// carries every field of the policy model without loss (so a pushed policy means what the admin stored).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validatePolicy } from '../../control-plane/src/policy-model.ts';
import { CONVERSION_OPTIONS, messageType, PROTO_FILES, PROTO_ROOT, protoRoot } from '../../control-plane/src/protos.ts';
import { policyFromProto } from '../../control-plane/src/services/admin.ts';

const test = suite('protos');
const root = fileURLToPath(new URL('../..', import.meta.url));

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

test('generated types are up to date (regenerate with npm run gen:protos)', () => {
  const out = mkdtempSync(join(tmpdir(), 'meshlens-gen-'));
  try {
    const result = spawnSync(process.execPath, [join(root, 'control-plane/scripts/gen-protos.mjs'), out], { encoding: 'utf8' });
    assert.is(result.status, 0, result.stderr);
    const committedDir = join(root, 'control-plane/src/generated');
    const fresh = listFiles(out).map((f) => relative(out, f)).sort();
    const committed = listFiles(committedDir).map((f) => relative(committedDir, f)).sort();
    assert.equal(committed, fresh, 'same file set');
    for (const file of fresh) {
      assert.ok(readFileSync(join(out, file), 'utf8') === readFileSync(join(committedDir, file), 'utf8'), `${file} is stale`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('every enum starts with <NAME>_UNSPECIFIED = 0 and every field and enum value is commented', () => {
  for (const file of PROTO_FILES) {
    const lines = readFileSync(join(PROTO_ROOT, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const field = /^\s+(?:optional |repeated )?(?:map<[^>]+>|[\w.]+) \w+ = \d+;/.test(line) || /^\s+[A-Z][A-Z0-9_]+ = \d+;/.test(line);
      if (field) assert.match(lines[i - 1], /^\s*\/\//, `${file}:${i + 1} "${line.trim()}" needs a comment`);
    });
  }
  const visit = (namespace: any) => {
    for (const nested of namespace.nestedArray ?? []) {
      if (nested.values && nested.valuesById) {
        const zero = nested.valuesById[0];
        const prefix = nested.name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
        assert.is(zero, `${prefix}_UNSPECIFIED`, `${nested.fullName} zero value`);
      }
      visit(nested);
    }
  };
  visit(protoRoot());
});

test('BreakerState uses the shared vocabulary', () => {
  const byId = messageType('Policy').root.lookupEnum('meshlens.v1.BreakerState').valuesById;
  assert.equal(Object.fromEntries(Object.entries(byId).map(([id, name]) => [name, Number(id)])), { BREAKER_STATE_UNSPECIFIED: 0, BREAKER_STATE_CLOSED: 1, BREAKER_STATE_OPEN: 2, BREAKER_STATE_HALF_OPEN: 3 });
});

test('a fully defaulted policy survives Policy encode/decode unchanged, field for field', () => {
  const policies = [
    validatePolicy({}),
    validatePolicy({
      target: { cluster: 'outbound|8080||orders.default.svc.cluster.local', pathTemplate: '/orders/{id}', perTenant: true },
      breaker: { enabled: false, errorRateThreshold: 0.25, slowCallMs: 1200, minRequests: 7, windowMs: 5000, openMs: 1000, maxOpenMs: 8000, halfOpenProbes: 4, halfOpenSuccesses: 2 },
      retry: { enabled: false, idempotentOnly: false, perTryTimeoutMs: 300, budgetRatio: 0, minRetriesPerSecond: 0, retriableStatusCodes: [409, 429],
        on: { '5xx': { maxRetries: 0 }, 'retriable-status-codes': { maxRetries: 2, backoffBaseMs: 10 } } },
    }),
  ];
  const type = messageType('Policy');
  for (const policy of policies) {
    const decoded = type.toObject(type.decode(type.encode(type.fromObject(policy)).finish()), CONVERSION_OPTIONS);
    assert.equal(validatePolicy(policyFromProto(decoded)), policy);
    assert.equal(policyFromProto(decoded), JSON.parse(JSON.stringify(policy)), 'no field lost or added');
  }
});

test.run();
