// BreakerStates on its own: transitions from successive reports (and what several VMs of one proxy reporting the
// same process-wide state must not add), the aggregate's worst state over nodes, the bounds and the expiry.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BreakerStates } from '../../control-plane/src/breaker-states.ts';
import type { BreakerEntry__Output } from '../../control-plane/src/generated/meshlens/v1/BreakerEntry.ts';

const test = suite('breaker states');
const C = 'outbound|8080||orders.default.svc.cluster.local';

function entry(state: 'CLOSED' | 'OPEN' | 'HALF_OPEN', since: number, extra: Partial<BreakerEntry__Output> = {}): BreakerEntry__Output {
  return {
    cluster: C, tenant: 'acme', state: `BREAKER_STATE_${state}`, transitions: 1, policyId: 'orders', pathTemplate: '*',
    sinceUnixMs: String(since), openUntilUnixMs: '0', openCause: 'BREAKER_OPEN_CAUSE_ERROR_RATE', tripRequests: 20,
    tripFailures: 9, tripSlowCalls: 0, ...extra,
  } as unknown as BreakerEntry__Output;
}

test('state changes become transitions once, however many VMs of the node report them', () => {
  const states = new BreakerStates();
  states.record('n1', 100, [entry('CLOSED', 0, { transitions: 0, openCause: 'BREAKER_OPEN_CAUSE_UNSPECIFIED' as any })]);
  states.record('n1', 200, [entry('OPEN', 150)]);
  states.record('n1', 201, [entry('OPEN', 150)]);                 // another VM of n1, same process-wide record
  states.record('n1', 202, [entry('CLOSED', 0, { transitions: 0 })]); // a VM whose view lags: ignored
  const view = states.view();
  assert.equal(view.transitions, [{ atUnixMs: 150, node: 'n1', cluster: C, tenant: 'acme', from: 'Closed', to: 'Open' }]);
  assert.equal(view.breakers, [{
    cluster: C, tenant: 'acme', state: 'Open', policyId: 'orders', nodes: { Closed: 0, Open: 1, HalfOpen: 0 }, since: 150,
    reason: 'error ratio 0.45 (9 of 20 requests in the breaker window)',
  }]);
});

test('a re-entered state and a first sighting infer the predecessor from the state machine', () => {
  const states = new BreakerStates();
  states.record('n1', 100, [entry('OPEN', 90, { openCause: 'BREAKER_OPEN_CAUSE_PROBE_FAILED' as any })]);
  states.record('n1', 200, [entry('OPEN', 180, { transitions: 2, openCause: 'BREAKER_OPEN_CAUSE_PROBE_FAILED' as any })]);
  assert.equal(states.view().transitions.map((t) => [t.from, t.to, t.atUnixMs]), [['HalfOpen', 'Open', 180], ['HalfOpen', 'Open', 90]]);
  assert.is(states.view().breakers[0]!.reason, 'a HalfOpen probe failed');
});

test('the scope shows the worst state over nodes, the latest transition and the worst node\'s reason', () => {
  const states = new BreakerStates();
  states.record('n1', 100, [entry('CLOSED', 300, { openCause: 'BREAKER_OPEN_CAUSE_UNSPECIFIED' as any })]);
  states.record('n2', 100, [entry('HALF_OPEN', 200, { openCause: 'BREAKER_OPEN_CAUSE_SLOW_CALL_RATE' as any, tripSlowCalls: 12 })]);
  states.record('n3', 100, [entry('CLOSED', 100)]);
  const [scope] = states.view().breakers;
  assert.equal(scope, {
    cluster: C, tenant: 'acme', state: 'HalfOpen', policyId: 'orders', nodes: { Closed: 2, Open: 0, HalfOpen: 1 }, since: 300,
    reason: 'probing after: slow-call ratio 0.60 (12 of 20 requests in the breaker window)',
  });
  assert.equal(states.view(new Set(['other'])), { breakers: [], transitions: [] }, 'filtered by cluster');
});

test('bounded: entries beyond the cap are refused, rings and listings are capped', () => {
  const states = new BreakerStates({ maxEntries: 2, transitionsPerEntry: 3, maxTransitionsListed: 4 });
  states.record('n1', 1, [entry('OPEN', 1)]);
  states.record('n2', 1, [entry('OPEN', 1)]);
  states.record('n3', 1, [entry('OPEN', 1)]);
  assert.is(states.size, 2);
  assert.is(states.refused, 1);
  for (let t = 2; t < 12; t++) states.record('n1', t, [entry(t % 2 ? 'OPEN' : 'HALF_OPEN', t)]);
  const mine = states.view().transitions.filter((t) => t.node === 'n1');
  assert.equal(mine.map((t) => t.atUnixMs), [11, 10, 9]);
  assert.is(states.view().transitions.length, 4);
});

test('entries expire when their node stops reporting or its streams end', () => {
  const states = new BreakerStates({ staleAfterMs: 1000 });
  states.record('n1', 1000, [entry('OPEN', 1)]);
  states.record('n2', 1500, [entry('OPEN', 1)]);
  states.prune(2200);
  assert.equal(states.view().breakers[0]!.nodes, { Closed: 0, Open: 1, HalfOpen: 0 });
  states.nodeGone('n2');
  assert.is(states.size, 0);
  assert.equal(states.view(), { breakers: [], transitions: [] });
});

test.run();
