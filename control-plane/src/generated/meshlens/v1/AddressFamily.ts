// Original file: protos/meshlens/v1/kernel.proto

/**
 * Address family of a flow.
 */
export const AddressFamily = {
  /**
   * Not set.
   */
  ADDRESS_FAMILY_UNSPECIFIED: 'ADDRESS_FAMILY_UNSPECIFIED',
  /**
   * AF_INET.
   */
  ADDRESS_FAMILY_IPV4: 'ADDRESS_FAMILY_IPV4',
  /**
   * AF_INET6 (IPv4-mapped IPv6 addresses are kept as the kernel reports them).
   */
  ADDRESS_FAMILY_IPV6: 'ADDRESS_FAMILY_IPV6',
} as const;

/**
 * Address family of a flow.
 */
export type AddressFamily =
  /**
   * Not set.
   */
  | 'ADDRESS_FAMILY_UNSPECIFIED'
  | 0
  /**
   * AF_INET.
   */
  | 'ADDRESS_FAMILY_IPV4'
  | 1
  /**
   * AF_INET6 (IPv4-mapped IPv6 addresses are kept as the kernel reports them).
   */
  | 'ADDRESS_FAMILY_IPV6'
  | 2

/**
 * Address family of a flow.
 */
export type AddressFamily__Output = typeof AddressFamily[keyof typeof AddressFamily]
