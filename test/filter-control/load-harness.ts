// The control harness: the protobuf codec, snapshot validation and telemetry window, built for direct calls.
import { loadAscHarness, type AscHarness } from '../support/asc-harness.ts';

export type ControlHarness = AscHarness;

export function loadControlHarness(): Promise<ControlHarness> {
  return loadAscHarness({
    name: 'control-harness',
    entry: 'filter/assembly/control/testing/harness.ts',
    sources: ['control', 'policy', 'json.ts'],
  });
}
