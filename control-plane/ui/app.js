// meshlens console: polls the control plane's admin API (/v1/...) with the admin token the operator enters, and
// draws breaker state, policy history with diffs and rollback, rollout per proxy, and endpoint verdicts. No framework,
// no build step. Every value from the API reaches the page as text nodes (tenants and paths come from requests).

const TOKEN_KEY = 'meshlens.adminToken';
const SVG = 'http://www.w3.org/2000/svg';
const params = new URLSearchParams(location.search);
const POLL_MS = clamp(Number(params.get('pollMs') ?? 2000), 250, 60_000);
const TIMELINE_MS = 10 * 60_000;
// Samples kept per endpoint and endpoints charted: the page may stay open for days.
const MAX_SAMPLES = 360;
const MAX_CHARTED_ENDPOINTS = 24;
const MAX_DIFF_LINES = 400;
const STATE_COLOURS = { Closed: '#3f9d5a', Open: '#d9443a', HalfOpen: '#e0a800' };

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY);
let selectedPolicy = null;
let timer = null;
/** endpoint key -> [{ t, errorRatio, retransRatio }], newest last */
const samples = new Map();

function clamp(value, min, max) {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : min;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function time(ms) {
  return ms ? new Date(Number(ms)).toLocaleTimeString() : '';
}

function ratio(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(2)} %` : '';
}

class Unauthenticated extends Error {}

async function api(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) throw new Unauthenticated(body.message ?? 'unauthenticated');
  if (!response.ok) {
    const error = new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${body.message ?? ''}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- login ------------------------------------------------------------------------------------------------------

function showLogin(message) {
  clearTimeout(timer);
  timer = null;
  $('console').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
  $('status').textContent = '';
}

async function open() {
  try {
    await api('/v1/policies');
  } catch (error) {
    if (error instanceof Unauthenticated) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = null;
      return showLogin(`The control plane refused this token: ${error.message}`);
    }
    return showLogin(String(error.message ?? error));
  }
  $('login').hidden = true;
  $('console').hidden = false;
  $('logout').hidden = false;
  poll();
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value.trim();
  $('token').value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  open();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  showLogin('');
});

// ---- polling ----------------------------------------------------------------------------------------------------

async function poll() {
  timer = null;
  const results = await Promise.allSettled([
    api('/v1/breakers').then(renderBreakers),
    api('/v1/policies').then(renderPolicies),
    selectedPolicy ? api(`/v1/policies/${encodeURIComponent(selectedPolicy)}/history`).then(renderHistory) : null,
    api('/v1/rollout').then(renderRollout),
    api('/v1/endpoints').then(renderEndpoints),
    api('/v1/correlations').then(renderRoutes),
  ]);
  if (results.some((r) => r.status === 'rejected' && r.reason instanceof Unauthenticated)) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    return showLogin('The control plane refused the token; enter it again.');
  }
  const failures = results.filter((r) => r.status === 'rejected');
  $('status').textContent = failures.length
    ? `updated ${new Date().toLocaleTimeString()}, ${failures.length} request(s) failed: ${failures[0].reason.message ?? failures[0].reason}`
    : `updated ${new Date().toLocaleTimeString()}, every ${POLL_MS / 1000} s`;
  if (token && !$('console').hidden) timer = setTimeout(poll, POLL_MS);
}

// ---- breakers ---------------------------------------------------------------------------------------------------

function renderBreakers(data) {
  const rows = (data.breakers ?? []).map((b) => {
    const nodes = b.nodes ?? {};
    return el('tr', { 'data-cluster': b.cluster, 'data-tenant': b.tenant, 'data-state': b.state },
      el('td', {}, b.cluster), el('td', {}, b.tenant),
      el('td', {}, el('span', { class: `state state-${b.state}` }, b.state)),
      el('td', { class: 'num' }, `${nodes.Closed ?? 0} / ${nodes.Open ?? 0} / ${nodes.HalfOpen ?? 0}`),
      el('td', {}, time(b.since)), el('td', {}, b.reason ?? ''), el('td', {}, b.policyId ?? ''));
  });
  $('breakers-rows').replaceChildren(...rows);
  $('breakers-note').textContent = rows.length ? '' : 'No breaker has reported yet.';
  renderTimeline(data.breakers ?? [], data.transitions ?? []);
}

/** One lane per scope: coloured by the state each transition entered, the current state up to now. */
function renderTimeline(breakers, transitions) {
  const now = Date.now();
  const from = now - TIMELINE_MS;
  $('timeline-minutes').textContent = String(TIMELINE_MS / 60_000);
  const scopes = new Map();
  for (const b of breakers) scopes.set(`${b.cluster}\u0000${b.tenant}`, { cluster: b.cluster, tenant: b.tenant, state: b.state, events: [] });
  for (const t of transitions) {
    const key = `${t.cluster}\u0000${t.tenant}`;
    if (!scopes.has(key)) scopes.set(key, { cluster: t.cluster, tenant: t.tenant, state: t.to, events: [] });
    scopes.get(key).events.push(t);
  }
  const label = 260;
  const width = 900;
  const lane = 18;
  const x = (ms) => label + ((Math.max(ms, from) - from) / TIMELINE_MS) * (width - label - 10);
  const chart = svg('svg', { width, height: Math.max(1, scopes.size) * (lane + 6) + 20, role: 'img', 'aria-label': 'breaker transitions' });
  let row = 0;
  for (const scope of scopes.values()) {
    const y = 4 + row++ * (lane + 6);
    const group = svg('g', { 'data-cluster': scope.cluster, 'data-tenant': scope.tenant });
    chart.append(group);
    group.append(svg('text', { x: 0, y: y + 13 }, `${scope.tenant} → ${scope.cluster}`.slice(0, 44)));
    const events = scope.events.filter((e) => Number(e.atUnixMs) <= now).sort((a, b) => Number(a.atUnixMs) - Number(b.atUnixMs));
    let start = from;
    let state = events.length ? events[0].from : scope.state;
    const segment = (until, stateOf) => {
      const rect = svg('rect', { x: x(start), y, width: Math.max(1, x(until) - x(start)), height: lane, fill: STATE_COLOURS[stateOf] ?? '#999', 'data-state': stateOf });
      if (until > start) group.append(rect);
      return rect;
    };
    for (const e of events) {
      segment(Number(e.atUnixMs), state);
      start = Math.max(from, Number(e.atUnixMs));
      state = e.to;
      group.append(svg('line', { x1: x(start), x2: x(start), y1: y - 2, y2: y + lane + 2, stroke: '#1b1f24', 'stroke-width': 1 }));
    }
    // The lane ends in the state the API reports now (a transition may not have been listed yet).
    segment(now, scope.state).setAttribute('data-current', 'true');
  }
  chart.append(svg('text', { x: label, y: row * (lane + 6) + 16 }, time(from)), svg('text', { x: width - 70, y: row * (lane + 6) + 16 }, time(now)));
  $('breaker-timeline').replaceChildren(chart);
}

// ---- policies ---------------------------------------------------------------------------------------------------

let policyVersions = new Map();

function renderPolicies(data) {
  $('snapshot-version').textContent = String(data.snapshotVersion ?? '');
  policyVersions = new Map((data.policies ?? []).map((p) => [p.id, p.version]));
  $('policies-rows').replaceChildren(...(data.policies ?? []).map((p) =>
    el('tr', { 'data-policy': p.id },
      el('td', {}, p.id), el('td', { class: 'num' }, p.version),
      el('td', {}, `${p.policy?.target?.cluster ?? '*'} ${p.policy?.target?.pathTemplate ?? ''}`),
      el('td', {}, p.updatedBy), el('td', {}, time(p.updatedAtUnixMs)),
      el('td', {}, el('button', { type: 'button', class: 'show-history', onclick: () => selectPolicy(p.id) }, 'History')))));
}

async function selectPolicy(id) {
  selectedPolicy = id;
  $('history-result').textContent = '';
  try {
    renderHistory(await api(`/v1/policies/${encodeURIComponent(id)}/history`));
  } catch (error) {
    $('history-result').textContent = String(error.message ?? error);
  }
}

function renderHistory(data) {
  $('history').hidden = false;
  $('history-id').textContent = selectedPolicy;
  const current = policyVersions.get(selectedPolicy);
  const entries = [...(data.entries ?? [])].sort((a, b) => b.version - a.version);
  $('history-entries').replaceChildren(...entries.map((entry) => {
    const title = `v${entry.version} ${entry.kind}${entry.kind === 'ROLLBACK' ? ` to v${entry.rolledBackTo}` : ''} by ${entry.actor} at ${time(entry.atUnixMs)}`;
    const item = el('li', { 'data-version': entry.version }, el('strong', {}, title));
    if (current !== undefined && entry.version !== current && entry.policy !== null) {
      item.append(' ', el('button', { type: 'button', class: 'rollback', 'data-version': entry.version, onclick: () => rollback(selectedPolicy, entry.version) },
        `Roll back to v${entry.version}`));
    }
    item.append(diffView(entry.previous, entry.policy));
    return item;
  }));
}

async function rollback(id, toVersion) {
  const expectedVersion = policyVersions.get(id);
  try {
    const record = await api(`/v1/policies/${encodeURIComponent(id)}/rollback`, {
      method: 'POST', body: JSON.stringify({ toVersion, expectedVersion }),
    });
    $('history-result').textContent = `Rolled ${id} back to v${toVersion}: now v${record.version} (snapshot ${record.snapshotVersion}).`;
    policyVersions.set(id, record.version);
  } catch (error) {
    if (error instanceof Unauthenticated) return showLogin('The control plane refused the token; enter it again.');
    $('history-result').textContent = `Rollback failed: ${error.message ?? error}`;
  }
  if (!timer) return;
  clearTimeout(timer);
  poll();
}

/** Line diff of two policies' JSON (longest common subsequence; policies are small, and the table is bounded). */
function diffView(before, after) {
  const a = before === null || before === undefined ? [] : JSON.stringify(before, null, 2).split('\n');
  const b = after === null || after === undefined ? [] : JSON.stringify(after, null, 2).split('\n');
  const pre = el('pre', { class: 'diff' });
  if (a.length > MAX_DIFF_LINES || b.length > MAX_DIFF_LINES) {
    pre.append(`(policy over ${MAX_DIFF_LINES} lines: no diff shown)`);
    return pre;
  }
  const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      pre.append(el('span', {}, `  ${a[i]}\n`));
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) {
      pre.append(el('span', { class: 'add' }, `+ ${b[j++]}`));
    } else {
      pre.append(el('span', { class: 'del' }, `- ${a[i++]}`));
    }
  }
  return pre;
}

// ---- rollout ----------------------------------------------------------------------------------------------------

function renderRollout(data) {
  const nodes = data.nodes ?? [];
  $('rollout-summary').textContent =
    `snapshot ${data.snapshotVersion}: ${data.converged ?? 0} of ${data.connected ?? 0} connected proxy VMs ACKed it (${nodes.length} known)`;
  $('rollout-rows').replaceChildren(...nodes.map((n) =>
    el('tr', { class: n.connected && n.ackedVersion !== data.snapshotVersion ? 'lagging' : '', 'data-node': n.nodeId, 'data-worker': n.worker },
      el('td', {}, n.nodeId), el('td', {}, n.worker), el('td', {}, n.connected ? 'yes' : 'no'),
      el('td', {}, n.ackedVersion), el('td', {}, n.nackedVersion), el('td', {}, n.nackReason ?? ''))));
}

// ---- endpoints --------------------------------------------------------------------------------------------------

function renderEndpoints(data) {
  const endpoints = data.endpoints ?? [];
  for (const e of endpoints) {
    const key = `${e.cluster} ${e.endpoint}`;
    if (!samples.has(key) && samples.size >= MAX_CHARTED_ENDPOINTS) continue;
    const list = samples.get(key) ?? [];
    const t = Number(e.windowEndUnixMs);
    if (list.length === 0 || list[list.length - 1].t < t) {
      list.push({ t, errorRatio: e.signals?.errorRatio ?? 0, retransRatio: e.signals?.retransRatio ?? 0 });
      if (list.length > MAX_SAMPLES) list.shift();
    }
    samples.set(key, list);
  }
  $('endpoints-rows').replaceChildren(...endpoints.map((e) =>
    el('tr', { 'data-endpoint': e.endpoint },
      el('td', {}, e.cluster), el('td', {}, e.endpoint), el('td', { class: `verdict-${e.verdict}` }, e.verdict),
      el('td', { class: 'num' }, e.signals?.requests ?? 0), el('td', { class: 'num' }, ratio(e.signals?.errorRatio)),
      el('td', { class: 'num' }, ratio(e.signals?.retransRatio)), el('td', {}, time(e.windowEndUnixMs)))));
  $('endpoint-charts').replaceChildren(...[...samples.entries()].map(([key, list]) =>
    el('div', { class: 'endpoint-chart' }, el('h3', {}, key),
      chartOf(list, 'errorRatio', 'error ratio', '#d9443a'), chartOf(list, 'retransRatio', 'retransmit ratio', '#3a6fd9'))));
}

function chartOf(list, field, title, colour) {
  const width = 420;
  const height = 120;
  const pad = 28;
  const figure = el('figure', { class: 'chart' });
  const chart = svg('svg', { width, height, role: 'img', 'aria-label': title });
  const max = Math.max(0.01, ...list.map((s) => s[field]));
  const t0 = list.length ? list[0].t : 0;
  const span = Math.max(1, (list.length ? list[list.length - 1].t : 0) - t0);
  const x = (t) => pad + ((t - t0) / span) * (width - pad - 8);
  const y = (v) => height - pad + 8 - (v / max) * (height - pad - 8);
  chart.append(
    svg('line', { x1: pad, x2: width - 8, y1: y(0), y2: y(0), stroke: '#c7ced6' }),
    svg('text', { x: 0, y: y(max) + 4 }, ratio(max)), svg('text', { x: 0, y: y(0) }, '0'),
    svg('text', { x: pad, y: height - 2 }, time(t0)), svg('text', { x: width - 70, y: height - 2 }, list.length ? time(list[list.length - 1].t) : ''),
  );
  if (list.length > 0) {
    const points = list.map((s) => `${x(s.t).toFixed(1)},${y(s[field]).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', {
      points, fill: 'none', stroke: colour, 'stroke-width': 2, 'data-field': field, 'data-samples': list.length, 'data-max': Math.max(...list.map((s) => s[field])),
    }));
  }
  figure.append(chart, el('figcaption', {}, title));
  return figure;
}

function renderRoutes(data) {
  $('routes-rows').replaceChildren(...(data.routes ?? []).map((r) =>
    el('tr', {}, el('td', {}, r.cluster), el('td', {}, r.pathTemplate), el('td', {}, r.tenant), el('td', { class: 'num' }, r.requests),
      el('td', { class: 'num' }, `${r.retransSegs} / ${r.segsOut}`))));
}

if (token) open();
else showLogin('');
