// The resilience harness: the breaker, budget and decision policy plus their glue, built for direct calls.
import { loadAscHarness, type AscHarness } from '../support/asc-harness.ts';

export type Harness = AscHarness;

export function loadHarness(): Promise<Harness> {
  return loadAscHarness({
    name: 'resilience-harness',
    entry: 'filter/assembly/resilience/testing/harness.ts',
    sources: [
      'json.ts', 'resilience', 'policy/resilience-policy.ts', 'policy/circuit-breaker.ts', 'policy/retry-budget.ts',
      'policy/retry-decision.ts', 'policy/request-metrics.ts', 'policy/labels.ts',
    ],
  });
}
