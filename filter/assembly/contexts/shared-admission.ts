// LabelAdmission over Envoy shared data, so a label cap holds for the process rather than for each worker VM.
//
// Keys (shared by every VM of the same vm_id):
//   meshlens.admit.<len>.<namespace>.count     u32 admitted so far, CAS-incremented while below the cap
//   meshlens.admit.<len>.<namespace>.v.<value> marker, present once the value is admitted
// <len> is the namespace's length, so a namespace holding a cluster name cannot be mistaken for another's key.
// A value is admitted if its marker exists or the increment succeeds (then the marker is written). The count only
// grows, so once a VM has seen a namespace full it only reads markers (values admitted elsewhere stay honoured).
// Callers cache every final answer, so only values new to a VM get here; values are already length- and
// charset-bounded, which bounds the keys.
//
// Races (Envoy runs workers in parallel; the store itself is one mutex): the very first increment creates the count
// key, and creation ignores the cas, so VMs creating it at once may each take slot 1 (overshoot ≤ VMs − 1, once).
// A VM reading a value's marker between another VM's increment and its marker write may refuse a value admitted
// there; both are one-off windows of two host calls.
//
// A host whose shared data fails outright (anything but Ok, NotFound, CasMismatch) gets VM-local caps from then on,
// logged once: per-VM bounds, still bounded, rather than every new value folded and re-asked per request.
import { getSharedData, HostStatus, log, LogLevel, setSharedData } from "../abi/host";
import { Admission, LabelAdmission, LocalAdmission } from "../policy/label-admission";

const KEY_PREFIX = "meshlens.admit.";
const MAX_CAS_ATTEMPTS: i32 = 8;

function u32Buffer(value: u32): ArrayBuffer {
  const buffer = new ArrayBuffer(4);
  store<u32>(changetype<usize>(buffer), value);
  return buffer;
}

export class SharedAdmission extends LabelAdmission {
  // Namespaces this VM has seen at their cap (caps never loosen within a configuration).
  private full: Set<string> = new Set<string>();
  private marker: ArrayBuffer = u32Buffer(1);
  private fallback: LocalAdmission | null = null;

  admit(namespace: string, value: string, cap: i32): Admission {
    const fallback = this.fallback;
    if (fallback !== null) return fallback.admit(namespace, value, cap);
    const base = KEY_PREFIX + namespace.length.toString() + "." + namespace;
    const markerKey = base + ".v." + value;
    if (getSharedData(markerKey).status == HostStatus.Ok) return Admission.Admitted;
    if (this.full.has(namespace)) return Admission.Refused;
    const countKey = base + ".count";
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedData(countKey);
      let count: u32 = 0;
      const data = current.data;
      if (current.status == HostStatus.Ok && data !== null && data.byteLength == 4) {
        count = load<u32>(changetype<usize>(data));
      } else if (current.status != HostStatus.NotFound) {
        return this.degrade(current.status, namespace, value, cap);
      }
      if (count >= <u32>cap) {
        this.full.add(namespace);
        return Admission.Refused;
      }
      const status = setSharedData(countKey, u32Buffer(count + 1), current.status == HostStatus.Ok ? current.cas : 0);
      if (status == HostStatus.Ok) {
        // Without the marker the slot stays taken but the value is never honoured elsewhere: safe, just wasteful.
        setSharedData(markerKey, this.marker, 0);
        return Admission.Admitted;
      }
      if (status != HostStatus.CasMismatch) return this.degrade(status, namespace, value, cap);
    }
    return Admission.Deferred;
  }

  private degrade(status: HostStatus, namespace: string, value: string, cap: i32): Admission {
    log(LogLevel.Warn, "shared data unavailable (status " + (<i32>status).toString() +
      "): label caps (tenant.maxTenants, paths.maxPerCluster, metrics.maxClusters, metrics.maxSeries) now hold per VM");
    const fallback = new LocalAdmission();
    this.fallback = fallback;
    return fallback.admit(namespace, value, cap);
  }
}
