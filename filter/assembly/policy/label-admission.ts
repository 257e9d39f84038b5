// Process-wide admission of label values under a cap. Envoy runs one VM per worker (plus main), so a cap counted
// inside each VM would let through cap × VMs values; the bounded dimensions ask a LabelAdmission instead, once per
// value a VM has not decided yet, and keep the answer locally so repeat values cost nothing.

export enum Admission {
  Admitted = 0,
  // Final: caps never loosen and admitted sets never shrink, so a refused value stays refused; callers may cache it.
  Refused = 1,
  // Not decided (the shared store was contended or unavailable): fold this request, ask again next time.
  Deferred = 2,
}

export abstract class LabelAdmission {
  // Admits `value` into `namespace` while the weights admitted there plus `weight` stay within `cap` (a label value
  // weighs 1; a series weighs what it exports, see policy/request-metrics seriesWeight). The same (namespace, value)
  // gets the same answer in every VM sharing the registry.
  abstract admit(namespace: string, value: string, cap: i32, weight: i32): Admission;
}

// One registry per VM: the cap as seen by this VM alone. For pure-code tests, and the fallback when a host's shared
// data fails (contexts/shared-admission.ts).
export class LocalAdmission extends LabelAdmission {
  private namespaces: Map<string, Set<string>> = new Map<string, Set<string>>();
  private weights: Map<string, i32> = new Map<string, i32>();

  admit(namespace: string, value: string, cap: i32, weight: i32): Admission {
    let admitted: Set<string>;
    if (this.namespaces.has(namespace)) {
      admitted = this.namespaces.get(namespace);
    } else {
      admitted = new Set<string>();
      this.namespaces.set(namespace, admitted);
      this.weights.set(namespace, 0);
    }
    if (admitted.has(value)) return Admission.Admitted;
    const used = this.weights.get(namespace);
    if (used + weight > cap) return Admission.Refused;
    admitted.add(value);
    this.weights.set(namespace, used + weight);
    return Admission.Admitted;
  }
}

export const TENANT_NAMESPACE = "tenant";
export const CLUSTER_NAMESPACE = "cluster";

// The per-cluster path namespace; the cluster name is length-prefixed by the registry's key scheme, so any name is safe.
export function pathNamespace(cluster: string): string {
  return "path:" + cluster;
}
