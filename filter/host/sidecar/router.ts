// The forwarding half of Envoy's router filter (source/common/router/router.cc): route and per-try timeouts, retries
// with jittered backoff, previous-host avoidance and the cluster's retry circuit breaker, and the local replies and
// response flags (UF UC UR LR UT URX UO UH) Envoy produces when the upstream cannot answer.
import { ResponseFlags, type ResponseFlag } from './response-flags.ts';
import { CONSUMED_RETRY_HEADERS, RetryState, parseRetryHeaders, type RetryStatus, type UpstreamResetReason } from './retry-state.ts';
import { UpstreamFailure, type ClusterPool, type PendingAttempt, type UpstreamResponse } from './upstream-pool.ts';
import type { BodySource } from './request-body.ts';

export const DEFAULT_ROUTE_TIMEOUT_MS = 15000; // Envoy RouteAction.timeout default

export interface RouterOptions {
  random?: () => number; // backoff jitter source, uniform in [0, 1)
  sleep?: (ms: number) => Promise<void>; // backoff wait
  /**
   * Extra host picks when the round-robin lands on a host this request already tried (Envoy's previous_hosts
   * retry predicate with host_selection_retry_max_attempts; Istio configures 5, which is the default here).
   */
  hostSelectionRetryMaxAttempts?: number;
}

export interface RoutedRequest {
  method: string;
  path: string;
  authority: string;
  headers: [string, string][]; // regular request headers as the filter left them (no pseudo-headers)
  body: Buffer | BodySource;
  /** The downstream stream ended (reset, disconnect, protocol error): Envoy's router onDestroy resets the upstream. */
  signal?: AbortSignal;
}

interface OutcomeCommon {
  flags: ResponseFlags;
  attemptCount: number;
  upstreamAddress?: string;
  upstreamLocalAddress?: string;
}
export interface UpstreamOutcome extends OutcomeCommon {
  kind: 'upstream';
  response: UpstreamResponse;
  upstreamServiceTimeMs: number;
}
export interface LocalReplyOutcome extends OutcomeCommon {
  kind: 'localReply';
  status: number;
  body: string;
  details: string;
  transportFailureReason?: string;
}
export type RouterOutcome = UpstreamOutcome | LocalReplyOutcome;

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function parseMs(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

interface UpstreamPlan {
  headers: [string, string][];
  globalTimeoutMs: number;
  perTryTimeoutMs: number;
  retry: RetryState | undefined;
}

/** Consumes the x-envoy-* control headers like Envoy's FilterUtility::finalTimeout and RetryStateImpl::create. */
export function planUpstreamRequest(
  headers: [string, string][],
  routeTimeoutMs: number,
  options: RouterOptions = {},
): UpstreamPlan {
  const get = (name: string) => headers.find(([k]) => k === name)?.[1];
  let globalTimeoutMs = parseMs(get('x-envoy-upstream-rq-timeout-ms')) ?? routeTimeoutMs;
  let perTryTimeoutMs = parseMs(get('x-envoy-upstream-rq-per-try-timeout-ms')) ?? 0;
  if (globalTimeoutMs !== 0 && perTryTimeoutMs >= globalTimeoutMs) perTryTimeoutMs = 0;
  const retryHeaders = parseRetryHeaders(headers);
  const retry = retryHeaders && new RetryState(retryHeaders, { random: options.random });
  const consumed = new Set<string>([...CONSUMED_RETRY_HEADERS, 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-expected-rq-timeout-ms']);
  const upstreamHeaders = headers.filter(([k]) => !consumed.has(k));
  const expectedTimeoutMs = perTryTimeoutMs > 0 ? perTryTimeoutMs : globalTimeoutMs;
  if (expectedTimeoutMs > 0) upstreamHeaders.push(['x-envoy-expected-rq-timeout-ms', String(expectedTimeoutMs)]);
  globalTimeoutMs = Math.max(0, globalTimeoutMs);
  return { headers: upstreamHeaders, globalTimeoutMs, perTryTimeoutMs, retry };
}

function resetFlag(reason: UpstreamResetReason): ResponseFlag {
  switch (reason) {
    case 'remote connection failure':
    case 'connection timeout':
      return 'UF';
    case 'connection termination':
      return 'UC';
    case 'local reset':
      return 'LR';
    case 'remote reset':
    case 'remote refused stream reset':
      return 'UR';
  }
}

type AttemptResult =
  | { kind: 'response'; response: UpstreamResponse }
  | { kind: 'failure'; failure: UpstreamFailure }
  | { kind: 'perTryTimeout' }
  | { kind: 'globalTimeout' }
  | { kind: 'downstreamGone' };

export async function forwardRequest(
  pool: ClusterPool,
  request: RoutedRequest,
  routeTimeoutMs: number,
  options: RouterOptions = {},
): Promise<RouterOutcome> {
  const sleep = options.sleep ?? realSleep;
  const maxSelectionRetries = options.hostSelectionRetryMaxAttempts ?? 5;
  const plan = planUpstreamRequest(request.headers, routeTimeoutMs, options);
  const flags = new ResponseFlags();
  const attempted = new Set<string>();
  let attemptCount = 0;
  let upstreamAddress: string | undefined;
  let upstreamLocalAddress: string | undefined;

  let globalTimer: NodeJS.Timeout | undefined;
  const globalTimeout = new Promise<{ kind: 'globalTimeout' }>((resolve) => {
    if (plan.globalTimeoutMs > 0) globalTimer = setTimeout(() => resolve({ kind: 'globalTimeout' }), plan.globalTimeoutMs);
  });
  // The retry circuit-breaker slot held since the last granted retry (Envoy's RetryStateImpl callback_).
  let heldRetry: (() => void) | undefined;
  const decide = (wouldRetry: boolean): RetryStatus => {
    heldRetry?.();
    heldRetry = undefined;
    if (!plan.retry) return 'no';
    // Past the buffer limit the router dropped its copy of the body and its retry state with it.
    if (!Buffer.isBuffer(request.body) && !request.body.replayable) return 'no';
    return plan.retry.shouldRetry(wouldRetry, () => (heldRetry = pool.tryAcquireRetry()) !== undefined);
  };
  const common = (): OutcomeCommon => ({ flags, attemptCount, upstreamAddress, upstreamLocalAddress });
  const localReply = (status: number, body: string, details: string): LocalReplyOutcome => ({
    kind: 'localReply', status, body, details, ...common(),
  });
  const timeoutReply = (details: string): LocalReplyOutcome => {
    flags.set('UT');
    return localReply(504, 'upstream request timeout', details);
  };
  // The route timeout keeps running during backoff: it may expire before the retry starts.
  const backoffThenRetry = async (): Promise<'retry' | 'timeout'> => {
    const waited = await Promise.race([sleep(plan.retry!.nextBackoffMs()).then(() => 'retry' as const), globalTimeout]);
    return waited === 'retry' ? 'retry' : 'timeout';
  };

  const downstreamGone = new Promise<{ kind: 'downstreamGone' }>((resolve) => {
    if (request.signal?.aborted) resolve({ kind: 'downstreamGone' });
    else request.signal?.addEventListener('abort', () => resolve({ kind: 'downstreamGone' }), { once: true });
  });

  try {
    for (;;) {
      if (request.signal?.aborted) return localReply(0, '', 'downstream_remote_disconnect');
      const address = pool.pickEndpoint((a) => attempted.has(a), attemptCount > 0 ? maxSelectionRetries : 0);
      if (address === undefined) {
        flags.set('UH');
        return localReply(503, 'no healthy upstream', 'no_healthy_upstream');
      }
      attemptCount++;
      attempted.add(address);
      upstreamAddress = address;
      upstreamLocalAddress = undefined;
      const sentAt = performance.now();
      const attempt: PendingAttempt = pool.send(address, {
        method: request.method,
        path: request.path,
        headers: [['host', request.authority], ...plan.headers],
        body: request.body,
      });
      let perTryTimer: NodeJS.Timeout | undefined;
      const perTry = new Promise<{ kind: 'perTryTimeout' }>((resolve) => {
        if (plan.perTryTimeoutMs > 0) perTryTimer = setTimeout(() => resolve({ kind: 'perTryTimeout' }), plan.perTryTimeoutMs);
      });
      const result: AttemptResult = await Promise.race([
        attempt.response.then(
          (response) => ({ kind: 'response' as const, response }),
          (failure: UpstreamFailure) => ({ kind: 'failure' as const, failure }),
        ),
        perTry,
        globalTimeout,
        downstreamGone,
      ]);
      if (perTryTimer) clearTimeout(perTryTimer);

      if (result.kind === 'downstreamGone') {
        // Nobody is left to answer: the attempt is reset and nothing is retried (the stream already logged DC/DPE).
        attempt.reset();
        void attempt.response.then((r) => r.body.destroy(), () => {});
        return localReply(0, '', 'downstream_remote_disconnect');
      }

      if (result.kind === 'globalTimeout') {
        attempt.reset();
        pool.recordTimeout(address);
        return timeoutReply('upstream_response_timeout');
      }

      if (result.kind === 'response') {
        const response = result.response;
        upstreamLocalAddress = response.upstreamLocalAddress;
        const status = decide(plan.retry?.wouldRetryFromHeaders(response.status, response.headers) ?? false);
        if (status === 'yes') {
          response.body.resume(); // drain so the connection goes back to the pool
          if ((await backoffThenRetry()) === 'timeout') return timeoutReply('upstream_response_timeout');
          continue;
        }
        if (status === 'limit-exceeded') flags.set('URX');
        if (status === 'overflow') flags.set('UO');
        return { kind: 'upstream', response, upstreamServiceTimeMs: Math.round(performance.now() - sentAt), ...common() };
      }

      // The stream was reset: by the network, or by us on a per-try timeout (Envoy's LocalReset with timeout).
      const perTryTimedOut = result.kind === 'perTryTimeout';
      if (perTryTimedOut) {
        attempt.reset();
        pool.recordTimeout(address);
      } else {
        upstreamLocalAddress = result.failure.upstreamLocalAddress;
      }
      const reason: UpstreamResetReason = perTryTimedOut ? 'local reset' : result.failure.reason;
      const status = decide(plan.retry?.wouldRetryFromReset(reason) ?? false);
      if (status === 'yes') {
        if ((await backoffThenRetry()) === 'timeout') return timeoutReply('upstream_response_timeout');
        continue;
      }
      if (status === 'limit-exceeded') flags.set('URX');
      if (status === 'overflow') flags.set('UO');
      if (perTryTimedOut) return timeoutReply('upstream_per_try_timeout');
      const failure = result.failure;
      flags.set(resetFlag(reason));
      const transport = failure.transportFailureReason;
      const body =
        'upstream connect error or disconnect/reset before headers. ' +
        (attemptCount > 1 ? 'retried and the latest ' : '') +
        `reset reason: ${reason}` +
        (transport ? `, transport failure reason: ${transport}` : '');
      const details = `upstream_reset_before_response_started{${reason}${transport ? `|${transport}` : ''}}`.replace(/\s/g, '_');
      return { ...localReply(503, body, details), transportFailureReason: transport || undefined };
    }
  } finally {
    heldRetry?.();
    if (globalTimer) clearTimeout(globalTimer);
  }
}
