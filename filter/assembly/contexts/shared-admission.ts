// LabelAdmission over Envoy shared data, so a label cap holds for the process rather than for each worker VM.
//
// Proxy-wasm shared data has no delete (ABI 0.2.1 proxy_set_shared_data only; Envoy's SharedData map only grows), so
// every key written stays for the life of the process. The keys are therefore a fixed set, whatever the traffic:
//   meshlens.admit.<len>.<namespace>.count  u32 weight admitted so far, CAS-incremented while within the cap
//   meshlens.admit.slot.<i>                 i < ADMIT_SLOTS: the 64-bit hashes of the admitted (namespace, value)
//                                           pairs that fall into slot i, appended by CAS
// <len> is the namespace's length, so a namespace holding a cluster name cannot be mistaken for another's key; the
// namespaces are tenant, cluster, series and one per admitted cluster's paths (metrics.maxClusters), so the count
// keys are bounded by configuration and the slot keys by ADMIT_SLOTS. The slots' contents are bounded by the caps
// themselves (8 bytes per admitted value).
// A value is admitted if its hash is in its slot or the increment succeeds (then the hash is appended). Two values
// with the same 64-bit hash in the same namespace would share one admission: one value over a cap with odds of about
// n² / 2⁶⁵ (n admitted values), which no bound here notices. The count only grows, so once a VM has seen a namespace
// full it only reads slots (values admitted elsewhere stay honoured). Callers cache every final answer, so only
// values new to a VM get here.
//
// Races (Envoy runs workers in parallel; the store itself is one mutex): the very first increment creates the count
// key, and creation ignores the cas, so VMs creating it at once may each take slot 1 (overshoot ≤ VMs − 1, once).
// A VM reading a slot between another VM's increment and its append may refuse a value admitted there; both are
// one-off windows of two host calls.
//
// A host whose shared data fails outright (anything but Ok, NotFound, CasMismatch) gets VM-local caps from then on,
// logged once: per-VM bounds, still bounded, rather than every new value folded and re-asked per request.
import { getSharedData, HostStatus, log, LogLevel, setSharedData } from "../abi/host";
import { Admission, LabelAdmission, LocalAdmission } from "../policy/label-admission";

const KEY_PREFIX = "meshlens.admit.";
const MAX_CAS_ATTEMPTS: i32 = 8;
export const ADMIT_SLOTS: i32 = 256; // power of two

function u32Buffer(value: u32): ArrayBuffer {
  const buffer = new ArrayBuffer(4);
  store<u32>(changetype<usize>(buffer), value);
  return buffer;
}

// FNV-1a over the UTF-16 units of both strings with a separator no label value contains.
function fnv1a(hash: u64, text: string): u64 {
  const p = changetype<usize>(text);
  const units = text.length;
  for (let i = 0; i < units; i++) {
    hash ^= <u64>load<u16>(p + (<usize>i << 1));
    hash *= 0x100000001b3;
  }
  return hash;
}

export function admissionHash(namespace: string, value: string): u64 {
  let hash = fnv1a(0xcbf29ce484222325, namespace);
  hash ^= 0xffff;
  hash *= 0x100000001b3;
  hash = fnv1a(hash, value);
  // Never 0, so an all-zero buffer cannot look admitted.
  return hash == 0 ? 1 : hash;
}

function slotHolds(data: ArrayBuffer | null, hash: u64): bool {
  if (data === null) return false;
  const base = changetype<usize>(data);
  const entries = data.byteLength >> 3;
  for (let i = 0; i < entries; i++) {
    if (load<u64>(base + (<usize>i << 3)) == hash) return true;
  }
  return false;
}

function appended(data: ArrayBuffer | null, hash: u64): ArrayBuffer {
  const length = data === null ? 0 : (data.byteLength & ~7);
  const out = new ArrayBuffer(length + 8);
  if (data !== null) memory.copy(changetype<usize>(out), changetype<usize>(data), <usize>length);
  store<u64>(changetype<usize>(out) + <usize>length, hash);
  return out;
}

const SLOT_KEYS: Array<string> = new Array<string>(ADMIT_SLOTS);

function slotKey(hash: u64): string {
  const index = <i32>((hash ^ (hash >> 32)) & <u64>(ADMIT_SLOTS - 1));
  let key = unchecked(SLOT_KEYS[index]);
  if (changetype<usize>(key) == 0) {
    key = KEY_PREFIX + "slot." + index.toString();
    unchecked(SLOT_KEYS[index] = key);
  }
  return key;
}

export class SharedAdmission extends LabelAdmission {
  // Namespaces this VM has seen at their cap (caps never loosen within a configuration).
  private full: Set<string> = new Set<string>();
  private fallback: LocalAdmission | null = null;

  admit(namespace: string, value: string, cap: i32, weight: i32): Admission {
    const fallback = this.fallback;
    if (fallback !== null) return fallback.admit(namespace, value, cap, weight);
    const hash = admissionHash(namespace, value);
    const key = slotKey(hash);
    const slot = getSharedData(key);
    if (slot.status == HostStatus.Ok && slotHolds(slot.data, hash)) return Admission.Admitted;
    if (this.full.has(namespace)) return Admission.Refused;
    const countKey = KEY_PREFIX + namespace.length.toString() + "." + namespace + ".count";
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedData(countKey);
      let count: u32 = 0;
      const data = current.data;
      if (current.status == HostStatus.Ok && data !== null && data.byteLength == 4) {
        count = load<u32>(changetype<usize>(data));
      } else if (current.status != HostStatus.NotFound) {
        return this.degrade(current.status, namespace, value, cap, weight);
      }
      if (count >= <u32>cap) this.full.add(namespace);
      // A heavier value may not fit where a lighter one still does: only a count at the cap is final for all.
      if (<u64>count + <u64>weight > <u64>cap) return Admission.Refused;
      const status = setSharedData(countKey, u32Buffer(count + <u32>weight), current.status == HostStatus.Ok ? current.cas : 0);
      if (status == HostStatus.Ok) {
        this.append(key, hash, slot.status == HostStatus.Ok ? slot.data : null, slot.status == HostStatus.Ok ? slot.cas : 0);
        return Admission.Admitted;
      }
      if (status != HostStatus.CasMismatch) return this.degrade(status, namespace, value, cap, weight);
    }
    return Admission.Deferred;
  }

  // Without the hash the weight stays taken but the value is never honoured elsewhere: safe, just wasteful.
  private append(key: string, hash: u64, data: ArrayBuffer | null, cas: u32): void {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const status = setSharedData(key, appended(data, hash), cas);
      if (status != HostStatus.CasMismatch) return;
      const again = getSharedData(key);
      if (again.status != HostStatus.Ok) return;
      if (slotHolds(again.data, hash)) return;
      data = again.data;
      cas = again.cas;
    }
  }

  private degrade(status: HostStatus, namespace: string, value: string, cap: i32, weight: i32): Admission {
    log(LogLevel.Warn, "shared data unavailable (status " + (<i32>status).toString() +
      "): label caps (tenant.maxTenants, paths.maxPerCluster, metrics.maxClusters, metrics.maxSeries) now hold per VM");
    const fallback = new LocalAdmission();
    this.fallback = fallback;
    return fallback.admit(namespace, value, cap, weight);
  }
}
