// Original file: protos/meshlens/v1/discovery.proto


/**
 * Identity of one discovery stream: a proxy (worker "proxy"), or one filter VM of an older filter.
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
   * "proxy" for the proxy's one stream; an older filter names the VM that opened it ("vm_0", ...). Rollout status is
   * kept per (id, worker).
   */
  'worker'?: (string);
}

/**
 * Identity of one discovery stream: a proxy (worker "proxy"), or one filter VM of an older filter.
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
   * "proxy" for the proxy's one stream; an older filter names the VM that opened it ("vm_0", ...). Rollout status is
   * kept per (id, worker).
   */
  'worker': (string);
}
