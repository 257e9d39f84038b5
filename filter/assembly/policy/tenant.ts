// Tenant resolution and bounding. Pure: the caller hands in header values.
//
// Decisions:
// - Headers are tried in configured order; the first header that is present decides (a present-but-invalid
//   header yields "unknown" rather than falling through, so a client cannot pick its tenant by sending junk first).
// - Tenants are lower-cased: "Acme" and "acme" are the same tenant and the same series.
// - Valid characters are [A-Za-z0-9._-], length 1..maxLength; anything else is "unknown".
// - With an allow-list, tenants outside it are "~other". Without one, the first maxTenants distinct tenants seen
//   by the whole process keep their name and later ones are "~other": admission goes through the injected
//   LabelAdmission (shared data across Envoy's per-worker VMs), so every VM maps a tenant to the same label and the
//   bound is maxTenants whatever the worker count. Each VM remembers its answers, so only a tenant new to that VM
//   reaches the registry.
import { Admission, LabelAdmission, LocalAdmission, TENANT_NAMESPACE } from "./label-admission";
import { OVERFLOW_LABEL, UNKNOWN_LABEL } from "./labels";
import { codeUnitAt } from "../text";

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
    const c = codeUnitAt(raw, i);
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

const TENANT_MEMO_SLOTS: i32 = 64; // power of two
const REFUSED_LIMIT: i32 = 256;

export class TenantResolver {
  // Tenant → the first string object seen for it: every later stream of the tenant gets that same object, so
  // identity-keyed caches downstream (resilience scopes, metric ids) hit. Bounded by maxTenants or the allow-list.
  private seen: Map<string, string> = new Map<string, string>();
  // Tenants the registry refused (final); repeats not caught by the identity memo skip the registry. Cleared when full.
  private refused: Set<string> = new Set<string>();
  // Set by resolveRaw when the registry could not decide: that answer must not be memoized.
  private deferred: bool = false;

  constructor(private bounds: TenantBounds, private admission: LabelAdmission = new LocalAdmission()) {}

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

  // The contexts pass interned header values, so the same raw value usually arrives as the same object; its
  // resolution never changes once made (admitted sets only grow, refusals are final, the bounds are fixed), so it is
  // memoized by identity, unless the registry deferred. The slot holds `raw`, keeping its address from being reused
  // while it does.
  private memoRaw: StaticArray<string | null> = new StaticArray<string | null>(TENANT_MEMO_SLOTS);
  private memoTenant: StaticArray<string> = new StaticArray<string>(TENANT_MEMO_SLOTS);

  bound(raw: string): string {
    // Never a tenant (normalizeTenant), and not worth a memo slot: 64 slots of hostile 60 KB values held 7.5 MB.
    if (raw.length > this.bounds.maxLength) return UNKNOWN_LABEL;
    const slot = <i32>(((<u32>changetype<usize>(raw) * 0x9e3779b1) >> 24) & <u32>(TENANT_MEMO_SLOTS - 1));
    if (unchecked(this.memoRaw[slot]) === raw) return unchecked(this.memoTenant[slot]);
    this.deferred = false;
    const resolved = this.resolveRaw(raw);
    if (this.deferred) return resolved;
    unchecked(this.memoRaw[slot] = raw);
    unchecked(this.memoTenant[slot] = resolved);
    return resolved;
  }

  private resolveRaw(raw: string): string {
    const tenant = normalizeTenant(raw, this.bounds.maxLength);
    if (tenant === null) return UNKNOWN_LABEL;
    if (this.seen.has(tenant)) return this.seen.get(tenant);
    const allowed = this.bounds.allowed;
    if (allowed !== null) {
      if (!allowed.has(tenant)) return OVERFLOW_LABEL;
    } else {
      if (this.refused.has(tenant)) return OVERFLOW_LABEL;
      const verdict = this.admission.admit(TENANT_NAMESPACE, tenant, this.bounds.maxTenants, 1);
      if (verdict == Admission.Deferred) {
        this.deferred = true;
        return OVERFLOW_LABEL;
      }
      if (verdict == Admission.Refused) {
        if (this.refused.size >= REFUSED_LIMIT) this.refused.clear();
        this.refused.add(tenant);
        return OVERFLOW_LABEL;
      }
    }
    this.seen.set(tenant, tenant);
    return tenant;
  }
}
