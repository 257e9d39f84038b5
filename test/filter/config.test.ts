import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPolicyHarness } from './support.ts';

const harness = await loadPolicyHarness();
const parse = (config: unknown) => harness.str('configParse', typeof config === 'string' ? config : JSON.stringify(config));

const defaults = suite('config: defaults and accepted values');

defaults('an empty configuration yields every default', () => {
  const summary = parse('');
  assert.is(summary, 'ok tenant.headers=x-tenant-id tenant.maxLength=64 tenant.allowed=- tenant.maxTenants=100 ' +
    'paths.templates= paths.maxPerCluster=200 paths.maxLength=2048 paths.collapseIds=true metrics.maxSeries=5000 ' +
    'metrics.maxClusters=256 metrics.durationHistogram=true tickMs=200 reportIntervalMs=1000 controlPlane=- node.id= ' +
    'defaultPolicy=-');
  assert.is(parse('{}'), summary);
  assert.is(parse('  \n'), summary);
});

defaults('every field is read into the typed config; allow-list is lower-cased', () => {
  const summary = parse({
    tenant: { headers: ['x-org', 'x-tenant-id'], maxLength: 32, allowed: ['Acme', 'globex'], maxTenants: 7 },
    paths: { templates: ['/api/orders/{id}', '/users/{user_id}/cart'], maxPerCluster: 50, maxLength: 512, collapseIds: false },
    metrics: { maxSeries: 2000, maxClusters: 8, durationHistogram: false },
    tickMs: 100, reportIntervalMs: 5000,
    controlPlane: { cluster: 'outbound|18000||meshlens.svc', timeoutMs: 2500, token: 's3cret' },
    node: { id: 'sidecar~10.0.0.1~orders-1.default', workload: 'orders', namespace: 'default' },
    defaultPolicy: { target: { cluster: '*' } },
  });
  assert.is(summary, 'ok tenant.headers=x-org,x-tenant-id tenant.maxLength=32 tenant.allowed=acme,globex ' +
    'tenant.maxTenants=7 paths.templates=/api/orders/{id},/users/{user_id}/cart paths.maxPerCluster=50 ' +
    'paths.maxLength=512 paths.collapseIds=false metrics.maxSeries=2000 metrics.maxClusters=8 ' +
    'metrics.durationHistogram=false tickMs=100 reportIntervalMs=5000 ' +
    'controlPlane=outbound|18000||meshlens.svc/2500/s3cret node.id=sidecar~10.0.0.1~orders-1.default ' +
    'defaultPolicy={"target":{"cluster":"*"}}');
});
defaults('controlPlane.tokenEnv is recorded by name; the token itself is read from the VM environment later', () => {
  assert.is(parse({ controlPlane: { cluster: 'cp', tokenEnv: 'MESHLENS_PROXY_TOKEN' } }),
    'ok tenant.headers=x-tenant-id tenant.maxLength=64 tenant.allowed=- tenant.maxTenants=100 ' +
    'paths.templates= paths.maxPerCluster=200 paths.maxLength=2048 paths.collapseIds=true metrics.maxSeries=5000 ' +
    'metrics.maxClusters=256 metrics.durationHistogram=true tickMs=200 reportIntervalMs=1000 ' +
    'controlPlane=cp/5000/ tokenEnv=MESHLENS_PROXY_TOKEN node.id= defaultPolicy=-');
  for (const name of ['_', 'a', 'Z9_x', 'X'.repeat(256)]) {
    assert.match(parse({ controlPlane: { cluster: 'cp', tokenEnv: name } }), ` tokenEnv=${name} `);
  }
});
defaults.run();

const rejected = suite('config: bad configurations are rejected with one line naming the field');

const cases: [string, unknown, string][] = [
  ['not JSON', '{"tenant":', 'configuration must be valid JSON (unexpected end of input at offset 10)'],
  ['not an object', '[1]', 'configuration must be a JSON object'],
  ['unknown top-level key', { tenants: {} }, 'tenants must not be present (unknown key; known: tenant, paths, metrics, tickMs, reportIntervalMs, controlPlane, node, defaultPolicy)'],
  ['unknown nested key', { tenant: { header: ['x'] } }, 'tenant.header must not be present (unknown key; known: headers, maxLength, allowed, maxTenants)'],
  ['tenant not an object', { tenant: 'x-tenant-id' }, 'tenant must be an object'],
  ['headers empty', { tenant: { headers: [] } }, 'tenant.headers must be an array of 1 to 8 strings'],
  ['headers not strings', { tenant: { headers: [1] } }, 'tenant.headers[0] must be a string'],
  ['header upper-case', { tenant: { headers: ['X-Tenant'] } }, 'tenant.headers[0] must be a lower-case header name of [a-z0-9_-]'],
  ['header repeated', { tenant: { headers: ['a', 'b', 'a'] } }, 'tenant.headers[2] must not repeat an earlier header'],
  ['maxLength zero', { tenant: { maxLength: 0 } }, 'tenant.maxLength must be an integer in [1, 256]'],
  ['maxLength fractional', { tenant: { maxLength: 1.5 } }, 'tenant.maxLength must be an integer in [1, 256]'],
  ['maxLength string', { tenant: { maxLength: '64' } }, 'tenant.maxLength must be an integer in [1, 256]'],
  ['maxTenants huge', { tenant: { maxTenants: 1e9 } }, 'tenant.maxTenants must be an integer in [1, 10000]'],
  ['allowed invalid tenant', { tenant: { allowed: ['ok', 'bad tenant'] } }, 'tenant.allowed[1] must be 1 to tenant.maxLength characters of [A-Za-z0-9._-]'],
  ['allowed too long for maxLength', { tenant: { maxLength: 3, allowed: ['abcd'] } }, 'tenant.allowed[0] must be 1 to tenant.maxLength characters of [A-Za-z0-9._-]'],
  ['template without slash', { paths: { templates: ['api/{id}'] } }, 'paths.templates[0] must start with "/"'],
  ['template partial placeholder', { paths: { templates: ['/a/x{id}'] } }, 'paths.templates[0] must contain only [A-Za-z0-9._~-] outside placeholders'],
  ['template unclosed placeholder', { paths: { templates: ['/a/{id'] } }, 'paths.templates[0] must use placeholders of the form {name} spanning a whole segment'],
  ['template bad placeholder name', { paths: { templates: ['/a/{1d}'] } }, 'paths.templates[0] must name placeholders with [A-Za-z_][A-Za-z0-9_]*'],
  ['template with query', { paths: { templates: ['/a?b'] } }, 'paths.templates[0] must contain only [A-Za-z0-9._~-] outside placeholders'],
  ['template repeated', { paths: { templates: ['/a', '/a'] } }, 'paths.templates[1] must not repeat an earlier template'],
  ['maxPerCluster negative', { paths: { maxPerCluster: -1 } }, 'paths.maxPerCluster must be an integer in [1, 10000]'],
  ['path maxLength too small', { paths: { maxLength: 8 } }, 'paths.maxLength must be an integer in [16, 65536]'],
  ['collapseIds not bool', { paths: { collapseIds: 'yes' } }, 'paths.collapseIds must be true or false'],
  ['maxSeries zero', { metrics: { maxSeries: 0 } }, 'metrics.maxSeries must be an integer in [64, 1000000]'],
  ['tickMs too small', { tickMs: 1 }, 'tickMs must be an integer in [10, 60000]'],
  ['report faster than tick', { tickMs: 500, reportIntervalMs: 200 }, 'reportIntervalMs must be at least tickMs'],
  ['controlPlane without cluster', { controlPlane: { timeoutMs: 10 } }, 'controlPlane.cluster must be set'],
  ['controlPlane empty cluster', { controlPlane: { cluster: '' } }, 'controlPlane.cluster must be a non-empty string'],
  ['controlPlane timeout zero', { controlPlane: { cluster: 'cp', timeoutMs: 0 } }, 'controlPlane.timeoutMs must be an integer in [1, 600000]'],
  ['controlPlane unknown key', { controlPlane: { cluster: 'cp', tokenFile: '/x' } }, 'controlPlane.tokenFile must not be present (unknown key; known: cluster, timeoutMs, token, tokenEnv)'],
  ['tokenEnv with token', { controlPlane: { cluster: 'cp', token: 's3cret', tokenEnv: 'MESHLENS_PROXY_TOKEN' } }, 'controlPlane.tokenEnv must not be set together with controlPlane.token'],
  ['tokenEnv with empty token', { controlPlane: { cluster: 'cp', token: '', tokenEnv: 'MESHLENS_PROXY_TOKEN' } }, 'controlPlane.tokenEnv must not be set together with controlPlane.token'],
  ['tokenEnv empty', { controlPlane: { cluster: 'cp', tokenEnv: '' } }, 'controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*'],
  ['tokenEnv leading digit', { controlPlane: { cluster: 'cp', tokenEnv: '1TOKEN' } }, 'controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*'],
  ['tokenEnv with dash', { controlPlane: { cluster: 'cp', tokenEnv: 'PROXY-TOKEN' } }, 'controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*'],
  ['tokenEnv with =', { controlPlane: { cluster: 'cp', tokenEnv: 'A=B' } }, 'controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*'],
  ['tokenEnv non-ASCII', { controlPlane: { cluster: 'cp', tokenEnv: 'TOKÉN' } }, 'controlPlane.tokenEnv must be an environment variable name matching [A-Za-z_][A-Za-z0-9_]*'],
  ['tokenEnv too long', { controlPlane: { cluster: 'cp', tokenEnv: 'X'.repeat(257) } }, 'controlPlane.tokenEnv must be at most 256 characters'],
  ['tokenEnv not a string', { controlPlane: { cluster: 'cp', tokenEnv: ['MESHLENS_PROXY_TOKEN'] } }, 'controlPlane.tokenEnv must be a string'],
  ['node id not string', { node: { id: 5 } }, 'node.id must be a string'],
  ['defaultPolicy not object', { defaultPolicy: [] }, 'defaultPolicy must be an object'],
  ['too deep', '{"defaultPolicy":' + '{"a":'.repeat(40) + '1' + '}'.repeat(41), 'configuration must be valid JSON (nesting deeper than 32 at offset ' + (17 + 31 * 5) + ')'],
];
for (const [name, config, message] of cases) {
  rejected(name, () => {
    assert.is(parse(config), 'invalid filter config: ' + message);
  });
}
rejected('the first problem is reported when there are several', () => {
  assert.is(parse({ tenant: { maxLength: 0 }, tickMs: 1 }), 'invalid filter config: tenant.maxLength must be an integer in [1, 256]');
});
rejected.run();
