// Snapshot, SnapshotCache, RolloutTracker and PolicyStore without any transport.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validatePolicy } from '../../control-plane/src/policy-model.ts';
import { SqlitePolicyStore as PolicyStore } from '../../control-plane/src/sqlite-policy-store.ts';
import { RolloutTracker } from '../../control-plane/src/rollout.ts';
import { Snapshot } from '../../control-plane/src/snapshot.ts';
import { SnapshotCache } from '../../control-plane/src/snapshot-cache.ts';

const test = suite('snapshot and store');
const policy = validatePolicy({});

test('snapshots are immutable, sorted, and reject duplicate ids', () => {
  const snapshot = new Snapshot(3, [{ id: 'b', version: 1, policy }, { id: 'a', version: 2, policy }]);
  assert.equal(snapshot.entries.map((e) => e.id), ['a', 'b']);
  assert.is(snapshot.versionInfo, '3');
  assert.throws(() => { (snapshot.entries as any).push({}); });
  assert.throws(() => new Snapshot(4, [{ id: 'a', version: 1, policy }, { id: 'a', version: 2, policy }]), /id a must be unique/);
});

test('the cache only moves forward and notifies watchers after the snapshot is current', () => {
  const cache = new SnapshotCache();
  const seen: string[] = [];
  const unwatch = cache.watch((s) => seen.push(`${s.version}:${cache.current().version}`));
  cache.set(new Snapshot(1, []));
  cache.set(new Snapshot(5, []));
  assert.throws(() => cache.set(new Snapshot(5, [])), /version must be greater than 5/);
  unwatch();
  cache.set(new Snapshot(6, []));
  assert.equal(seen, ['1:1', '5:5']);
});

test('rollout tracker: convergence counts only connected VMs on the current version; dirty rows persist', () => {
  const tracker = new RolloutTracker([{ nodeId: 'old', worker: 'w', ackedVersion: '1', ackedAtUnixMs: 1, nackedVersion: '', nackReason: '', nackedAtUnixMs: 0 }]);
  tracker.opened('a', 'w0');
  tracker.opened('b', 'w0');
  tracker.sent('a', 'w0', '2');
  assert.is(tracker.status('2').nodes.find((n) => n.nodeId === 'a')!.pendingVersion, '2');
  tracker.acked('a', 'w0', '2', 10);
  tracker.nacked('b', 'w0', '2', 'invalid policy: x must y', 11);
  const status = tracker.status('2');
  assert.equal([status.connected, status.converged, status.nodes.length], [2, 1, 3]);
  assert.equal(tracker.takeDirty().map((r) => r.nodeId).sort(), ['a', 'b']);
  assert.equal(tracker.takeDirty(), []);
  tracker.closed('a', 'w0');
  assert.is(tracker.status('2').converged, 0);
});

test('store: versions per policy, snapshot sequence across policies, reopen keeps everything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlens-store-'));
  try {
    let now = 100;
    const store = new PolicyStore(dir, { now: () => now });
    store.set('a', 0, policy, 'alice');
    now = 200;
    store.set('b', 0, policy, 'bob');
    store.set('a', 1, validatePolicy({ breaker: { openMs: 5 } }), 'carol');
    store.delete('b', 1, 'dave');
    assert.is(store.snapshotVersion(), 4);
    assert.equal(store.snapshot().entries.map((e) => [e.id, e.version]), [['a', 2]]);
    store.saveRollout([{ nodeId: 'n', worker: 'w', ackedVersion: '4', ackedAtUnixMs: 1, nackedVersion: '', nackReason: '', nackedAtUnixMs: 0 }]);
    store.close();
    const reopened = new PolicyStore(dir);
    assert.is(reopened.snapshotVersion(), 4);
    assert.equal(reopened.history('b').map((h) => [h.kind, h.actor, h.atUnixMs]), [['DELETE', 'dave', 200], ['CREATE', 'bob', 200]]);
    assert.is(reopened.get('a').policy.breaker.openMs, 5);
    assert.is(reopened.get('a').updatedBy, 'carol');
    assert.is(reopened.loadRollout()[0].ackedVersion, '4');
    assert.throws(() => reopened.get('b'), /policy b not found/);
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
