// Original file: protos/meshlens/v1/kernel.proto

import type { KernelSource as _meshlens_v1_KernelSource, KernelSource__Output as _meshlens_v1_KernelSource__Output } from '../../meshlens/v1/KernelSource.ts';

/**
 * Identity of the reporting node agent.
 */
export interface NodeIdentity {
  /**
   * Kubernetes node name, or the host name outside Kubernetes.
   */
  'nodeName'?: (string);
  /**
   * Unique id of this agent process run (changes on agent restart, so the control plane can reset deltas).
   */
  'agentId'?: (string);
  /**
   * Kernel release (uname -r), informational only.
   */
  'kernelRelease'?: (string);
  /**
   * Counter source in use for this report.
   */
  'source'?: (_meshlens_v1_KernelSource);
}

/**
 * Identity of the reporting node agent.
 */
export interface NodeIdentity__Output {
  /**
   * Kubernetes node name, or the host name outside Kubernetes.
   */
  'nodeName': (string);
  /**
   * Unique id of this agent process run (changes on agent restart, so the control plane can reset deltas).
   */
  'agentId': (string);
  /**
   * Kernel release (uname -r), informational only.
   */
  'kernelRelease': (string);
  /**
   * Counter source in use for this report.
   */
  'source': (_meshlens_v1_KernelSource__Output);
}
