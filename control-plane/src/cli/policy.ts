// `meshlens policy ...`: list, get, history (as diffs), apply and diff (YAML/JSON files, kubectl-style), status of
// commit-confirmed changes, and the original set/delete/rollback.
import { call, RequestError } from './client.ts';
import { unifiedDiff } from './diff.ts';
import { UsageError, type Command, type Context } from './framework.ts';
import { policyOf, readDocuments, type Document } from './input.ts';
import { isoTime, policyText, render, table } from './output.ts';

interface PolicyRecord {
  id: string; version: number; policy: Record<string, any>; updatedBy: string; updatedAtUnixMs: number; snapshotVersion: number;
  confirmation?: Confirmation;
}
interface HistoryEntry {
  version: number; kind: string; policy: unknown; previous: unknown; actor: string; atUnixMs: number; snapshotVersion: number;
  rolledBackTo: number; reason?: string;
}
interface ScopeComparison {
  cluster: string; tenant: string; worse: boolean; why: string;
  before: { requests: number; errorRatio: number; p99Ms: number | null };
  after: { requests: number; errorRatio: number; p99Ms: number | null };
}
export interface Confirmation {
  id: number; policyId: string; toVersion: number; restoreVersion: number; actor: string; appliedAtUnixMs: number;
  deadlineUnixMs: number; state: string; resolvedAtUnixMs: number; reason: string; scopes: ScopeComparison[];
}

const enc = encodeURIComponent;
const write = (ctx: Context, text: string) => ctx.io.stdout(text);

function integer(value: string | boolean | undefined, flag: string): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new UsageError(`invalid flag: --${flag} must be a non-negative integer`);
  return Number(value);
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60s", "2m", "500ms", "1h" (or a number of milliseconds in a file) to milliseconds. */
export function durationMs(value: unknown, field: string, error: (message: string) => Error): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  const match = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  if (!match) throw error(`${field} must be a duration such as 60s, 5m or 500ms`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

function recordRows(records: PolicyRecord[]): string {
  if (records.length === 0) return 'no policies\n';
  return table(['ID', 'VERSION', 'CLUSTER', 'PATH', 'PER-TENANT', 'UPDATED BY', 'UPDATED AT'], records.map((r) => [
    r.id, String(r.version), String(r.policy?.target?.cluster ?? '*'), String(r.policy?.target?.pathTemplate ?? '*'),
    String(r.policy?.target?.perTenant ?? ''), r.updatedBy, isoTime(r.updatedAtUnixMs),
  ]));
}

async function notFoundAsUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof RequestError && error.status === 404) return undefined;
    throw error;
  }
}

/** The policy as the control plane would store it (defaults applied), validated by the server's own model. */
async function normalised(ctx: Context, policy: unknown): Promise<unknown> {
  return (await call<{ policy: unknown }>(ctx, 'POST', '/v1/dry-run', { policy, windowMinutes: 1 })).policy;
}

// ---- apply documents ---------------------------------------------------------------------------------------------

const DOCUMENT_KEYS = ['id', 'policy', 'expectedVersion', 'confirm'];
const CONFIRM_KEYS = ['within', 'baseline', 'maxErrorRatioIncrease', 'maxP99IncreaseRatio', 'minP99IncreaseMs', 'minRequests'];

interface ApplyDocument { id: string; policy: Record<string, unknown>; expectedVersion?: number; confirm?: Record<string, unknown>; where: string }

function applyDocument(document: Document, ctx: Context): ApplyDocument {
  const { value, where } = document;
  const invalid = (message: string) => new RequestError(`invalid input: ${where}: ${message}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('the document must be a mapping with id and policy');
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (!DOCUMENT_KEYS.includes(key)) throw invalid(`${key} must not be present (allowed: ${DOCUMENT_KEYS.join(', ')})`);
  if (typeof doc.id !== 'string' || doc.id === '') throw invalid('id must be the policy id (a string)');
  if (doc.policy === undefined) throw invalid('policy must be present (a mapping of target, breaker, retry)');
  const policy = policyOf({ value: doc.policy, where: `${where}: policy` }, false);
  let expectedVersion: number | undefined;
  if (doc.expectedVersion !== undefined) {
    if (typeof doc.expectedVersion !== 'number' || !Number.isSafeInteger(doc.expectedVersion) || doc.expectedVersion < 0) {
      throw invalid('expectedVersion must be a non-negative integer');
    }
    expectedVersion = doc.expectedVersion;
  }
  let confirm: Record<string, unknown> | undefined;
  if (doc.confirm !== undefined) {
    if (typeof doc.confirm !== 'object' || doc.confirm === null || Array.isArray(doc.confirm)) throw invalid('confirm must be a mapping');
    confirm = { ...(doc.confirm as Record<string, unknown>) };
    for (const key of Object.keys(confirm)) if (!CONFIRM_KEYS.includes(key)) throw invalid(`confirm.${key} must not be present (allowed: ${CONFIRM_KEYS.join(', ')})`);
  }
  if (typeof ctx.flags['confirm-within'] === 'string') confirm = { ...(confirm ?? {}), within: ctx.flags['confirm-within'] };
  return { id: doc.id, policy, expectedVersion, confirm, where };
}

/** The document's confirm section as the API takes it (durations in milliseconds). */
function confirmBody(doc: ApplyDocument): Record<string, unknown> | undefined {
  if (!doc.confirm) return undefined;
  const invalid = (message: string) => new RequestError(`invalid input: ${doc.where}: ${message}`);
  const { within, baseline, ...bounds } = doc.confirm;
  if (within === undefined) throw invalid('confirm.within must be given (or --confirm-within)');
  return {
    withinMs: durationMs(within, 'confirm.within', invalid),
    ...(baseline === undefined ? {} : { baselineMs: durationMs(baseline, 'confirm.baseline', invalid) }),
    ...bounds,
  };
}

interface ApplyResult { id: string; action: 'created' | 'configured' | 'unchanged'; version: number; confirmation?: Confirmation; record?: PolicyRecord }

async function applyOne(ctx: Context, doc: ApplyDocument, strictVersion: number | undefined): Promise<ApplyResult> {
  const confirm = confirmBody(doc);
  let expectedVersion = strictVersion ?? doc.expectedVersion;
  if (expectedVersion === undefined) {
    // Create or update: the version replaced is the current one. A write landing in between still fails with 409,
    // so nothing is overwritten unseen.
    const current = await notFoundAsUndefined(call<PolicyRecord>(ctx, 'GET', `/v1/policies/${enc(doc.id)}`));
    if (current && JSON.stringify(await normalised(ctx, doc.policy)) === JSON.stringify(current.policy)) {
      return { id: doc.id, action: 'unchanged', version: current.version, record: current };
    }
    expectedVersion = current?.version ?? 0;
  }
  const record = await call<PolicyRecord>(ctx, 'PUT', `/v1/policies/${enc(doc.id)}`, { expectedVersion, policy: doc.policy, ...(confirm ? { confirm } : {}) });
  return { id: doc.id, action: expectedVersion === 0 ? 'created' : 'configured', version: record.version, confirmation: record.confirmation, record };
}

function appliedLine(result: ApplyResult): string {
  let line = `policy/${result.id} ${result.action} (version ${result.version})`;
  const c = result.confirmation;
  if (c) {
    line += `, pending confirmation ${c.id} until ${isoTime(c.deadlineUnixMs)}: ` +
      (c.restoreVersion === 0 ? 'deleted again' : `rolled back to version ${c.restoreVersion}`) + ' if its scopes get worse';
  }
  return line + '\n';
}

// ---- history ---------------------------------------------------------------------------------------------------------

async function historyWithDiffs(id: string, entries: HistoryEntry[]) {
  return Promise.all(entries.map(async (e) => {
    const before = e.kind === 'CREATE' ? '' : await policyText(e.previous);
    const diff = e.kind === 'DELETE' ? '' : unifiedDiff(before, await policyText(e.policy),
      e.kind === 'CREATE' ? '/dev/null' : `${id} before version ${e.version}`, `${id} version ${e.version}`);
    return {
      version: e.version, kind: e.kind, actor: e.actor, atUnixMs: e.atUnixMs, snapshotVersion: e.snapshotVersion,
      ...(e.kind === 'ROLLBACK' ? { rolledBackTo: e.rolledBackTo } : {}), ...(e.reason ? { reason: e.reason } : {}), diff,
    };
  }));
}

type HistoryView = Awaited<ReturnType<typeof historyWithDiffs>>;

function historyText(entries: HistoryView): string {
  return entries.map((e) => {
    const what = e.kind === 'ROLLBACK' ? `ROLLBACK to version ${e.rolledBackTo}` : e.kind;
    let out = `version ${e.version}  ${what}  by ${e.actor}  at ${isoTime(e.atUnixMs)}  (snapshot ${e.snapshotVersion})\n`;
    if (e.reason) out += `  why: ${e.reason}\n`;
    if (e.diff) out += e.diff.replace(/^/gm, '  ');
    return out;
  }).join('\n');
}

// ---- status ------------------------------------------------------------------------------------------------------------

export function confirmationsTable(confirmations: Confirmation[], pendingOnly: boolean): string {
  if (confirmations.length === 0) return pendingOnly ? 'no pending confirmations\n' : 'no confirmations\n';
  return table(['ID', 'POLICY', 'VERSION', 'STATE', 'APPLIED BY', 'APPLIED AT', 'DEADLINE', 'RESTORES', 'REASON'], confirmations.map((c) => [
    String(c.id), c.policyId, String(c.toVersion), c.state, c.actor, isoTime(c.appliedAtUnixMs), isoTime(c.deadlineUnixMs),
    c.restoreVersion === 0 ? 'delete' : `version ${c.restoreVersion}`, c.reason || '-',
  ]));
}

/** The pending confirmations' scopes so far: what the verdict will be made of. */
function scopesTable(confirmations: Confirmation[]): string {
  const rows = confirmations.filter((c) => c.state === 'PENDING').flatMap((c) => c.scopes.map((s) => [
    String(c.id), s.cluster, s.tenant || '-', `${s.before.requests} / ${s.after.requests}`,
    `${(s.before.errorRatio * 100).toFixed(1)}% → ${(s.after.errorRatio * 100).toFixed(1)}%`,
    `${s.before.p99Ms?.toFixed(1) ?? '-'} → ${s.after.p99Ms?.toFixed(1) ?? '-'}`, s.why,
  ]));
  return rows.length === 0 ? '' : '\n' + table(['ID', 'CLUSTER', 'TENANT', 'REQUESTS BEFORE / AFTER', 'ERRORS', 'P99 MS', 'SO FAR'], rows);
}

// ---- commands ------------------------------------------------------------------------------------------------------------

const FILE = { type: 'string', short: 'f', value: 'FILE', description: 'YAML or JSON file, - for stdin' } as const;
const EXPECTED = { type: 'string', value: 'N', description: 'the version being replaced (0 = must not exist yet); a mismatch fails (409)' } as const;

export const policyCommands: Command[] = [
  {
    path: ['policy', 'list'], summary: 'every live policy', output: 'json',
    async run(ctx) {
      const answer = await call<{ policies: PolicyRecord[]; snapshotVersion: number }>(ctx, 'GET', '/v1/policies');
      write(ctx, await render(answer, ctx.format, () => recordRows(answer.policies)));
    },
  },
  {
    path: ['policy', 'get'], args: '<id>', arity: [1, 1], summary: 'one policy, complete (defaults applied)', output: 'json',
    async run(ctx) {
      const record = await call<PolicyRecord>(ctx, 'GET', `/v1/policies/${enc(ctx.args[0]!)}`);
      write(ctx, await render(record, ctx.format, () => recordRows([record])));
    },
  },
  {
    path: ['policy', 'history'], args: '<id>', arity: [1, 1], output: 'table',
    summary: 'every change of a policy, newest first, as unified diffs of its YAML',
    details: 'Each entry shows who changed the policy, when, why (automatic rollbacks) and the diff against the version before it;\n' +
      '-o json|yaml gives the same entries with the diff as a string.',
    async run(ctx) {
      const id = ctx.args[0]!;
      const { entries } = await call<{ entries: HistoryEntry[] }>(ctx, 'GET', `/v1/policies/${enc(id)}/history`);
      const view = await historyWithDiffs(id, entries);
      write(ctx, await render({ id, entries: view }, ctx.format, () => historyText(view)));
    },
  },
  {
    path: ['policy', 'apply'], summary: 'create or update the policies of a YAML/JSON file', output: 'table',
    details: 'Each document is {id, policy, expectedVersion?, confirm?}; several documents (---) or a JSON array are applied\n' +
      'in order. Without an expected version the current version is replaced (and an unchanged policy is left alone).\n' +
      'confirm (or --confirm-within) makes the change commit-confirmed: the control plane compares the affected scopes\'\n' +
      'error ratio and p99 latency after the change with the minutes before it and rolls the change back by itself if\n' +
      'they get worse than the bounds: maxErrorRatioIncrease (default 0.05), maxP99IncreaseRatio (0.5) together with\n' +
      'minP99IncreaseMs (100), judged once a scope has minRequests (20) requests; baseline (default 5m) is how far back\n' +
      'the "before" reaches. See `meshlens policy status`.',
    options: {
      file: FILE, 'expected-version': EXPECTED,
      'confirm-within': { type: 'string', value: 'DURATION', description: 'commit-confirmed: window to judge the change in (e.g. 60s, 5m)' },
    },
    async run(ctx) {
      const documents = (await readDocuments(ctx.flags.file as string | undefined, ctx.io)).map((d) => applyDocument(d, ctx));
      let strict: number | undefined;
      if (ctx.flags['expected-version'] !== undefined) {
        strict = integer(ctx.flags['expected-version'], 'expected-version');
        if (documents.length > 1) throw new UsageError('invalid flag: --expected-version applies to a single document; give each document its own expectedVersion');
      }
      const results: ApplyResult[] = [];
      for (const doc of documents) {
        const result = await applyOne(ctx, doc, strict);
        results.push(result);
        if (ctx.format === 'table') write(ctx, appliedLine(result));
      }
      if (ctx.format !== 'table') write(ctx, await render(results, ctx.format));
    },
  },
  {
    path: ['policy', 'diff'], summary: 'what `policy apply -f FILE` would change, as a unified diff against the stored version', output: 'table',
    details: 'The file\'s policies are compared with defaults applied (as the control plane would store them). Exit code 0\n' +
      'whether or not they differ.',
    options: { file: FILE },
    async run(ctx) {
      const documents = (await readDocuments(ctx.flags.file as string | undefined, ctx.io)).map((d) => applyDocument(d, ctx));
      const results: { id: string; storedVersion: number; diff: string }[] = [];
      for (const doc of documents) {
        const current = await notFoundAsUndefined(call<PolicyRecord>(ctx, 'GET', `/v1/policies/${enc(doc.id)}`));
        const proposed = await normalised(ctx, doc.policy);
        const diff = unifiedDiff(await policyText(current?.policy), await policyText(proposed),
          current ? `${doc.id} version ${current.version} (stored)` : '/dev/null', `${doc.id} (${doc.where})`);
        results.push({ id: doc.id, storedVersion: current?.version ?? 0, diff });
      }
      write(ctx, await render(results, ctx.format, () => results.map((r) => r.diff || `policy/${r.id}: no differences\n`).join('')));
    },
  },
  {
    path: ['policy', 'status'], summary: 'commit-confirmed changes: pending ones (--all: the recent resolved ones too)', output: 'table',
    options: { all: { type: 'boolean', description: 'also confirmed, rolled back and superseded changes (newest first)' } },
    async run(ctx) {
      const answer = await call<{ confirmations: Confirmation[] }>(ctx, 'GET', `/v1/confirmations${ctx.flags.all ? '?all=true' : ''}`);
      write(ctx, await render(answer, ctx.format, () => confirmationsTable(answer.confirmations, !ctx.flags.all) + scopesTable(answer.confirmations)));
    },
  },
  {
    path: ['policy', 'set'], args: '<id>', arity: [1, 1], output: 'json',
    summary: 'create or replace one policy from a bare policy file (see also policy apply)',
    options: { file: FILE, 'expected-version': { ...EXPECTED, description: `${EXPECTED.description}; default 0` } },
    async run(ctx) {
      const [document] = await readDocuments(ctx.flags.file as string | undefined, ctx.io, '--file');
      const policy = policyOf(document!, false);
      const record = await call<PolicyRecord>(ctx, 'PUT', `/v1/policies/${enc(ctx.args[0]!)}`,
        { expectedVersion: integer((ctx.flags['expected-version'] as string | undefined) ?? '0', 'expected-version'), policy });
      write(ctx, await render(record, ctx.format, () => recordRows([record])));
    },
  },
  {
    path: ['policy', 'delete'], args: '<id>', arity: [1, 1], output: 'json', summary: 'delete a policy (its history is kept)',
    options: { 'expected-version': EXPECTED },
    async run(ctx) {
      const version = integer(ctx.flags['expected-version'], 'expected-version');
      const answer = await call(ctx, 'DELETE', `/v1/policies/${enc(ctx.args[0]!)}?expectedVersion=${version}`);
      write(ctx, await render(answer, ctx.format, () => `policy/${ctx.args[0]} deleted\n`));
    },
  },
  {
    path: ['policy', 'rollback'], args: '<id>', arity: [1, 1], output: 'json', summary: 'make an earlier version current again, as a new version',
    options: { to: { type: 'string', value: 'N', description: 'the version whose content is restored' }, 'expected-version': EXPECTED },
    async run(ctx) {
      const record = await call<PolicyRecord>(ctx, 'POST', `/v1/policies/${enc(ctx.args[0]!)}/rollback`, {
        toVersion: integer(ctx.flags.to, 'to'), expectedVersion: integer(ctx.flags['expected-version'], 'expected-version'),
      });
      write(ctx, await render(record, ctx.format, () => recordRows([record])));
    },
  },
  {
    path: ['dry-run'], summary: 'what a proposed policy\'s breaker would have done on recently reported telemetry', output: 'json',
    options: { file: FILE, minutes: { type: 'string', value: 'N', description: 'how far back to replay (default 5)' } },
    async run(ctx) {
      const [document] = await readDocuments(ctx.flags.file as string | undefined, ctx.io, '--file');
      const answer = await call<{ scopes: Record<string, any>[] }>(ctx, 'POST', '/v1/dry-run', {
        policy: policyOf(document!, true),
        windowMinutes: ctx.flags.minutes === undefined ? undefined : integer(ctx.flags.minutes, 'minutes'),
      });
      write(ctx, await render(answer, ctx.format, () => (answer.scopes.length === 0 ? 'no telemetry for the policy\'s scopes\n' : table(
        ['CLUSTER', 'TENANT', 'REQUESTS', 'ERRORS', 'SLOW', 'TRANSITIONS', 'FIRST TRIP', 'WOULD REJECT', 'FINAL'],
        answer.scopes.map((s) => [s.cluster, s.tenant || '-', String(s.requests), String(s.errors), String(s.slowCalls), String(s.transitions),
          isoTime(s.firstTripUnixMs), String(s.wouldReject), String(s.finalState)])))));
    },
  },
];
