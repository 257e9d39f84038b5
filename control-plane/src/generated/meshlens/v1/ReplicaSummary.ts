// Original file: protos/meshlens/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One control-plane replica's rollout totals, as it last published them (every second, under a 5 s etcd lease).
 */
export interface ReplicaSummary {
  /**
   * The replica: "<host>:<gRPC port>" ("local" on SQLite).
   */
  'replica'?: (string);
  /**
   * The snapshot version it serves.
   */
  'snapshotVersion'?: (string);
  /**
   * Rows connected to it.
   */
  'connected'?: (number);
  /**
   * Connected rows that acknowledged its snapshot.
   */
  'converged'?: (number);
  /**
   * Rows it holds, connected or within the disconnect grace.
   */
  'total'?: (number);
  /**
   * When it published these totals.
   */
  'updatedAtUnixMs'?: (number | string | Long);
  /**
   * Where the other replicas forward telemetry to it ("host:port", --advertise-address); empty from older replicas.
   */
  'advertiseAddress'?: (string);
  /**
   * When its process started (a restart shows as a new value); 0 from older replicas.
   */
  'startedAtUnixMs'?: (number | string | Long);
}

/**
 * One control-plane replica's rollout totals, as it last published them (every second, under a 5 s etcd lease).
 */
export interface ReplicaSummary__Output {
  /**
   * The replica: "<host>:<gRPC port>" ("local" on SQLite).
   */
  'replica': (string);
  /**
   * The snapshot version it serves.
   */
  'snapshotVersion': (string);
  /**
   * Rows connected to it.
   */
  'connected': (number);
  /**
   * Connected rows that acknowledged its snapshot.
   */
  'converged': (number);
  /**
   * Rows it holds, connected or within the disconnect grace.
   */
  'total': (number);
  /**
   * When it published these totals.
   */
  'updatedAtUnixMs': (string);
  /**
   * Where the other replicas forward telemetry to it ("host:port", --advertise-address); empty from older replicas.
   */
  'advertiseAddress': (string);
  /**
   * When its process started (a restart shows as a new value); 0 from older replicas.
   */
  'startedAtUnixMs': (string);
}
