// Original file: protos/meshlens/v1/kernel.proto

/**
 * How the agent learned which proxy lives in a network namespace.
 */
export const IdentitySource = {
  /**
   * Not set.
   */
  IDENTITY_SOURCE_UNSPECIFIED: 'IDENTITY_SOURCE_UNSPECIFIED',
  /**
   * Operator-configured mapping (agent flag --netns-identity INODE=NODE_ID).
   */
  IDENTITY_SOURCE_CONFIG: 'IDENTITY_SOURCE_CONFIG',
  /**
   * MESHLENS_NODE_ID in the environment of a process living in the namespace (the Node sidecar, or an operator's
   * explicit setting on istio-proxy).
   */
  IDENTITY_SOURCE_ENV_NODE_ID: 'IDENTITY_SOURCE_ENV_NODE_ID',
  /**
   * Istio's pilot-agent environment of a process in the namespace (INSTANCE_IP, POD_NAME, POD_NAMESPACE), from which
   * the agent rebuilds the sidecar node id "sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local".
   */
  IDENTITY_SOURCE_ENV_ISTIO: 'IDENTITY_SOURCE_ENV_ISTIO',
} as const;

/**
 * How the agent learned which proxy lives in a network namespace.
 */
export type IdentitySource =
  /**
   * Not set.
   */
  | 'IDENTITY_SOURCE_UNSPECIFIED'
  | 0
  /**
   * Operator-configured mapping (agent flag --netns-identity INODE=NODE_ID).
   */
  | 'IDENTITY_SOURCE_CONFIG'
  | 1
  /**
   * MESHLENS_NODE_ID in the environment of a process living in the namespace (the Node sidecar, or an operator's
   * explicit setting on istio-proxy).
   */
  | 'IDENTITY_SOURCE_ENV_NODE_ID'
  | 2
  /**
   * Istio's pilot-agent environment of a process in the namespace (INSTANCE_IP, POD_NAME, POD_NAMESPACE), from which
   * the agent rebuilds the sidecar node id "sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local".
   */
  | 'IDENTITY_SOURCE_ENV_ISTIO'
  | 3

/**
 * How the agent learned which proxy lives in a network namespace.
 */
export type IdentitySource__Output = typeof IdentitySource[keyof typeof IdentitySource]
