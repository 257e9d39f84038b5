import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPolicyHarness } from './support.ts';

const harness = await loadPolicyHarness();
const setup = (templates: string[], maxPerCluster = 200, maxLength = 2048, maxClusters = 256, collapse = true) =>
  harness.call('pathSetup', templates.join('\n'), maxPerCluster, maxLength, maxClusters, collapse);
const template = (path: string) => harness.str('pathTemplate', path);
const bounded = (cluster: string, path: string) => harness.str('pathBounded', cluster, path);
const templateUtf8 = (path: string) => harness.str('pathTemplateUtf8', path);
const boundedUtf8 = (cluster: string, path: string) => harness.str('pathBoundedUtf8', cluster, path);

const ids = suite('path-template: ID-like segments');
const idLike = ['0', '42', '1234567890123', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', '3F2504E0-4F89-11D3-9A0C-0305E82C3301',
  '507f1f77bcf86cd799439011', 'deadbeefdeadbeef', 'a1b2c3d4', 'ord_2Xk9PqZ7Lm', 'INV-2024-000123',
  'eyJhbGciOiJIUzI1NiJ9abcdefgh', 'x'.repeat(65), 'caf%C3%A9', 'ünicode', 'a b', 'a;b', 'a=b',
  'sku-12345', 'SKU-123', 'user_100', 'sku12345', 'item-0042'];
const routeLike = ['api', 'v1', 'v2beta1', 'orders', 'users', 'healthz', 'deadbeef', 'page2', 'oauth2', 'well-known',
  '.well-known', 'index.html', 'x'.repeat(64), 'abc-def-ghi', 'snake_case_name', 'h264', 'mp3', 'api-v2', 'sha256',
  'ipv6', 'page-12', 'top100'];
for (const segment of idLike) ids(`collapses ${segment.slice(0, 30)}`, () => assert.ok(harness.call('idLike', segment), segment));
for (const segment of routeLike) ids(`keeps ${segment.slice(0, 30)}`, () => assert.not.ok(harness.call('idLike', segment), segment));
ids.run();

const templating = suite('path-template: templating');
templating.before.each(() => setup(['/api/orders/{id}', '/api/orders/{id}/items/{item}', '/files/{name}']));

templating('query and fragment are stripped', () => {
  assert.is(template('/healthz?verbose=1'), '/healthz');
  assert.is(template('/docs#section'), '/docs');
  assert.is(template('/a?b#c'), '/a');
  assert.is(template('?x'), '/');
  assert.is(template(''), '/');
});

templating('configured templates win over the heuristic, in order, one segment per placeholder', () => {
  assert.is(template('/api/orders/abc'), '/api/orders/{id}');
  assert.is(template('/api/orders/123/items/9'), '/api/orders/{id}/items/{item}');
  assert.is(template('/files/report.pdf'), '/files/{name}');
  assert.is(template('/api/orders/'), '/api/orders/');
  assert.is(template('/api/orders/1/2'), '/api/orders/{id}/{id}');
});

templating('unmatched paths collapse ID-like segments and keep the rest', () => {
  assert.is(template('/users/42/cart'), '/users/{id}/cart');
  assert.is(template('/v1/accounts/3f2504e0-4f89-11d3-9a0c-0305e82c3301/events'), '/v1/accounts/{id}/events');
  assert.is(template('/api/products/sku-12345/reviews'), '/api/products/{id}/reviews');
  assert.is(template('/static/app.js'), '/static/app.js');
  assert.is(template('//double//slash/'), '//double//slash/');
});

templating('non-origin-form and over-long paths are ~other', () => {
  assert.is(template('*'), '~other');
  assert.is(template('http://example.com/x'), '~other');
  setup([], 200, 32);
  assert.is(template('/' + 'z'.repeat(31)), '/' + 'z'.repeat(31));
  assert.is(template('/' + 'z'.repeat(32)), '~other');
  assert.is(template('/' + 'z'.repeat(20) + '?' + 'q'.repeat(5000)), '/' + 'z'.repeat(20));
});

templating('collapseIds=false sends unmatched paths to ~other', () => {
  setup(['/api/orders/{id}'], 200, 2048, 256, false);
  assert.is(template('/api/orders/7'), '/api/orders/{id}');
  assert.is(template('/healthz'), '~other');
});
templating.run();

const caps = suite('path-template: per-cluster cap');
caps('each cluster keeps at most maxPerCluster templates; clusters are independent', () => {
  setup([], 3);
  assert.equal(['/a', '/b', '/c', '/d', '/a'].map((p) => bounded('c1', p)), ['/a', '/b', '/c', '~other', '/a']);
  assert.is(bounded('c2', '/d'), '/d');
  assert.is(harness.call('pathTemplateCount', 'c1'), 3);
});
caps('clusters beyond maxClusters get ~other', () => {
  setup([], 10, 2048, 2);
  assert.is(bounded('c1', '/a'), '/a');
  assert.is(bounded('c2', '/a'), '/a');
  assert.is(bounded('c3', '/a'), '~other');
});
caps('100,000 distinct raw paths stay within the cap and never trap', () => {
  setup(['/api/orders/{id}'], 200);
  const seen = new Set<string>();
  for (let i = 0; i < 100000; i++) {
    const raw = i % 3 === 0 ? `/api/orders/${i}` : i % 3 === 1 ? `/p${i.toString(36)}x/${i}` : `/s/${'z'.repeat(i % 50)}q${i}`;
    seen.add(bounded('c', raw));
  }
  assert.ok(seen.size <= 201, `got ${seen.size} distinct templates`);
  assert.ok(seen.has('~other') && seen.has('/api/orders/{id}'));
  assert.is(harness.call('pathTemplateCount', 'c'), 200);
});
caps('a 10 KB path is bounded work and ~other; a 10 KB path of short segments is bounded too', () => {
  setup([], 200);
  const longPath = '/' + 'a'.repeat(10240);
  let started = performance.now();
  for (let i = 0; i < 1000; i++) template(longPath);
  const perCallMs = (performance.now() - started) / 1000;
  assert.is(template(longPath), '~other');
  setup([], 200, 65536);
  const manySegments = '/1'.repeat(5120);
  started = performance.now();
  const result = template(manySegments);
  assert.is(result, '/{id}'.repeat(5120));
  assert.ok(perCallMs < 1, `10 KB path took ${perCallMs} ms per call`);
});
caps.run();

// The filter templates the :path bytes of the header map without decoding them (PathTemplater.templateUtf8): it must
// give what the string route gives for every path, ASCII or not, at every length around maxLength.
const bytes = suite('path-template: the header bytes route');
const corpus = [
  '', '/', '?x', '#f', '/healthz?verbose=1', '/docs#section', '/a?b#c', '/api/orders/abc', '/api/orders/123/items/9',
  '/files/report.pdf', '/api/orders/', '/api/orders/1/2', '/users/42/cart', '/static/app.js', '//double//slash/',
  '/v1/accounts/3f2504e0-4f89-11d3-9a0c-0305e82c3301/events', '/api/products/sku-12345/reviews', '*',
  'http://example.com/x', '/caf%C3%A9/1', '/café/menu', '/ünicode/42?q=ü', '/a/b?ü=1', '/emoji/😀/7', '/x/\u00e9t\u00e9',
  '/' + 'x'.repeat(65) + '/y', '/p/' + '1'.repeat(40), '/a b/c', '/semi;colon/1',
];
bytes('every corpus path gets the same template and bounded label as its string', () => {
  setup(['/api/orders/{id}', '/api/orders/{id}/items/{item}', '/files/{name}']);
  for (const path of corpus) {
    assert.is(templateUtf8(path), template(path), path);
    assert.is(boundedUtf8('c1', path), bounded('c1', path), path);
  }
});
bytes('non-ASCII around maxLength: byte and code-unit lengths differ, the template does not', () => {
  setup([], 200, 16);
  for (let n = 10; n <= 18; n++) {
    for (const tail of ['', 'é', 'éé', '😀', '?é', 'é?q', '#😀']) {
      const path = '/' + 'a'.repeat(n - 1) + tail;
      assert.is(templateUtf8(path), template(path), path);
    }
  }
});
bytes('a generated mix of 5,000 paths agrees with the string route', () => {
  setup(['/api/orders/{id}'], 200);
  const parts = ['api', 'orders', '42', 'sku-12345', 'v2', 'é', 'ab12cd34ef', '', 'x'.repeat(70), '%20', 'item_0042', 'UPPER'];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) % parts.length;
  for (let i = 0; i < 5000; i++) {
    let path = '';
    const segments = 1 + (i % 6);
    for (let s = 0; s < segments; s++) path += '/' + parts[next()];
    if (i % 7 === 0) path += '?q=' + parts[next()];
    assert.is(templateUtf8(path), template(path), path);
  }
});
bytes('the same template comes back as the same string object, so identity caches downstream hit', () => {
  setup(['/api/orders/{id}'], 200);
  assert.ok(harness.call('pathSameTemplateObject', '/users/1/cart', '/users/2/cart'));
  assert.ok(harness.call('pathSameTemplateObject', '/static/app.js?v=1', '/static/app.js?v=2'));
  assert.ok(harness.call('pathSameTemplateObject', '/api/orders/1', '/api/orders/2'));
  assert.not.ok(harness.call('pathSameTemplateObject', '/users/1/cart', '/users/1/wishlist'));
});
bytes.run();
