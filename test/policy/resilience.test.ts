// The Resilience glue (filter/assembly/resilience/resilience.ts) with four "workers" — four Resilience instances
// standing in for four worker VMs — sharing one in-memory store with proxy-wasm's CAS semantics. Time is explicit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadHarness } from './load-harness.ts';

const h = await loadHarness();
const CLOSED = 0, OPEN = 1, HALF_OPEN = 2;
const T0 = 1_700_000_000_000;
const TICK = 200;
const CLUSTER = 'outbound|8080||orders.default.svc.cluster.local';
const WORKERS = 4;
// Scopes are per tenant unless a policy says otherwise; the suites on cross-worker sharing use one scope per cluster.
const CLUSTER_WIDE = { perTenant: false };

function setup(policies: unknown[]) {
  assert.is(h.workersCreate(WORKERS, JSON.stringify(policies)), '');
}

// One request through worker w: admit, then (unless rejected) finish it with the given outcome.
function request(w: number, t: number, opts: { code?: number; tenant?: string; method?: string; attempts?: number; path?: string; grpc?: number; flags?: string; ms?: number; isGrpc?: boolean } = {}) {
  const id = h.workerAdmit(w, CLUSTER, opts.tenant ?? 'acme', opts.path ?? '/orders/{id}', opts.method ?? 'GET', opts.isGrpc ?? false, t);
  const info = h.admissionInfo(id) as string;
  if (!info.startsWith('reject')) {
    h.workerRecord(w, id, opts.code ?? 200, opts.grpc ?? -1, opts.flags ?? '', opts.ms ?? 5, opts.attempts ?? 1, t + 1);
  }
  return info;
}

const tickAll = (t: number) => { for (let w = 0; w < WORKERS; w++) h.workerTick(w, t); };
const states = (tenant = 'acme') => Array.from({ length: WORKERS }, (_, w) => h.workerViewState(w, CLUSTER, '/orders/{id}', tenant));
const metric = (name: string) => {
  const line = (h.metricsDump() as string).split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
};

const shared = suite('resilience: one breaker across workers');

shared('failures spread over four workers trip one shared breaker that every worker then enforces', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 20 } }]);
  // 5 failures per worker: no single worker sees minRequests.
  for (let w = 0; w < WORKERS; w++) for (let i = 0; i < 5; i++) assert.match(request(w, T0 + i, { code: 503 }), /^admit/);
  assert.equal(states('~all'), [CLOSED, CLOSED, CLOSED, CLOSED]);
  tickAll(T0 + TICK); // the last worker to merge sees 20 failures and commits Open
  assert.is(h.workerViewState(WORKERS - 1, CLUSTER, '/orders/{id}', '~all'), OPEN);
  tickAll(T0 + 2 * TICK);
  assert.equal(states('~all'), [OPEN, OPEN, OPEN, OPEN]);
  for (let w = 0; w < WORKERS; w++) assert.match(request(w, T0 + 2 * TICK + 1), /^reject,breaker_open/);
  assert.is(metric(`meshlens_breaker_transitions_total{upstream_cluster=${CLUSTER},tenant=~all,to_state=Open}`), 1,
    'the transition is counted once per process, by the worker that committed it');
  assert.is(metric(`meshlens_breaker_rejected_total{upstream_cluster=${CLUSTER},tenant=acme}`), WORKERS);
});

shared('a worker that sees the trip itself rejects at once; busy workers follow within the refresh interval, idle ones at their tick', () => {
  // Retries off: a granted request reserves its retries through shared data at admission, which would move the
  // workers' last shared read this test times against.
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 20 }, retry: { enabled: false } }]);
  for (let w = 1; w < WORKERS; w++) request(w, T0); // the others know the scope; their last shared read is at T0 + 1
  for (let i = 0; i < 20; i++) request(0, T0 + i, { code: 503 });
  assert.match(request(0, T0 + 20), /^reject/, 'no tick needed on the worker that saw the failures');
  assert.match(request(1, T0 + 20), /^admit/, 'within REFRESH_INTERVAL_MS (20 ms) of its last read a worker keeps its view');
  assert.match(request(1, T0 + 21), /^reject/, 'then it re-reads shared data on the request path');
  assert.equal(states('~all'), [OPEN, OPEN, CLOSED, CLOSED], 'idle workers have not looked yet');
  tickAll(T0 + TICK);
  assert.equal(states('~all'), [OPEN, OPEN, OPEN, OPEN]);
});

shared('HalfOpen probes are bounded process-wide; enough successes close the breaker everywhere', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 4, openMs: 1000, halfOpenProbes: 3, halfOpenSuccesses: 2 } }]);
  for (let w = 0; w < WORKERS; w++) request(w, T0, { code: 503 });
  tickAll(T0 + TICK);
  tickAll(T0 + 2 * TICK);
  assert.equal(states('~all'), [OPEN, OPEN, OPEN, OPEN]);
  const t = T0 + TICK + 1000; // the Open was committed at T0 + TICK
  const ids: number[] = [];
  const infos: string[] = [];
  for (let w = 0; w < WORKERS; w++) for (let i = 0; i < 2; i++) {
    const id = h.workerAdmit(w, CLUSTER, 'acme', '/orders/{id}', 'GET', false, t);
    ids.push(id);
    infos.push(h.admissionInfo(id) as string);
  }
  const probes = infos.filter((i) => i.startsWith('admit,breaker_open,probe'));
  assert.is(probes.length, 3, `exactly halfOpenProbes admitted across all workers: ${infos.join(' | ')}`);
  assert.is(infos.filter((i) => i.startsWith('reject')).length, 5);
  assert.is(metric(`meshlens_breaker_transitions_total{upstream_cluster=${CLUSTER},tenant=~all,to_state=HalfOpen}`), 1);
  // Two probes succeed (on whichever workers they ran): the scope closes for everyone.
  let done = 0;
  ids.forEach((id, k) => {
    if (infos[k].startsWith('admit,breaker_open,probe') && done < 2) {
      h.workerRecord(Math.floor(k / 2), id, 200, -1, '', 5, 1, t + 10);
      done++;
    }
  });
  tickAll(t + TICK);
  assert.equal(states('~all'), [CLOSED, CLOSED, CLOSED, CLOSED]);
  assert.match(request(2, t + TICK + 1), /^admit,granted/);
});

shared('a failed probe reopens for every worker with a doubled open time', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 4, openMs: 1000, maxOpenMs: 10000 } }]);
  for (let w = 0; w < WORKERS; w++) request(w, T0, { code: 503 });
  tickAll(T0 + TICK); // the last worker commits Open at T0 + TICK ...
  tickAll(T0 + 2 * TICK); // ... and the others adopt it at their next tick
  const t = T0 + TICK + 1000;
  assert.match(request(1, t, { code: 503 }), /^admit,breaker_open,probe/);
  tickAll(t + TICK);
  assert.equal(states('~all'), [OPEN, OPEN, OPEN, OPEN]);
  // Reopened at t + 1 (when the probe finished) for 2 × openMs.
  assert.match(request(0, t + 1 + 1999), /^reject/);
  assert.match(request(0, t + 1 + 2000), /probe/);
});

shared('a worker meeting a scope for the first time starts from the shared state, not from Closed', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 20 } }]);
  for (let i = 0; i < 20; i++) request(0, T0 + i, { code: 503 });
  assert.is(h.workerScopeCount(1), 0);
  assert.match(request(1, T0 + 30), /^reject/);
});

shared('gRPC statuses count only for gRPC requests (Envoy derives one from HTTP status for the rest)', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 10 } }]);
  // 429 on plain HTTP: Envoy reports response.grpc_status 14 (UNAVAILABLE), but the caller was rate limited.
  for (let i = 0; i < 10; i++) request(0, T0 + i, { code: 429, grpc: 14 });
  assert.match(request(0, T0 + 20), /^admit/);
  for (let i = 0; i < 10; i++) request(0, T0 + 30 + i, { code: 200, grpc: 14, isGrpc: true, method: 'POST' });
  assert.match(request(0, T0 + 50), /^reject/, 'UNAVAILABLE on a gRPC call is a failure');
});

shared.run();

const tenants = suite('resilience: tenant isolation');

tenants('tenant A at 100 % errors opens A while B keeps flowing, on every worker', () => {
  setup([{ target: { cluster: CLUSTER, perTenant: true }, breaker: { minRequests: 20 } }]);
  let t = T0;
  for (let i = 0; i < 40; i++, t += 10) {
    request(i % WORKERS, t, { tenant: 'tenant-a', code: 503 });
    request(i % WORKERS, t, { tenant: 'tenant-b', code: 200 });
  }
  tickAll(t);
  tickAll(t + TICK);
  assert.equal(states('tenant-a'), [OPEN, OPEN, OPEN, OPEN]);
  assert.equal(states('tenant-b'), [CLOSED, CLOSED, CLOSED, CLOSED]);
  for (let w = 0; w < WORKERS; w++) {
    assert.match(request(w, t + TICK + 1, { tenant: 'tenant-a' }), /^reject/);
    assert.match(request(w, t + TICK + 1, { tenant: 'tenant-b' }), /^admit,granted/);
  }
  assert.ok(metric(`meshlens_breaker_transitions_total{upstream_cluster=${CLUSTER},tenant=tenant-a,to_state=Open}`) === 1);
  assert.is(metric(`meshlens_breaker_transitions_total{upstream_cluster=${CLUSTER},tenant=tenant-b,to_state=Open}`), 0);
});

tenants('with perTenant: false, one tenant\'s errors open the whole cluster', () => {
  setup([{ target: { cluster: CLUSTER, perTenant: false }, breaker: { minRequests: 20 } }]);
  for (let i = 0; i < 20; i++) request(0, T0 + i, { tenant: 'tenant-a', code: 503 });
  tickAll(T0 + TICK);
  assert.match(request(1, T0 + TICK + 1, { tenant: 'tenant-b' }), /^reject/);
});

tenants('a policy that does not mention perTenant isolates tenants: one tenant failing leaves another flowing', () => {
  setup([{ target: { cluster: CLUSTER }, breaker: { minRequests: 20 } }]);
  for (let i = 0; i < 20; i++) request(0, T0 + i, { tenant: 'tenant-a', code: 503 });
  tickAll(T0 + TICK);
  assert.match(request(1, T0 + TICK + 1, { tenant: 'tenant-a' }), /^reject/);
  assert.match(request(1, T0 + TICK + 1, { tenant: 'tenant-b' }), /^admit/);
});

tenants('requests with no tenant and beyond the tenant cap share one scope, apart from named tenants', () => {
  setup([{ target: { cluster: CLUSTER }, breaker: { minRequests: 20 } }]);
  for (let i = 0; i < 10; i++) request(0, T0 + i, { tenant: 'unknown', code: 503 });
  for (let i = 0; i < 10; i++) request(0, T0 + 10 + i, { tenant: '~other', code: 503 });
  tickAll(T0 + TICK);
  assert.match(request(1, T0 + TICK + 1, { tenant: 'unknown' }), /^reject/, '20 failures of the shared scope trip it');
  assert.match(request(1, T0 + TICK + 1, { tenant: '~other' }), /^reject/);
  assert.match(request(1, T0 + TICK + 1, { tenant: 'acme' }), /^admit/);
  assert.is(h.workerViewState(1, CLUSTER, '/orders/{id}', '~other'), OPEN);
});

tenants('the scope table is bounded', () => {
  setup([{ target: { perTenant: true } }]);
  for (let i = 0; i < 2050; i++) h.workerAdmit(0, CLUSTER, `t${i}`, '/', 'GET', false, T0);
  assert.is(h.workerScopeCount(0), 2048);
  const id = h.workerAdmit(0, CLUSTER, 'one-more', '/', 'GET', false, T0);
  assert.is(h.admissionInfo(id), 'admit,disabled,-', 'beyond the cap: no breaker and no retries, never a trap');
});

tenants.run();

const retries = suite('resilience: retry decisions and the budget across workers');

retries('caller-supplied retry headers are always stripped, and granted requests get Envoy headers', () => {
  setup([{}]);
  const id = h.workerAdmit(0, CLUSTER, 'acme', '/orders/{id}', 'GET', false, T0);
  assert.equal((h.admissionInfo(id) as string).split('\n'),
    ['admit,granted,-', 'x-envoy-retry-on: 5xx,gateway-error,connect-failure,reset', 'x-envoy-max-retries: 2']);
  const strips = (h.admissionStrips(id) as string).split(',');
  for (const name of ['x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-retriable-status-codes']) {
    assert.ok(strips.includes(name), name);
  }
});

retries('under total outage the budget bounds retries to about budgetRatio of requests', () => {
  // Breaker off so every request keeps failing; each granted request spends all its retries (as Envoy would).
  setup([{ target: CLUSTER_WIDE, breaker: { enabled: false, windowMs: 10000 }, retry: { budgetRatio: 0.2, minRetriesPerSecond: 1 } }]);
  let requests = 0, retriesMade = 0, exhausted = 0;
  for (let i = 0; i < 4000; i++) {
    const t = T0 + i * 10; // 100 rps for 40 s
    const w = i % WORKERS;
    const id = h.workerAdmit(w, CLUSTER, 'acme', '/orders/{id}', 'GET', false, t);
    const info = h.admissionInfo(id) as string;
    const max = /x-envoy-max-retries: (\d+)/.exec(info);
    const attempts = 1 + (max ? Number(max[1]) : 0);
    if (info.includes('budget_exhausted')) exhausted++;
    h.workerRecord(w, id, 503, -1, 'URX', 5, attempts, t + 5);
    if (i === 999) {
      tickAll(t + 5);
      // Requests and the retries Envoy reported (attempt count − 1) reach the shared window.
      const [, total, , , shared] = (h.sharedRecord(`meshlens.breaker.v1|${CLUSTER}|*|~all`, t + 5) as string).split(',').map(Number);
      assert.is(total, 1000);
      assert.is(shared, retriesMade + attempts - 1);
    }
    requests++;
    retriesMade += attempts - 1;
    if (i % 20 === 19) tickAll(t + 5);
  }
  const amplification = (requests + retriesMade) / requests;
  assert.ok(exhausted > 0, 'the budget must refuse some requests');
  assert.ok(amplification <= 1.2 + 0.05, `attempts per request ${amplification.toFixed(3)} must stay near 1 + budgetRatio`);
  assert.ok(amplification >= 1.1, `the budget must still allow retries (${amplification.toFixed(3)})`);
  assert.ok(metric(`meshlens_retry_decisions_total{upstream_cluster=${CLUSTER},tenant=acme,decision=budget_exhausted}`) === exhausted);
});

retries('retries are reserved in shared data when granted: workers cannot spend the same remainder', () => {
  // Floor 10 retries per 10 s window and no finished requests yet: 10 retries in all, whichever worker asks.
  setup([{ target: CLUSTER_WIDE, breaker: { enabled: false, windowMs: 10000 }, retry: { budgetRatio: 0.2, minRetriesPerSecond: 1 } }]);
  let granted = 0;
  // 40 requests in flight across the four workers, none finished, no tick: only the reservations coordinate them.
  for (let i = 0; i < 40; i++) {
    const max = /x-envoy-max-retries: (\d+)/.exec(h.admissionInfo(h.workerAdmit(i % WORKERS, CLUSTER, 'acme', '/orders/{id}', 'GET', false, T0 + i)) as string);
    granted += max ? Number(max[1]) : 0;
  }
  assert.is(granted, 10);
});

retries('a reservation that cannot be written refuses the retries instead of granting unreserved ones', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { enabled: false } }]);
  request(1, T0); // creates the shared key: a set on a missing key ignores the CAS
  h.forceCasMismatches(100);
  assert.match(request(0, T0 + 1), /^admit,budget_exhausted/);
  assert.is(h.workerCasExhausted(0), 1);
  h.forceCasMismatches(0);
  assert.match(request(0, T0 + 2), /^admit,granted/);
});

retries('unused granted retries go back to the budget when the request finishes', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { enabled: false, windowMs: 10000 }, retry: { budgetRatio: 0.2, minRetriesPerSecond: 1 } }]);
  // 10 retries in the window: 100 sequential successful requests, each granted 2 and using none, keep being granted.
  for (let i = 0; i < 100; i++) assert.match(request(i % WORKERS, T0 + i * 10, { code: 200 }), /^admit,granted/, `request ${i}`);
});

retries('no retries for requests admitted as HalfOpen probes', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 4, openMs: 1000 } }]);
  for (let i = 0; i < 4; i++) request(0, T0 + i, { code: 503 });
  assert.is(h.workerViewState(0, CLUSTER, '/orders/{id}', '~all'), OPEN);
  assert.is(request(0, T0 + 3 + 1 + 1000, { code: 200 }), 'admit,breaker_open,probe\nx-envoy-max-retries: 0');
});

retries.run();

const sync = suite('resilience: shared-data synchronisation');

sync('CAS conflicts are retried; when retries run out the delta is kept for the next tick, not lost', () => {
  // Retries off: budget reservations would add writes (and retries) to the shared record this test reads back.
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 1000 }, retry: { enabled: false } }]);
  for (let i = 0; i < 10; i++) request(0, T0 + i, { code: 503 });
  h.forceCasMismatches(3);
  h.workerTick(0, T0 + TICK); // first write creates the key; nothing to conflict with yet
  for (let i = 0; i < 10; i++) request(1, T0 + TICK + i, { code: 503 });
  h.forceCasMismatches(3);
  h.workerTick(1, T0 + 2 * TICK);
  assert.is(h.workerCasExhausted(1), 0, 'three conflicts are within the bounded retries');
  for (let i = 0; i < 10; i++) request(2, T0 + 2 * TICK + i, { code: 503 });
  h.forceCasMismatches(100);
  h.workerTick(2, T0 + 3 * TICK);
  assert.is(h.workerCasExhausted(2), 1);
  h.forceCasMismatches(0);
  const key = `meshlens.breaker.v1|${CLUSTER}|*|~all`;
  // Worker 2's first outcome was merged on the request path; the other nine are still in its delta.
  assert.is(h.sharedRecord(key, T0 + 3 * TICK), 'Closed,21,21,0,0', "worker 2's delta is not in shared data yet");
  h.workerTick(2, T0 + 4 * TICK);
  assert.is(h.sharedRecord(key, T0 + 4 * TICK), 'Closed,30,30,0,0', 'kept and merged at the next tick, exactly once');
  h.workerTick(2, T0 + 5 * TICK);
  assert.is(h.sharedRecord(key, T0 + 5 * TICK), 'Closed,30,30,0,0');
});

sync('the most specific policy wins', () => {
  setup([
    { target: { cluster: '*' }, breaker: { minRequests: 1000 } },
    { target: { cluster: CLUSTER, pathTemplate: '/orders/{id}' }, breaker: { minRequests: 2 } },
    { target: { cluster: CLUSTER }, breaker: { minRequests: 500 } },
  ]);
  request(0, T0, { code: 503 });
  request(0, T0 + 1, { code: 503 });
  assert.match(request(0, T0 + 2), /^reject/, 'the exact (cluster, path) policy with minRequests 2 applies');
  assert.match(request(0, T0 + 2, { path: '/users' }), /^admit/, 'other paths of the cluster have their own scope');
});

sync.run();

const idle = suite('resilience: idle scopes');

idle('a scope idle for a window is not touched on tick, yet its first request sees the current shared state', () => {
  setup([{ target: CLUSTER_WIDE, breaker: { minRequests: 20, windowMs: 10000 } }]);
  request(1, T0);
  h.workerTick(1, T0 + TICK);
  const [gets] = (h.storeStats() as string).split(',').map(Number);
  h.workerTick(1, T0 + 20_000);
  assert.is(Number((h.storeStats() as string).split(',')[0]), gets, 'no shared-data read for an idle scope');
  for (let i = 0; i < 20; i++) request(0, T0 + 20_000 + i, { code: 503 });
  assert.match(request(1, T0 + 20_100), /^reject/, 'the stale view is refreshed before it is trusted');
});

idle.run();
