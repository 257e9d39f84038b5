// Original file: protos/meshlens/v1/policy.proto


/**
 * Circuit-breaker settings (error-rate and slow-call-rate over a sliding time window).
 */
export interface BreakerPolicy {
  /**
   * When false the breaker never leaves Closed.
   */
  'enabled'?: (boolean);
  /**
   * Trip when failures / requests over the window is at least this, in (0, 1].
   */
  'errorRateThreshold'?: (number | string);
  /**
   * A call whose duration is at least this many milliseconds is slow.
   */
  'slowCallMs'?: (number);
  /**
   * Trip when slow calls / requests over the window is at least this, in (0, 1].
   */
  'slowCallRateThreshold'?: (number | string);
  /**
   * Minimum requests in the window before either rate is evaluated.
   */
  'minRequests'?: (number);
  /**
   * Sliding window length in milliseconds.
   */
  'windowMs'?: (number);
  /**
   * First Open duration in milliseconds; it doubles on each reopen from HalfOpen.
   */
  'openMs'?: (number);
  /**
   * Upper bound of the Open duration in milliseconds.
   */
  'maxOpenMs'?: (number);
  /**
   * Requests admitted while HalfOpen.
   */
  'halfOpenProbes'?: (number);
  /**
   * Successful probes needed to close from HalfOpen.
   */
  'halfOpenSuccesses'?: (number);
  /**
   * Opt-in (default false): failures and slow calls served by an endpoint in the control plane's network-suspect set
   * (DiscoveryResponse.network_suspects: the correlator's verdict network-suspect or both) do not count against this
   * breaker; the filter counts them under their own cause (OutcomeCounters.network_suspect_failures). Retries of the
   * scope go to another host only where the route has retry_host_predicate previous_hosts (istio/ sets it).
   */
  'networkAware'?: (boolean);
  '_enabled'?: "enabled";
  '_errorRateThreshold'?: "errorRateThreshold";
  '_slowCallMs'?: "slowCallMs";
  '_slowCallRateThreshold'?: "slowCallRateThreshold";
  '_minRequests'?: "minRequests";
  '_windowMs'?: "windowMs";
  '_openMs'?: "openMs";
  '_maxOpenMs'?: "maxOpenMs";
  '_halfOpenProbes'?: "halfOpenProbes";
  '_halfOpenSuccesses'?: "halfOpenSuccesses";
  '_networkAware'?: "networkAware";
}

/**
 * Circuit-breaker settings (error-rate and slow-call-rate over a sliding time window).
 */
export interface BreakerPolicy__Output {
  /**
   * When false the breaker never leaves Closed.
   */
  'enabled'?: (boolean);
  /**
   * Trip when failures / requests over the window is at least this, in (0, 1].
   */
  'errorRateThreshold'?: (number);
  /**
   * A call whose duration is at least this many milliseconds is slow.
   */
  'slowCallMs'?: (number);
  /**
   * Trip when slow calls / requests over the window is at least this, in (0, 1].
   */
  'slowCallRateThreshold'?: (number);
  /**
   * Minimum requests in the window before either rate is evaluated.
   */
  'minRequests'?: (number);
  /**
   * Sliding window length in milliseconds.
   */
  'windowMs'?: (number);
  /**
   * First Open duration in milliseconds; it doubles on each reopen from HalfOpen.
   */
  'openMs'?: (number);
  /**
   * Upper bound of the Open duration in milliseconds.
   */
  'maxOpenMs'?: (number);
  /**
   * Requests admitted while HalfOpen.
   */
  'halfOpenProbes'?: (number);
  /**
   * Successful probes needed to close from HalfOpen.
   */
  'halfOpenSuccesses'?: (number);
  /**
   * Opt-in (default false): failures and slow calls served by an endpoint in the control plane's network-suspect set
   * (DiscoveryResponse.network_suspects: the correlator's verdict network-suspect or both) do not count against this
   * breaker; the filter counts them under their own cause (OutcomeCounters.network_suspect_failures). Retries of the
   * scope go to another host only where the route has retry_host_predicate previous_hosts (istio/ sets it).
   */
  'networkAware'?: (boolean);
  '_enabled'?: "enabled";
  '_errorRateThreshold'?: "errorRateThreshold";
  '_slowCallMs'?: "slowCallMs";
  '_slowCallRateThreshold'?: "slowCallRateThreshold";
  '_minRequests'?: "minRequests";
  '_windowMs'?: "windowMs";
  '_openMs'?: "openMs";
  '_maxOpenMs'?: "maxOpenMs";
  '_halfOpenProbes'?: "halfOpenProbes";
  '_halfOpenSuccesses'?: "halfOpenSuccesses";
  '_networkAware'?: "networkAware";
}
