// Tenant resolution and bounding. Pure: the caller hands in header values.
//
// Decisions:
// - Headers are tried in configured order; the first header that is present decides (a present-but-invalid
//   header yields "unknown" rather than falling through, so a client cannot pick its tenant by sending junk first).
// - Tenants are lower-cased: "Acme" and "acme" are the same tenant and the same series.
// - Valid characters are [A-Za-z0-9._-], length 1..maxLength; anything else is "unknown".
// - With an allow-list, tenants outside it are "~other". Without one, the first maxTenants distinct tenants seen
//   by this VM keep their name and later ones are "~other" (each worker VM decides on its own, so the process-wide
//   bound is maxTenants × VMs; an allow-list gives the same set everywhere).
import { OVERFLOW_LABEL, UNKNOWN_LABEL } from "./labels";

export function isTenantChar(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c == 0x2e || c == 0x5f || c == 0x2d;
}

// Null when `raw` is not a valid tenant id; otherwise its lower-cased form.
export function normalizeTenant(raw: string, maxLength: i32): string | null {
  const length = raw.length;
  if (length == 0 || length > maxLength) return null;
  let hasUpper = false;
  for (let i = 0; i < length; i++) {
    const c = raw.charCodeAt(i);
    if (!isTenantChar(c)) return null;
    if (c >= 0x41 && c <= 0x5a) hasUpper = true;
  }
  return hasUpper ? raw.toLowerCase() : raw;
}

export class TenantBounds {
  constructor(
    public readonly maxLength: i32,
    public readonly maxTenants: i32,
    // Lower-cased; null means "no allow-list".
    public readonly allowed: Set<string> | null,
  ) {}
}

export class TenantResolver {
  private seen: Set<string> = new Set<string>();

  constructor(private bounds: TenantBounds) {}

  get distinctTenants(): i32 {
    return this.seen.size;
  }

  // `headerValues` holds, in configured order, the value of each tenant header or null when absent.
  resolve(headerValues: Array<string | null>): string {
    for (let i = 0; i < headerValues.length; i++) {
      const raw = headerValues[i];
      if (raw === null) continue;
      return this.bound(raw);
    }
    return UNKNOWN_LABEL;
  }

  bound(raw: string): string {
    const tenant = normalizeTenant(raw, this.bounds.maxLength);
    if (tenant === null) return UNKNOWN_LABEL;
    const allowed = this.bounds.allowed;
    if (allowed !== null) return allowed.has(tenant) ? tenant : OVERFLOW_LABEL;
    if (this.seen.has(tenant)) return tenant;
    if (this.seen.size >= this.bounds.maxTenants) return OVERFLOW_LABEL;
    this.seen.add(tenant);
    return tenant;
  }
}
