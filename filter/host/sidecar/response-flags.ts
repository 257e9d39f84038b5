// Envoy's %RESPONSE_FLAGS% short codes. The order is Envoy's (stream_info ResponseFlagUtils), which is also the
// order of the legacy bitmask, so a set of flags always prints the way Envoy's access log prints it ("UF,URX").
export const ENVOY_RESPONSE_FLAGS = [
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH',
  'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF',
] as const;

export type ResponseFlag = (typeof ENVOY_RESPONSE_FLAGS)[number];

export class ResponseFlags {
  private readonly flags = new Set<ResponseFlag>();

  set(flag: ResponseFlag): void {
    this.flags.add(flag);
  }

  merge(other: ResponseFlags): void {
    for (const flag of other.flags) this.flags.add(flag);
  }

  has(flag: ResponseFlag): boolean {
    return this.flags.has(flag);
  }

  /** Envoy's text form; undefined when no flag is set (Envoy prints "-"). */
  format(): string | undefined {
    if (this.flags.size === 0) return undefined;
    return ENVOY_RESPONSE_FLAGS.filter((f) => this.flags.has(f)).join(',');
  }
}
