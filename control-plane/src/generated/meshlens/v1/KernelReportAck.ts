// Original file: protos/meshlens/v1/kernel.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Acknowledgement of a KernelReport.
 */
export interface KernelReportAck {
  /**
   * Sequence number of the report being acknowledged.
   */
  'sequence'?: (number | string | Long);
  /**
   * Number of flow entries the control plane accepted.
   */
  'acceptedFlows'?: (number);
  /**
   * Desired report interval in milliseconds; 0 keeps the agent's own setting.
   */
  'reportIntervalMs'?: (number);
}

/**
 * Acknowledgement of a KernelReport.
 */
export interface KernelReportAck__Output {
  /**
   * Sequence number of the report being acknowledged.
   */
  'sequence': (string);
  /**
   * Number of flow entries the control plane accepted.
   */
  'acceptedFlows': (number);
  /**
   * Desired report interval in milliseconds; 0 keeps the agent's own setting.
   */
  'reportIntervalMs': (number);
}
