import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SharedData } from '../../filter/host/index.ts';
import { WasmResult } from '../../filter/host/abi-constants.ts';

const data = suite('shared-data: store and queues');
const bytes = (s: string) => Buffer.from(s);

data('partitions by vm_id; one global cas counter; cas ignored for a new key', () => {
  const store = new SharedData();
  store.acquire('a'); store.acquire('b');
  assert.is(store.set('a', 'k', bytes('1'), 999), WasmResult.Ok);
  assert.is(store.get('b', 'k'), undefined);
  assert.is(store.set('b', 'k', bytes('2'), 0), WasmResult.Ok);
  assert.is(store.get('a', 'k')!.cas, 1);
  assert.is(store.get('b', 'k')!.cas, 2);
  assert.is(store.set('a', 'k', bytes('3'), 2), WasmResult.CasMismatch, "another key's cas does not match");
  assert.is(store.set('a', 'k', bytes('3'), 1), WasmResult.Ok);
  assert.is(Buffer.from(store.get('a', 'k')!.value).toString(), '3');
});

data('data is deleted when the last VM of the vm_id is released', () => {
  const store = new SharedData();
  store.acquire('a'); store.acquire('a');
  store.set('a', 'k', bytes('v'), 0);
  store.release('a');
  assert.ok(store.get('a', 'k'));
  store.release('a');
  assert.is(store.get('a', 'k'), undefined);
});

data('queues: register re-opens by name, the last registrant is notified, dequeue is FIFO then EMPTY', () => {
  const store = new SharedData();
  store.acquire('vm');
  const first: number[] = [], second: number[] = [];
  const id = store.registerQueue('vm', 'q', { deliver: (q) => first.push(q) });
  assert.ok(id > 0);
  assert.is(store.registerQueue('vm', 'q', { deliver: (q) => second.push(q) }), id);
  assert.is(store.resolveQueue('vm', 'q'), id);
  assert.is(store.resolveQueue('other', 'q'), undefined);
  assert.is(store.enqueue(id, bytes('x')), WasmResult.Ok);
  assert.is(store.enqueue(id, bytes('y')), WasmResult.Ok);
  assert.equal(first, []);
  assert.equal(second, [id, id]);
  assert.is(Buffer.from(store.dequeue(id) as Uint8Array).toString(), 'x');
  assert.is(Buffer.from(store.dequeue(id) as Uint8Array).toString(), 'y');
  assert.is(store.dequeue(id), WasmResult.Empty);
  assert.is(store.enqueue(id + 100, bytes('z')), WasmResult.NotFound);
  assert.is(store.dequeue(id + 100), WasmResult.NotFound);
});
data.run();
