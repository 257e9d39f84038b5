// Read-only views of the running mesh: rollout per proxy, endpoint verdicts, kernel correlations, breaker states.
import type { BreakersView } from '../breaker-states.ts';
import { formatBreakers, formatOpenBreakers } from '../breaker-format.ts';
import type { CorrelationView, EndpointStatus, RouteView } from '../correlator.ts';
import { formatCorrelations, formatEndpoints } from '../correlation-format.ts';
import { call } from './client.ts';
import type { Command, Context } from './framework.ts';
import { isoTime, render, table } from './output.ts';

interface NodeRollout {
  nodeId: string; worker: string; connected: boolean; ackedVersion: string; ackedAtUnixMs: number; pendingVersion: string;
  nackedVersion: string; nackReason: string;
}

/** `--json` predates -o and stays an alias of -o json. */
const LEGACY_JSON = { json: { type: 'boolean', description: 'same as -o json' } } as const;
const formatWithLegacy = (ctx: Context) => (ctx.flags.json ? 'json' : ctx.format);

export const observeCommands: Command[] = [
  {
    path: ['rollout', 'status'], summary: 'every proxy\'s acknowledged snapshot version (applied by all its VMs) and last rejection', output: 'json',
    async run(ctx) {
      const answer = await call<{ snapshotVersion: string; nodes: NodeRollout[]; converged: number; connected: number }>(ctx, 'GET', '/v1/rollout');
      ctx.io.stdout(await render(answer, ctx.format, () =>
        `snapshot ${answer.snapshotVersion}: ${answer.converged} of ${answer.connected} connected VMs acknowledged it\n` +
        (answer.nodes.length === 0 ? '' : table(['NODE', 'WORKER', 'CONNECTED', 'ACKED', 'ACKED AT', 'PENDING', 'NACKED', 'NACK REASON'],
          answer.nodes.map((n) => [n.nodeId, n.worker, n.connected ? 'yes' : 'no', n.ackedVersion || '-', isoTime(n.ackedAtUnixMs),
            n.pendingVersion || '-', n.nackedVersion || '-', n.nackReason || '-'])))));
    },
  },
  {
    path: ['endpoints'], output: 'table', options: LEGACY_JSON,
    summary: 'each upstream endpoint\'s verdict, its signals against its own baseline, and recent verdict changes',
    async run(ctx) {
      const answer = await call<{ endpoints: EndpointStatus[] } & Partial<BreakersView>>(ctx, 'GET', '/v1/endpoints');
      ctx.io.stdout(await render(answer, formatWithLegacy(ctx), () => formatEndpoints(answer.endpoints) + formatOpenBreakers(answer.breakers)));
    },
  },
  {
    path: ['correlations'], output: 'table', options: LEGACY_JSON,
    summary: 'recent kernel flows joined to requests, and retransmits attributed to routes and tenants',
    async run(ctx) {
      const answer = await call<{ correlations: CorrelationView[]; routes: RouteView[] } & Partial<BreakersView>>(ctx, 'GET', '/v1/correlations');
      ctx.io.stdout(await render(answer, formatWithLegacy(ctx), () => formatCorrelations(answer.correlations, answer.routes) + formatOpenBreakers(answer.breakers)));
    },
  },
  {
    path: ['breakers'], output: 'table', options: LEGACY_JSON,
    summary: 'breaker state per scope over the proxies (worst first), why it opened, and recent transitions',
    async run(ctx) {
      const answer = await call<BreakersView>(ctx, 'GET', '/v1/breakers');
      ctx.io.stdout(await render(answer, formatWithLegacy(ctx), () => formatBreakers(answer.breakers, answer.transitions)));
    },
  },
];
