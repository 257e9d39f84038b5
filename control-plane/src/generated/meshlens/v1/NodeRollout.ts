// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Rollout state of one discovery stream's identity: a proxy (worker "proxy", all its VMs), or an older filter's VM.
 */
export interface NodeRollout {
  /**
   * Node.id.
   */
  'nodeId'?: (string);
  /**
   * Node.worker.
   */
  'worker'?: (string);
  /**
   * Whether its discovery stream is open.
   */
  'connected'?: (boolean);
  /**
   * Last snapshot version it acknowledged ("" if none).
   */
  'ackedVersion'?: (string);
  /**
   * When it acknowledged it, Unix epoch milliseconds.
   */
  'ackedAtUnixMs'?: (number | string | Long);
  /**
   * Version sent and not yet answered ("" if none).
   */
  'pendingVersion'?: (string);
  /**
   * Last snapshot version it rejected ("" if none).
   */
  'nackedVersion'?: (string);
  /**
   * Why it rejected it.
   */
  'nackReason'?: (string);
  /**
   * When it rejected it, Unix epoch milliseconds.
   */
  'nackedAtUnixMs'?: (number | string | Long);
  /**
   * Version of the network-suspect set it applies (discovery.proto NetworkSuspects; "" if none).
   */
  'suspectsVersion'?: (string);
}

/**
 * Rollout state of one discovery stream's identity: a proxy (worker "proxy", all its VMs), or an older filter's VM.
 */
export interface NodeRollout__Output {
  /**
   * Node.id.
   */
  'nodeId': (string);
  /**
   * Node.worker.
   */
  'worker': (string);
  /**
   * Whether its discovery stream is open.
   */
  'connected': (boolean);
  /**
   * Last snapshot version it acknowledged ("" if none).
   */
  'ackedVersion': (string);
  /**
   * When it acknowledged it, Unix epoch milliseconds.
   */
  'ackedAtUnixMs': (string);
  /**
   * Version sent and not yet answered ("" if none).
   */
  'pendingVersion': (string);
  /**
   * Last snapshot version it rejected ("" if none).
   */
  'nackedVersion': (string);
  /**
   * Why it rejected it.
   */
  'nackReason': (string);
  /**
   * When it rejected it, Unix epoch milliseconds.
   */
  'nackedAtUnixMs': (string);
  /**
   * Version of the network-suspect set it applies (discovery.proto NetworkSuspects; "" if none).
   */
  'suspectsVersion': (string);
}
