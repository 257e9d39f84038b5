// Original file: protos/meshlens/v1/kernel.proto

import type { NodeIdentity as _meshlens_v1_NodeIdentity, NodeIdentity__Output as _meshlens_v1_NodeIdentity__Output } from '../../meshlens/v1/NodeIdentity.ts';
import type { FlowEntry as _meshlens_v1_FlowEntry, FlowEntry__Output as _meshlens_v1_FlowEntry__Output } from '../../meshlens/v1/FlowEntry.ts';
import type { CollectionGap as _meshlens_v1_CollectionGap, CollectionGap__Output as _meshlens_v1_CollectionGap__Output } from '../../meshlens/v1/CollectionGap.ts';
import type { NetnsIdentity as _meshlens_v1_NetnsIdentity, NetnsIdentity__Output as _meshlens_v1_NetnsIdentity__Output } from '../../meshlens/v1/NetnsIdentity.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * One interval of kernel counters from one node agent.
 */
export interface KernelReport {
  /**
   * Who reports.
   */
  'node'?: (_meshlens_v1_NodeIdentity | null);
  /**
   * Monotonic per-agent sequence number of this report, starting at 1.
   */
  'sequence'?: (number | string | Long);
  /**
   * Interval start, Unix epoch milliseconds.
   */
  'intervalStartUnixMs'?: (number | string | Long);
  /**
   * Interval end, Unix epoch milliseconds.
   */
  'intervalEndUnixMs'?: (number | string | Long);
  /**
   * Per-flow counters that changed in the interval (flows with no activity are omitted).
   */
  'flows'?: (_meshlens_v1_FlowEntry)[];
  /**
   * Updates the kernel could not record because the flow map was full (delta for the interval).
   */
  'mapFullDrops'?: (number | string | Long);
  /**
   * Flows evicted from the LRU map before their counters were reported (delta for the interval).
   */
  'evictedFlows'?: (number | string | Long);
  /**
   * Connections currently established as seen by the collector (gauge at interval end).
   */
  'activeConnections'?: (number | string | Long);
  /**
   * Gaps since the previous report.
   */
  'gaps'?: (_meshlens_v1_CollectionGap)[];
  /**
   * Kernel events the collector's programs were not run for in the interval (BPF recursion misses, e.g. a classic
   * tracepoint firing while another BPF program runs on that CPU); counts are low by up to this many events.
   */
  'missedEvents'?: (number | string | Long);
  /**
   * Proxy identity of every network namespace the collector watched with a proxy the agent knows of: those of this
   * report's flows and every other known one. A named namespace without flows had no retransmit and no state change
   * in the interval (the collector samples a flow only on those events). A namespace without an entry has no proxy
   * the agent knows of; its flows cannot be joined to requests.
   */
  'netnsIdentities'?: (_meshlens_v1_NetnsIdentity)[];
}

/**
 * One interval of kernel counters from one node agent.
 */
export interface KernelReport__Output {
  /**
   * Who reports.
   */
  'node': (_meshlens_v1_NodeIdentity__Output | null);
  /**
   * Monotonic per-agent sequence number of this report, starting at 1.
   */
  'sequence': (string);
  /**
   * Interval start, Unix epoch milliseconds.
   */
  'intervalStartUnixMs': (string);
  /**
   * Interval end, Unix epoch milliseconds.
   */
  'intervalEndUnixMs': (string);
  /**
   * Per-flow counters that changed in the interval (flows with no activity are omitted).
   */
  'flows': (_meshlens_v1_FlowEntry__Output)[];
  /**
   * Updates the kernel could not record because the flow map was full (delta for the interval).
   */
  'mapFullDrops': (string);
  /**
   * Flows evicted from the LRU map before their counters were reported (delta for the interval).
   */
  'evictedFlows': (string);
  /**
   * Connections currently established as seen by the collector (gauge at interval end).
   */
  'activeConnections': (string);
  /**
   * Gaps since the previous report.
   */
  'gaps': (_meshlens_v1_CollectionGap__Output)[];
  /**
   * Kernel events the collector's programs were not run for in the interval (BPF recursion misses, e.g. a classic
   * tracepoint firing while another BPF program runs on that CPU); counts are low by up to this many events.
   */
  'missedEvents': (string);
  /**
   * Proxy identity of every network namespace the collector watched with a proxy the agent knows of: those of this
   * report's flows and every other known one. A named namespace without flows had no retransmit and no state change
   * in the interval (the collector samples a flow only on those events). A namespace without an entry has no proxy
   * the agent knows of; its flows cannot be joined to requests.
   */
  'netnsIdentities': (_meshlens_v1_NetnsIdentity__Output)[];
}
