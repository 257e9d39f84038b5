import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DecodedStrings, pairsSize, parsePairs, writePairs } from '../../filter/host/headers.ts';

const pairs = suite('headers: proxy-wasm pairs format');

function encode(h: [string, string][]): Uint8Array {
  const out = new Uint8Array(pairsSize(h));
  if (out.length) writePairs(h, out, new DataView(out.buffer), 0);
  return out;
}

pairs('the §4 example encodes to the documented 31 bytes', () => {
  const bytes = encode([['a', '1'], ['b', '22']]);
  assert.is(Buffer.from(bytes).toString('hex'), '02000000' + '01000000' + '01000000' + '01000000' + '02000000' + '6100' + '3100' + '6200' + '323200');
  assert.equal(parsePairs(bytes), [['a', '1'], ['b', '22']]);
});

pairs('empty map is size 0; utf-8 lengths are byte lengths', () => {
  assert.is(pairsSize([]), 0);
  const h: [string, string][] = [['x-name', 'José']];
  assert.equal(parsePairs(encode(h)), h);
  assert.is(pairsSize(h), 4 + 8 + 6 + 1 + 5 + 1);
});

pairs('malformed input is silently an empty map', () => {
  const good = encode([['a', '1']]);
  assert.equal(parsePairs(good.subarray(0, 3)), [], 'shorter than the count');
  const trailing = new Uint8Array([...good, 0]);
  assert.equal(parsePairs(trailing), [], 'bytes after the last string');
  const badNul = good.slice(); badNul[12 + 1] = 0x41;
  assert.equal(parsePairs(badNul), [], 'terminator not NUL');
  const tooMany = new Uint8Array(4); new DataView(tooMany.buffer).setUint32(0, 1025, true);
  assert.equal(parsePairs(tooMany), [], 'more than 1024 pairs');
  const overRead = good.slice(); new DataView(overRead.buffer).setUint32(4, 99, true);
  assert.equal(parsePairs(overRead), [], 'declared length over-reads');
});
pairs('decoded strings: one address carrying strings in turn (a reused scratch block) decodes each as it is now', () => {
  let derived = 0;
  const cache = new DecodedStrings<string>(8, (s) => { derived++; return s.toUpperCase(); });
  const memory = new Uint8Array(64);
  const at = (text: string) => { memory.fill(0); memory.set(Buffer.from(text), 16); return cache.get(memory, 16, text.length); };
  const names = ['x-envoy-retry-on', 'x-envoy-max-retries', 'a', 'bb', 'ccc', 'x-envoy-retry-on'];
  for (let round = 0; round < 3; round++) for (const n of names) assert.is(at(n), n.toUpperCase());
  // Remembered by content: each distinct string is decoded once, whatever the address saw in between.
  assert.is(derived, 5);
  // Same length, different bytes at the same address: never the stale entry.
  assert.is(at('abc'), 'ABC');
  assert.is(at('ccc'), 'CCC');
});
pairs.run();
