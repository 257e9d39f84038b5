// Original file: protos/meshlens/v1/discovery.proto


/**
 * Identity of one filter VM (one per Envoy worker thread, plus the main thread).
 */
export interface Node {
  /**
   * Proxy identity, Istio-style "sidecar~10.0.0.5~orders-7d9f.default~default.svc.cluster.local" or any stable id.
   */
  'id'?: (string);
  /**
   * The workload the proxy serves (e.g. "orders.default"), informational.
   */
  'cluster'?: (string);
  /**
   * Which VM of the proxy opened the stream ("main", "worker_0", ...); rollout status is kept per (id, worker).
   */
  'worker'?: (string);
}

/**
 * Identity of one filter VM (one per Envoy worker thread, plus the main thread).
 */
export interface Node__Output {
  /**
   * Proxy identity, Istio-style "sidecar~10.0.0.5~orders-7d9f.default~default.svc.cluster.local" or any stable id.
   */
  'id': (string);
  /**
   * The workload the proxy serves (e.g. "orders.default"), informational.
   */
  'cluster': (string);
  /**
   * Which VM of the proxy opened the stream ("main", "worker_0", ...); rollout status is kept per (id, worker).
   */
  'worker': (string);
}
