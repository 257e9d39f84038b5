// Original file: protos/meshlens/v1/kernel.proto

/**
 * Where the counters in a report came from.
 */
export const KernelSource = {
  /**
   * Not set; the control plane treats it as KERNEL_SOURCE_BPF for old agents.
   */
  KERNEL_SOURCE_UNSPECIFIED: 'KERNEL_SOURCE_UNSPECIFIED',
  /**
   * The eBPF collector (tp_btf or tracepoint programs aggregating per flow in an LRU hash map).
   */
  KERNEL_SOURCE_BPF: 'KERNEL_SOURCE_BPF',
  /**
   * Fallback without CAP_BPF: per-socket counters sampled from `ss -ti` (flows that closed between samples are lost).
   */
  KERNEL_SOURCE_SS: 'KERNEL_SOURCE_SS',
  /**
   * Recorded NDJSON replayed for tests and demos.
   */
  KERNEL_SOURCE_REPLAY: 'KERNEL_SOURCE_REPLAY',
} as const;

/**
 * Where the counters in a report came from.
 */
export type KernelSource =
  /**
   * Not set; the control plane treats it as KERNEL_SOURCE_BPF for old agents.
   */
  | 'KERNEL_SOURCE_UNSPECIFIED'
  | 0
  /**
   * The eBPF collector (tp_btf or tracepoint programs aggregating per flow in an LRU hash map).
   */
  | 'KERNEL_SOURCE_BPF'
  | 1
  /**
   * Fallback without CAP_BPF: per-socket counters sampled from `ss -ti` (flows that closed between samples are lost).
   */
  | 'KERNEL_SOURCE_SS'
  | 2
  /**
   * Recorded NDJSON replayed for tests and demos.
   */
  | 'KERNEL_SOURCE_REPLAY'
  | 3

/**
 * Where the counters in a report came from.
 */
export type KernelSource__Output = typeof KernelSource[keyof typeof KernelSource]
