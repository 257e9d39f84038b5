import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPolicyHarness } from './support.ts';

const harness = await loadPolicyHarness();
const ABSENT = '\u0001';
const setup = (maxLength: number, maxTenants: number, allowed: string[] | null) =>
  harness.call('tenantSetup', maxLength, maxTenants, allowed === null ? '-' : allowed.join(','));
const resolve = (...values: (string | null)[]) =>
  harness.str('tenantResolve', values.map((v) => (v === null ? ABSENT : v)).join('\n'));

const rules = suite('tenant: resolution rules');
rules.before.each(() => setup(64, 100, null));

rules('valid tenants are lower-cased; charset is [A-Za-z0-9._-]', () => {
  assert.is(resolve('Acme'), 'acme');
  assert.is(resolve('team-7.prod_eu'), 'team-7.prod_eu');
  for (const bad of ['a b', 'a/b', 'a;.;b', 'a=.=b', 'ünï', 'a\u0000', 'semi;colon', '"quoted"', '']) {
    assert.is(resolve(bad), 'unknown', `tenant ${JSON.stringify(bad)}`);
  }
});

rules('length is bounded by maxLength', () => {
  setup(8, 100, null);
  assert.is(resolve('abcdefgh'), 'abcdefgh');
  assert.is(resolve('abcdefghi'), 'unknown');
});

rules('headers are tried in order; the first present one decides even when invalid', () => {
  assert.is(resolve(null, 'second'), 'second');
  assert.is(resolve('first', 'second'), 'first');
  assert.is(resolve('bad value', 'second'), 'unknown');
  assert.is(resolve(null, null), 'unknown');
});

rules('an allow-list maps everything else to ~other, case-insensitively', () => {
  setup(64, 100, ['acme', 'globex']);
  assert.is(resolve('ACME'), 'acme');
  assert.is(resolve('initech'), '~other');
  assert.is(resolve('in valid'), 'unknown');
});

rules('without an allow-list the first maxTenants distinct tenants keep their name', () => {
  setup(64, 3, null);
  assert.equal(['a', 'b', 'A', 'c', 'd', 'b', 'e'].map((t) => resolve(t)), ['a', 'b', 'a', 'c', '~other', 'b', '~other']);
  assert.is(harness.call('tenantDistinct'), 3);
});
rules('resolvers sharing one admission registry share the cap and agree on every tenant', () => {
  harness.call('tenantTwinSetup', 2);
  const on = (vm: number, tenant: string) => harness.str('tenantTwinResolve', vm, tenant);
  assert.is(on(0, 'a'), 'a');
  assert.is(on(1, 'b'), 'b');
  assert.is(on(1, 'c'), '~other', 'the cap counts tenants admitted by either resolver');
  assert.is(on(0, 'c'), '~other');
  assert.is(on(1, 'A'), 'a', 'a tenant admitted by one resolver keeps its name on the other');
  assert.is(on(0, 'b'), 'b');
});
rules.run();

const hostile = suite('tenant: hostile input stays bounded');
hostile('10,000 distinct tenants produce at most maxTenants names plus ~other and never trap', () => {
  setup(64, 100, null);
  const names = new Set<string>();
  for (let i = 0; i < 10000; i++) names.add(resolve(`tenant-${i}`));
  assert.is(names.size, 101);
  assert.ok(names.has('~other'));
  assert.is(harness.call('tenantDistinct'), 100);
});
hostile('a 10 KB header value and lone surrogates are unknown', () => {
  setup(64, 100, null);
  assert.is(resolve('x'.repeat(10240)), 'unknown');
  assert.is(resolve('\ud800abc'), 'unknown');
  assert.is(resolve('\ufffd'), 'unknown');
});
hostile.run();
