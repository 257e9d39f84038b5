// Original file: protos/meshlens/v1/policy.proto


/**
 * What traffic a policy applies to.
 */
export interface PolicyTarget {
  /**
   * Envoy upstream cluster name, e.g. "outbound|8080||orders.default.svc.cluster.local"; "*" matches every cluster.
   */
  'cluster'?: (string);
  /**
   * Path template the policy is limited to (e.g. "/orders/{id}"); "*" means every path of the cluster.
   */
  'pathTemplate'?: (string);
  /**
   * When true the breaker and retry budget are kept per (cluster, tenant) instead of per cluster.
   */
  'perTenant'?: (boolean);
  '_cluster'?: "cluster";
  '_pathTemplate'?: "pathTemplate";
  '_perTenant'?: "perTenant";
}

/**
 * What traffic a policy applies to.
 */
export interface PolicyTarget__Output {
  /**
   * Envoy upstream cluster name, e.g. "outbound|8080||orders.default.svc.cluster.local"; "*" matches every cluster.
   */
  'cluster'?: (string);
  /**
   * Path template the policy is limited to (e.g. "/orders/{id}"); "*" means every path of the cluster.
   */
  'pathTemplate'?: (string);
  /**
   * When true the breaker and retry budget are kept per (cluster, tenant) instead of per cluster.
   */
  'perTenant'?: (boolean);
  '_cluster'?: "cluster";
  '_pathTemplate'?: "pathTemplate";
  '_perTenant'?: "perTenant";
}
