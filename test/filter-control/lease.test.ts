// The records and decisions behind one discovery stream per proxy (filter/assembly/control/lease.ts), compiled with
// asc and driven directly: the lease length, when a lease lapses, and when the holder may ACK or must NACK.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadControlHarness } from './load-harness.ts';

const h = await loadControlHarness();
const LEASE = 1000;
const NOW = 1_700_000_000_000;

const lease = suite('lease');

lease('covers five ticks of its holder, never less than 1 s', () => {
  assert.is(h.leaseMs(100), 1000);
  assert.is(h.leaseMs(200), 1000);
  assert.is(h.leaseMs(1000), 5000);
});

lease('survives shared data byte for byte and lapses only after its expiry, or when nobody holds it', () => {
  assert.equal([...h.leaseRoundTrip(3, 7, NOW + 1000, NOW + 1000)], [3, 7, NOW + 1000, 0]);
  assert.equal([...h.leaseRoundTrip(3, 7, NOW + 1000, NOW + 1001)], [3, 7, NOW + 1000, 1]);
  assert.equal([...h.leaseRoundTrip(0, 0, NOW + 5000, NOW)], [0, 0, NOW + 5000, 1], 'owner 0 = nobody');
});

lease.run();

const verdict = suite('ACK verdict');
const slots = (rows: [owner: number, heartbeatAgoMs: number, applied: number, rejected: number, reason?: string][]) => [
  new Uint32Array(rows.map((r) => r[0])), new Float64Array(rows.map((r) => NOW - r[1])),
  new Uint32Array(rows.map((r) => r[2])), new Uint32Array(rows.map((r) => r[3])), rows.map((r) => r[4] ?? '').join('|'),
] as const;
const of = (rows: Parameters<typeof slots>[0], seq: number) => h.verdictOf(...slots(rows), seq, NOW, LEASE);

verdict('applied once every live VM applied the snapshot (or a later one)', () => {
  assert.is(of([[1, 0, 4, 0], [2, 50, 4, 0], [3, 999, 5, 0]], 4), 'applied');
});

verdict('waiting while one live VM is behind', () => {
  assert.is(of([[1, 0, 4, 0], [2, 50, 3, 0]], 4), 'waiting');
});

verdict('a VM whose heartbeat lapsed (trapped, replaced) or a free slot is not waited for', () => {
  assert.is(of([[1, 0, 4, 0], [2, LEASE + 1, 1, 0], [0, 0, 0, 0]], 4), 'applied');
});

verdict('rejected as soon as one live VM refused it, with that VM and its reason', () => {
  assert.is(of([[1, 0, 4, 0], [6, 10, 3, 4, 'vm_5: invalid policy: breaker.windowMs must be > 0'], [2, 0, 3, 0]], 4),
    'rejected:vm_5: invalid policy: breaker.windowMs must be > 0');
  assert.is(of([[1, 0, 4, 0], [6, LEASE + 1, 3, 4, 'gone']], 4), 'applied', 'unless its heartbeat lapsed');
  assert.is(of([[1, 0, 5, 0], [6, 10, 5, 4, 'an older refusal']], 5), 'applied', 'a refusal of an older snapshot does not count');
});

verdict.run();
