import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPolicyHarness } from './support.ts';

const harness = await loadPolicyHarness();

function canonical(value: unknown): string {
  const quote = (s: string) => '"' + [...s].map((ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) {
      const c = ch.charCodeAt(i);
      if (c === 0x22) out += '\\"';
      else if (c === 0x5c) out += '\\\\';
      else if (c < 0x20 || c >= 0x7f) out += '\\u' + c.toString(16).padStart(4, '0');
      else out += ch[i];
    }
    return out;
  }).join('') + '"';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    const bits = new BigUint64Array(new Float64Array([value]).buffer)[0];
    return 'n:' + bits.toString(16);
  }
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']';
  return '{' + Object.entries(value as object).map(([k, v]) => quote(k) + ':' + canonical(v)).join(',') + '}';
}

const parse = (text: string, depth = 32) => harness.str('jsonParse', text, depth);

const valid = suite('json: agrees with JSON.parse on valid documents');

const documents = [
  '{}', '[]', 'null', 'true', 'false', '0', '-0', '12', '-3.5', '1e3', '1E-7', '2.5e+10', '123456789012345678901234567890',
  '0.1', '1.7976931348623157e308', '5e-324', '"plain"', '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t"', '"\\u00e9\\u4e2d\\ud83d\\ude00"',
  '"é中😀 raw"', ' { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } ',
  '{"tenant":{"headers":["x-tenant-id","x-org"],"maxLength":64},"paths":{"templates":["/api/orders/{id}"]}}',
  '[[[[[[[[[[1]]]]]]]]]]', '{"":""}', '"\\u0000"',
];
for (const doc of documents) {
  valid(`parses ${doc.slice(0, 40)}`, () => {
    const expected = canonical(JSON.parse(doc));
    assert.is(parse(doc), expected);
  });
}

valid('objects keep every key in order and get() returns the last duplicate like JSON.parse', () => {
  assert.is(parse('{"a":1,"b":2,"a":3}'), '{"a":n:3ff0000000000000,"b":n:4000000000000000,"a":n:4008000000000000}');
  assert.is(harness.str('jsonGet', '{"a":1,"b":2,"a":3}', 'a'), canonical(3));
  assert.is(harness.str('jsonGet', '{"a":1}', 'missing'), 'null-result');
  assert.is(harness.str('jsonGet', '[1]', 'a'), 'null-result');
});
valid.run();

const invalid = suite('json: rejects malformed documents with an error instead of trapping');
const malformed = [
  '', ' ', '{', '}', '[', ']', '[1,]', '{"a":1,}', '{"a"}', '{"a" 1}', '{a:1}', "'x'", '"unterminated', '"bad \\x escape"',
  '"\\u12"', '"\\u12G4"', '01', '-', '1.', '.5', '1e', '1e+', '+1', 'tru', 'nul', 'falsey', 'NaN', 'Infinity',
  '[1 2]', '{"a":1 "b":2}', '"raw\ncontrol"', '"tab\there"', '1 2', '{} {}', '[]]',
];
for (const doc of malformed) {
  invalid(`rejects ${JSON.stringify(doc)}`, () => {
    assert.throws(() => JSON.parse(doc));
    assert.match(parse(doc), /^error: .+ at offset \d+$/);
  });
}
invalid('nesting beyond maxDepth is an error, at maxDepth it parses', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  assert.is(parse(deep(32), 32), canonical(JSON.parse(deep(32))));
  assert.match(parse(deep(33), 32), /^error: nesting deeper than 32/);
  assert.match(parse('{"a":'.repeat(100000) + '1' + '}'.repeat(100000), 32), /^error: nesting deeper than 32/);
});
invalid.run();

const hostile = suite('json: random and hostile inputs never trap');
hostile('20,000 mutated documents agree with JSON.parse on validity and value', () => {
  const pieces = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '1', '-', '0', 'e', '.', 'true', 'null', ' ', '\u0001', '\ud800', 'é'];
  let seed = 12345;
  const next = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  let validCount = 0;
  let invalidCount = 0;
  for (let i = 0; i < 20000; i++) {
    let doc = documents[next() % documents.length];
    const mutations = next() % 3;
    for (let m = 0; m < mutations; m++) {
      const at = next() % (doc.length + 1);
      const op = next() % 3;
      const piece = pieces[next() % pieces.length];
      if (op === 0) doc = doc.slice(0, at) + piece + doc.slice(at);
      else if (op === 1) doc = doc.slice(0, at) + doc.slice(at + 1);
      else doc = doc.slice(0, at) + piece + doc.slice(at + 1);
    }
    let expected: string | null = null;
    try { expected = canonical(JSON.parse(doc)); } catch { expected = null; }
    const got = parse(doc);
    if (expected === null) { assert.ok(got.startsWith('error: '), `expected an error for ${JSON.stringify(doc)}, got ${got}`); invalidCount++; }
    else { assert.is(got, expected, `document ${JSON.stringify(doc)}`); validCount++; }
  }
  assert.ok(validCount > 2000 && invalidCount > 2000, `valid ${validCount} / invalid ${invalidCount}: generator not mixing`);
});
hostile('a string of 200,000 escapes parses in linear time', () => {
  // Growth, not wall time, is what is tested: 4× the escapes must cost about 4× (quadratic would be 16×). The fastest
  // of three runs of each size keeps a busy machine's pauses out of the ratio.
  const fastest = (escapes: number) => {
    const doc = '"' + '\\n'.repeat(escapes) + '"';
    const expected = canonical(JSON.parse(doc));
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      const got = parse(doc);
      best = Math.min(best, performance.now() - started);
      assert.is(got, expected);
    }
    return best;
  };
  const small = fastest(50000);
  const large = fastest(200000);
  assert.ok(large / small < 8, `4× the escapes took ${(large / small).toFixed(1)}× as long (${small.toFixed(1)} → ${large.toFixed(1)} ms): not linear`);
});
hostile('a 1 MB string and a 100,000-element array parse', () => {
  const big = JSON.stringify('x'.repeat(1 << 20));
  assert.is(parse(big).length, big.length);
  const arr = JSON.stringify(Array.from({ length: 100000 }, (_, i) => i));
  assert.is(parse(arr), canonical(JSON.parse(arr)));
});
hostile.run();
