// Original file: protos/meshlens/v1/admin.proto


/**
 * Window and bounds of a commit-confirmed change; absent bounds take the documented defaults.
 */
export interface ConfirmSpec {
  /**
   * Window after the change in which it is judged, milliseconds in [1000, 86400000]. Required.
   */
  'withinMs'?: (number);
  /**
   * How far before the change the baseline reaches, milliseconds; 0 means 300000 (5 minutes).
   */
  'baselineMs'?: (number);
  /**
   * Largest tolerated rise of a scope's error ratio, absolute (default 0.05: five percentage points).
   */
  'maxErrorRatioIncrease'?: (number | string);
  /**
   * Largest tolerated relative rise of a scope's p99 latency (default 0.5: +50 %)...
   */
  'maxP99IncreaseRatio'?: (number | string);
  /**
   * ...counted only when the p99 also rose by more than this many milliseconds (default 100).
   */
  'minP99IncreaseMs'?: (number | string);
  /**
   * Requests a scope needs after the change (and before it, for latency) to be judged (default 20).
   */
  'minRequests'?: (number);
  '_maxErrorRatioIncrease'?: "maxErrorRatioIncrease";
  '_maxP99IncreaseRatio'?: "maxP99IncreaseRatio";
  '_minP99IncreaseMs'?: "minP99IncreaseMs";
  '_minRequests'?: "minRequests";
}

/**
 * Window and bounds of a commit-confirmed change; absent bounds take the documented defaults.
 */
export interface ConfirmSpec__Output {
  /**
   * Window after the change in which it is judged, milliseconds in [1000, 86400000]. Required.
   */
  'withinMs': (number);
  /**
   * How far before the change the baseline reaches, milliseconds; 0 means 300000 (5 minutes).
   */
  'baselineMs': (number);
  /**
   * Largest tolerated rise of a scope's error ratio, absolute (default 0.05: five percentage points).
   */
  'maxErrorRatioIncrease'?: (number);
  /**
   * Largest tolerated relative rise of a scope's p99 latency (default 0.5: +50 %)...
   */
  'maxP99IncreaseRatio'?: (number);
  /**
   * ...counted only when the p99 also rose by more than this many milliseconds (default 100).
   */
  'minP99IncreaseMs'?: (number);
  /**
   * Requests a scope needs after the change (and before it, for latency) to be judged (default 20).
   */
  'minRequests'?: (number);
  '_maxErrorRatioIncrease'?: "maxErrorRatioIncrease";
  '_maxP99IncreaseRatio'?: "maxP99IncreaseRatio";
  '_minP99IncreaseMs'?: "minP99IncreaseMs";
  '_minRequests'?: "minRequests";
}
