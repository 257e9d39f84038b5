// The retry half of Envoy's router (source/common/router/retry_state_impl.cc): which failures are retried under
// which x-envoy-retry-on / x-envoy-retry-grpc-on values, how many times, and the fully jittered exponential backoff.

/** Envoy's Http::StreamResetReason values an HTTP/1 upstream can produce, spelled as Envoy prints them. */
export type UpstreamResetReason =
  | 'remote connection failure'
  | 'connection timeout'
  | 'connection termination'
  | 'local reset'
  | 'remote reset' // HTTP/2 RST_STREAM from the upstream
  | 'remote refused stream reset'; // HTTP/2 RST_STREAM(REFUSED_STREAM): the upstream never processed it

/** Request headers the router consumes; Envoy removes them before the request goes upstream. */
export const CONSUMED_RETRY_HEADERS = [
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-upstream-rq-per-try-timeout-ms',
] as const;

const RETRY_ON_VALUES = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers',
] as const;
export type RetryOn = (typeof RETRY_ON_VALUES)[number];

const GRPC_RETRY_ON = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  unavailable: 14,
  internal: 13,
} as const;
export type GrpcRetryOn = keyof typeof GRPC_RETRY_ON;

export type RetryStatus = 'yes' | 'no' | 'limit-exceeded' | 'overflow';

export interface BackoffOptions {
  baseIntervalMs?: number; // Envoy runtime upstream.base_retry_backoff_ms, default 25
  maxIntervalMs?: number; // default 10 × base
  random?: () => number; // uniform in [0, 1)
}

/** Envoy's JitteredExponentialBackOffStrategy: delay uniform in [0, interval), interval doubling up to the cap. */
export class JitteredBackoff {
  private nextIntervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    const base = opts.baseIntervalMs ?? 25;
    if (!(base > 0)) throw new Error('invalid backoff: baseIntervalMs must be > 0');
    this.maxIntervalMs = opts.maxIntervalMs ?? base * 10;
    if (this.maxIntervalMs < base) throw new Error('invalid backoff: maxIntervalMs must be >= baseIntervalMs');
    this.nextIntervalMs = base;
    this.random = opts.random ?? Math.random;
  }

  nextBackoffMs(): number {
    const interval = this.nextIntervalMs;
    this.nextIntervalMs = interval > this.maxIntervalMs / 2 ? this.maxIntervalMs : interval * 2;
    return Math.min(Math.floor(this.random() * interval), this.maxIntervalMs);
  }
}

export interface RetryHeaders {
  retryOn: Set<RetryOn>;
  grpcRetryOn: Set<GrpcRetryOn>;
  maxRetries: number;
  retriableStatusCodes: number[];
}

function splitTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
}

function headerValue(headers: readonly [string, string][], name: string): string | undefined {
  const values = headers.filter(([k]) => k === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(',');
}

/**
 * Reads the retry headers like RetryStateImpl's constructor; undefined when neither retry-on header is present
 * (Envoy then creates no retry state at all, and x-envoy-max-retries alone means nothing).
 */
export function parseRetryHeaders(headers: readonly [string, string][]): RetryHeaders | undefined {
  const retryOnHeader = headerValue(headers, 'x-envoy-retry-on');
  const grpcOnHeader = headerValue(headers, 'x-envoy-retry-grpc-on');
  if (retryOnHeader === undefined && grpcOnHeader === undefined) return undefined;
  const retryOn = new Set<RetryOn>();
  for (const token of splitTokens(retryOnHeader)) {
    if ((RETRY_ON_VALUES as readonly string[]).includes(token)) retryOn.add(token as RetryOn);
  }
  const grpcRetryOn = new Set<GrpcRetryOn>();
  for (const token of splitTokens(grpcOnHeader)) {
    if (token in GRPC_RETRY_ON) grpcRetryOn.add(token as GrpcRetryOn);
  }
  let maxRetries = 1;
  const maxRetriesHeader = headerValue(headers, 'x-envoy-max-retries');
  if ((retryOn.size > 0 || grpcRetryOn.size > 0) && maxRetriesHeader !== undefined && /^\d+$/.test(maxRetriesHeader.trim())) {
    maxRetries = Number(maxRetriesHeader.trim());
  }
  const retriableStatusCodes = splitTokens(headerValue(headers, 'x-envoy-retriable-status-codes'))
    .filter((t) => /^\d+$/.test(t))
    .map(Number);
  return { retryOn, grpcRetryOn, maxRetries, retriableStatusCodes };
}

export class RetryState {
  private retriesRemaining: number;
  private readonly backoff: JitteredBackoff;

  constructor(private readonly policy: RetryHeaders, backoff: BackoffOptions = {}) {
    this.retriesRemaining = policy.maxRetries;
    this.backoff = new JitteredBackoff(backoff);
  }

  /** Envoy's wouldRetryFromHeaders; grpc-status is read from the response headers only, never trailers. */
  wouldRetryFromHeaders(status: number, headers: readonly [string, string][]): boolean {
    const on = this.policy.retryOn;
    if (headerValue(headers, 'x-envoy-ratelimited') !== undefined) return on.has('envoy-ratelimited');
    if (on.has('5xx') && status >= 500 && status < 600) return true;
    if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
    if (on.has('retriable-4xx') && status === 409) return true;
    if (on.has('retriable-status-codes') && this.policy.retriableStatusCodes.includes(status)) return true;
    if (this.policy.grpcRetryOn.size > 0) {
      const grpcStatus = headerValue(headers, 'grpc-status');
      if (grpcStatus !== undefined && /^\d+$/.test(grpcStatus.trim())) {
        const code = Number(grpcStatus.trim());
        for (const name of this.policy.grpcRetryOn) if (GRPC_RETRY_ON[name] === code) return true;
      }
    }
    return false;
  }

  /**
   * Envoy's wouldRetryFromReset. A per-try timeout arrives here as a local reset, so it is retried under reset,
   * 5xx and gateway-error. refused-stream needs an HTTP/2 upstream (REFUSED_STREAM); HTTP/1 never produces it.
   */
  wouldRetryFromReset(reason: UpstreamResetReason): boolean {
    const on = this.policy.retryOn;
    if (on.has('reset') || on.has('5xx') || on.has('gateway-error')) return true;
    if (on.has('refused-stream') && reason === 'remote refused stream reset') return true;
    return on.has('connect-failure') && (reason === 'remote connection failure' || reason === 'connection timeout');
  }

  /**
   * Envoy's shouldRetry: consumes one retry when the failure is retriable, then asks the cluster's retry circuit
   * breaker (`tryAcquireRetry`) for a slot; a full breaker is an overflow (UO) even though the retry was consumed.
   */
  shouldRetry(wouldRetry: boolean, tryAcquireRetry: () => boolean = () => true): RetryStatus {
    if (!wouldRetry) return 'no';
    if (this.retriesRemaining === 0) return 'limit-exceeded';
    this.retriesRemaining--;
    return tryAcquireRetry() ? 'yes' : 'overflow';
  }

  nextBackoffMs(): number {
    return this.backoff.nextBackoffMs();
  }
}
