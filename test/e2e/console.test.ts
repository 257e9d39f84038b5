// The console at /ui/ (issue 13) in real headless Chromium, driven over CDP (test/support/cdp.ts), against
// `npm start` with the test's own upstream: the real sidecar running the release filter and the control plane. The
// page asks for the admin token and makes no API call before; with it, it shows policies with versions and diffs,
// rollout per proxy VM, endpoint verdicts, and a breaker turning Open while the upstream fails; a click rolls a policy
// back and the API shows it; every API call the page made is refused without the token.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CONSOLE_CSP } from '../../control-plane/ui/serve.ts';
import { Browser, chromiumMissing, type Page } from '../support/cdp.ts';
import { needs } from '../support/skip.ts';
import { adminApi, adminToken, startMain, until, waitConnected, type Started } from '../support/start-main.ts';
import { request, startUpstream, type ScriptedUpstream } from '../sidecar/support.ts';

const SHOP = 'outbound|9080||shop.default.svc.cluster.local';

const noChromium = chromiumMissing();

interface Ctx {
  dir: string;
  upstream: ScriptedUpstream;
  failing: boolean;
  started: Started;
  browser: Browser;
  page: Page;
  base: string;
}
const ctx = {} as Ctx;
const ui = suite('console /ui/ in headless Chromium');

ui.before(async () => {
  if (noChromium) return;
  ctx.dir = mkdtempSync(join(tmpdir(), 'meshlens-console-'));
  ctx.failing = false;
  ctx.upstream = await startUpstream((req, res) => {
    const fail = ctx.failing || req.url?.startsWith('/api/fail/');
    res.writeHead(fail ? 503 : 200, { 'content-type': 'text/plain' });
    res.end(fail ? 'down' : 'ok');
  });
  const file = join(ctx.dir, 'meshlens.yaml');
  writeFileSync(file, stringify({
    clusters: { [SHOP]: { endpoints: [ctx.upstream.address] } },
    filter: { tenant: { headers: ['x-tenant-id'] }, paths: { templates: ['/api/items/{id}'] } },
  }));
  ctx.started = await startMain({ dataDir: join(ctx.dir, 'data'), args: ['--config', file] });
  await waitConnected(ctx.started.ready);
  ctx.base = `http://127.0.0.1:${ctx.started.ready.httpPort}`;
  ctx.browser = await Browser.launch();
  ctx.page = await ctx.browser.newPage();
});

ui.after(async () => {
  if (noChromium) return;
  await ctx.browser?.close();
  if (ctx.started?.child.exitCode === null) {
    ctx.started.child.kill('SIGTERM');
    await ctx.started.exited;
  }
  await ctx.upstream?.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const policyV1 = { target: { cluster: SHOP, pathTemplate: '*' }, breaker: { errorRateThreshold: 0.5, minRequests: 10, openMs: 120000 } };
const policyV2 = { target: { cluster: SHOP, pathTemplate: '*' }, breaker: { errorRateThreshold: 0.25, minRequests: 10, openMs: 120000 } };

needs(noChromium, ui)('static files: content types, a strict CSP, and nothing but the console served', async () => {
  for (const [path, type] of [['/ui/', 'text/html'], ['/ui/app.js', 'text/javascript'], ['/ui/app.css', 'text/css']]) {
    const response = await fetch(ctx.base + path);
    assert.is(response.status, 200, path);
    assert.is(response.headers.get('content-type'), `${type}; charset=utf-8`, path);
    assert.is(response.headers.get('content-security-policy'), CONSOLE_CSP, path);
    assert.is(response.headers.get('x-content-type-options'), 'nosniff');
    assert.is(response.headers.get('x-frame-options'), 'DENY');
  }
  assert.match(CONSOLE_CSP, /default-src 'none'/);
  assert.not.match(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
  const redirect = await fetch(`${ctx.base}/ui`, { redirect: 'manual' });
  assert.equal([redirect.status, redirect.headers.get('location')], [301, '/ui/']);
  for (const path of ['/ui/serve.ts', '/ui/../src/auth.ts', '/ui/%2e%2e/serve.ts', '/ui/index.html/x']) {
    assert.is((await fetch(ctx.base + path)).status, 404, path);
  }
});

needs(noChromium, ui)('the page asks for the admin token, calls no API before it, and refuses a wrong one', async () => {
  const { page } = ctx;
  await page.navigate(`${ctx.base}/ui/?pollMs=500`);
  assert.ok(await page.waitFor('!document.getElementById("login").hidden', 'the token form'));
  assert.ok(await page.evaluate('document.getElementById("console").hidden'), 'no console without a token');
  assert.equal(page.requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/')), [], 'no API call before a token');
  await page.type('#token', 'meshlens_admin_not-the-right-token-at-all');
  await page.click('#login-submit');
  const error = await page.waitFor<string>('document.getElementById("login-error").textContent', 'the refusal');
  assert.match(error, /refused this token: unauthenticated: authorization must carry a valid admin bearer token/);
  assert.ok(await page.evaluate('document.getElementById("console").hidden'));
  assert.is(await page.evaluate('sessionStorage.getItem("meshlens.adminToken")'), null, 'a refused token is not kept');
});

needs(noChromium, ui)('with the token: policies with versions and a diff, rollout per proxy; a click rolls back and the API shows it', async () => {
  const { page, started: { ready } } = ctx;
  const v1 = await adminApi(ready, '/v1/policies/shop', { method: 'PUT', body: { expectedVersion: 0, policy: policyV1 } });
  assert.is(v1.status, 200, JSON.stringify(v1.body));
  const v2 = await adminApi(ready, '/v1/policies/shop', { method: 'PUT', body: { expectedVersion: 1, policy: policyV2 } });
  assert.is(v2.body.version, 2);

  await page.type('#token', adminToken(ready));
  await page.click('#login-submit');
  await page.waitFor('!document.getElementById("console").hidden', 'the console');
  assert.is(await page.evaluate('sessionStorage.getItem("meshlens.adminToken")'), adminToken(ready), 'kept for the session');
  const version = await page.waitFor<string>(`document.querySelector('tr[data-policy="shop"] td:nth-child(2)')?.textContent`, 'policy shop listed');
  assert.is(version, '2');

  // Rollout: one row for this proxy (its VMs hold one stream), with the current snapshot ACKed.
  const snapshot = String(v2.body.snapshotVersion);
  const acked = await page.waitFor<string[]>(`(() => {
    const rows = [...document.querySelectorAll('#rollout-rows tr')].filter((r) => r.dataset.node === ${JSON.stringify(ready.nodeId)});
    const acked = rows.map((r) => r.children[3].textContent);
    return rows.length === 1 && acked.every((v) => v === ${JSON.stringify(snapshot)}) ? rows.map((r) => r.dataset.worker).sort() : null;
  })()`, `the proxy ACKing snapshot ${snapshot} in the rollout table`);
  assert.equal(acked, ['proxy']);

  await page.click('tr[data-policy="shop"] button.show-history');
  await page.waitFor('document.querySelector(\'#history-entries li[data-version="2"]\')', 'history of shop');
  const diff = await page.evaluate<{ added: string[]; removed: string[] }>(`(() => {
    const pre = document.querySelector('#history-entries li[data-version="2"] pre.diff');
    return { added: [...pre.querySelectorAll('.add')].map((e) => e.textContent), removed: [...pre.querySelectorAll('.del')].map((e) => e.textContent) };
  })()`);
  const squeeze = (lines: string[]) => lines.map((l) => l.replace(/\s+/g, ' ').trim());
  assert.equal(squeeze(diff.added), ['+ "errorRateThreshold": 0.25,']);
  assert.equal(squeeze(diff.removed), ['- "errorRateThreshold": 0.5,']);
  assert.not.ok(await page.evaluate('!!document.querySelector(\'button.rollback[data-version="2"]\')'), 'no rollback to the current version');

  await page.click('button.rollback[data-version="1"]');
  const result = await page.waitFor<string>(`document.getElementById('history-result').textContent`, 'the rollback result');
  assert.match(result, /^Rolled shop back to v1: now v3/);

  const after = await adminApi(ready, '/v1/policies/shop');
  assert.is(after.body.version, 3);
  assert.equal(after.body.policy, (v1.body as { policy: unknown }).policy, 'v1 content again');
  const history = await adminApi<{ entries: { version: number; kind: string; rolledBackTo: number; actor: string }[] }>(ready, '/v1/policies/shop/history');
  const newest = history.body.entries.find((e) => e.version === 3)!;
  assert.equal([newest.kind, newest.rolledBackTo, newest.actor], ['ROLLBACK', 1, 'admin']);
  // The page follows: version 3 listed, and the rollback entry in its history.
  await page.waitFor(`document.querySelector('tr[data-policy="shop"] td:nth-child(2)')?.textContent === '3'`, 'v3 in the table');
  await page.waitFor(`/ROLLBACK to v1 by admin/.test(document.querySelector('#history-entries li[data-version="3"]')?.textContent ?? '')`, 'the rollback in the history');
});

needs(noChromium, ui)('endpoint verdicts with error ratio and retransmit ratio charted over time', async () => {
  const { page, started: { ready } } = ctx;
  // One request in three fails: the endpoint's error ratio rises, below the breaker's 0.5 so nothing is rejected.
  const charted = await until(async () => {
    for (let i = 0; i < 30; i++) {
      const reply = await request(ready.listenerPort, i % 3 === 0 ? `/api/fail/${i}` : `/api/items/${i}`, { 'x-tenant-id': 'globex' });
      assert.is(reply.status, i % 3 === 0 ? 503 : 200, reply.body);
    }
    return page.evaluate<{ samples: number; max: number; retransSamples: number } | null>(`(() => {
      const chart = [...document.querySelectorAll('#endpoint-charts .endpoint-chart')].find((c) => c.querySelector('h3').textContent.endsWith(${JSON.stringify(ctx.upstream.address)}));
      const errors = chart?.querySelector('polyline[data-field="errorRatio"]');
      const retrans = chart?.querySelector('polyline[data-field="retransRatio"]');
      if (!errors || !retrans || Number(errors.dataset.max) < 0.2 || Number(errors.dataset.samples) < 3) return null;
      return { samples: Number(errors.dataset.samples), max: Number(errors.dataset.max), retransSamples: Number(retrans.dataset.samples) };
    })()`).then((v) => v ?? undefined);
  }, 'an error-ratio chart with the failures in it', 90_000);
  // Per 1 s window the ratio varies with how the requests fall into windows (a window may hold only a failure).
  assert.ok(charted.max > 0.2 && charted.max <= 1, JSON.stringify(charted));
  assert.is(charted.retransSamples, charted.samples, 'retransmit ratio sampled with it (0 here: no node agent runs)');
  const row = await page.evaluate<string[]>(`[...[...document.querySelectorAll('#endpoints-rows tr')]
    .find((r) => r.dataset.endpoint === ${JSON.stringify(ctx.upstream.address)}).children].map((td) => td.textContent)`);
  assert.equal(row.slice(0, 3), [SHOP, ctx.upstream.address, 'unknown'], 'verdict unknown without kernel evidence');
});

needs(noChromium, ui)('a breaker turns Open on the page while the upstream fails, with its transition on the timeline', async () => {
  const { page, started: { ready } } = ctx;
  await page.waitFor('!document.getElementById("console").hidden', 'the console');
  ctx.failing = true;
  let rejected = 0;
  // The breaker evaluates on the filter's tick, so it opens some requests after minRequests failures.
  for (let i = 0; rejected < 3; i++) {
    assert.ok(i < 2000, 'breaker did not open');
    const reply = await request(ready.listenerPort, `/api/items/${i}`, { 'x-tenant-id': 'acme' });
    assert.is(reply.status, 503);
    if (reply.headers['x-meshlens-breaker'] === 'open') rejected++;
  }
  const row = `tr[data-cluster=${JSON.stringify(SHOP)}][data-tenant="acme"]`;
  const state = await page.waitFor<string>(`document.querySelector(${JSON.stringify(row)})?.dataset.state === 'Open' && 'Open'`, 'the Open breaker row', 90_000);
  assert.is(state, 'Open');
  assert.is(await page.evaluate(`document.querySelector(${JSON.stringify(`${row} .state`)}).className`), 'state state-Open');
  const lane = await page.waitFor<string[]>(`(() => {
    const lane = [...document.querySelectorAll('#breaker-timeline g')].find((g) => g.dataset.cluster === ${JSON.stringify(SHOP)} && g.dataset.tenant === 'acme');
    const current = lane?.querySelector('rect[data-current]');
    return current && current.dataset.state === 'Open' ? [...lane.querySelectorAll('rect')].map((r) => r.dataset.state) : null;
  })()`, 'the acme lane ending Open');
  assert.ok(lane.includes('Closed') && lane[lane.length - 1] === 'Open', JSON.stringify(lane));
  ctx.failing = false;
});

needs(noChromium, ui)('every API call the page made is refused without the token, and with a wrong one', async () => {
  const calls = ctx.page.requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
  const kinds = new Set(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`));
  for (const expected of ['GET /v1/policies', 'GET /v1/rollout', 'GET /v1/endpoints', 'GET /v1/correlations', 'GET /v1/breakers',
    'GET /v1/policies/shop/history', 'POST /v1/policies/shop/rollback']) {
    assert.ok(kinds.has(expected), `the page called ${expected}: ${[...kinds].join(', ')}`);
  }
  for (const kind of kinds) {
    const call = calls.find((c) => `${c.method} ${new URL(c.url).pathname}` === kind)!;
    assert.match(call.headers.Authorization ?? call.headers.authorization ?? '', /^Bearer meshlens_admin_/, `${kind} sent the token`);
    for (const authorization of [undefined, 'Bearer meshlens_admin_wrong-wrong-wrong-wrong']) {
      const response = await fetch(call.url, {
        method: call.method,
        headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' },
        body: call.method === 'POST' ? JSON.stringify({ toVersion: 1, expectedVersion: 3 }) : undefined,
      });
      assert.is(response.status, 401, `${kind} with ${authorization ?? 'no token'}`);
    }
  }
  // The refused calls changed nothing.
  assert.is((await adminApi(ctx.started.ready, '/v1/policies/shop')).body.version, 3);
});

needs(noChromium, ui)('the strict CSP broke nothing: no violation, no script error', async () => {
  const problems = ctx.page.problems.filter((p) => !p.startsWith('network: Failed to load resource'));
  assert.equal(problems, []);
});

ui.run();
