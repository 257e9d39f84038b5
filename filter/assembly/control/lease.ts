// The records the VMs of one proxy keep in shared data to share one discovery stream, and the decisions made on
// them: who holds the stream (a lease), which VMs count as live, and whether every live VM applied a snapshot.
// Pure: no host calls; time is passed in (milliseconds of the host clock, the same clock in every VM of a process).
//
// Envoy gives a filter VM no thread id and no way to enumerate its siblings, so each VM claims one of MAX_VM_SLOTS
// slot records and heartbeats it on every tick; a slot whose heartbeat is older than the lease is free again (a VM
// that trapped, or was replaced under FAIL_RELOAD, stops ticking). Shared data has no delete (proxy-wasm ABI 0.2.1;
// proxy-wasm-cpp-host 65bb78f src/shared_data.cc, the host Envoy v1.36.0 63ee0dc79d pins in
// bazel/repository_locations.bzl), so the keys are a fixed set: one lease, one head, one snapshot, and per slot a
// record and a wake-up queue, whatever the number of VMs that come and go.

export const MAX_VM_SLOTS: i32 = 128;
// A rejection reason copied into a slot (and from there into a NACK) is cut to this many UTF-16 units.
export const MAX_REASON_LENGTH: i32 = 256;
// The lease covers this many ticks of its holder (and never less than LEASE_FLOOR_MS): a holder whose worker is
// busy for a few ticks keeps the stream, one that stopped ticking loses it after at most the lease.
export const LEASE_TICKS: f64 = 5;
export const LEASE_FLOOR_MS: f64 = 1000;

export function leaseMsFor(tickMs: i32): f64 {
  const lease = <f64>tickMs * LEASE_TICKS;
  return lease < LEASE_FLOOR_MS ? LEASE_FLOOR_MS : lease;
}

// Who holds the stream: `owner` is the holder's random non-zero id (0 = nobody),
// `queue` the shared queue that wakes it when a VM applied a snapshot.
export class LeaseRecord {
  owner: u32 = 0;
  queue: u32 = 0;
  expiresMs: f64 = 0;

  encode(): ArrayBuffer {
    const out = new ArrayBuffer(16);
    const p = changetype<usize>(out);
    store<u32>(p, this.owner);
    store<u32>(p + 4, this.queue);
    store<f64>(p + 8, this.expiresMs);
    return out;
  }

  static decode(data: ArrayBuffer | null): LeaseRecord {
    const lease = new LeaseRecord();
    if (data === null || data.byteLength != 16) return lease;
    const p = changetype<usize>(data);
    lease.owner = load<u32>(p);
    lease.queue = load<u32>(p + 4);
    lease.expiresMs = load<f64>(p + 8);
    return lease;
  }

  // Another VM may take the stream: nobody holds it, or the holder stopped renewing.
  lapsed(nowMs: f64): bool {
    return this.owner == 0 || nowMs > this.expiresMs;
  }
}

// One VM's slot: its heartbeat and the last published snapshot (by sequence number) it applied or refused, with the
// refusal's reason (already naming the VM).
export class SlotRecord {
  owner: u32 = 0;
  queue: u32 = 0;
  heartbeatMs: f64 = 0;
  applied: u32 = 0;
  rejected: u32 = 0;
  reason: string = "";

  encode(): ArrayBuffer {
    const reason = String.UTF8.encode(this.reason);
    const out = new ArrayBuffer(24 + reason.byteLength);
    const p = changetype<usize>(out);
    store<u32>(p, this.owner);
    store<u32>(p + 4, this.queue);
    store<f64>(p + 8, this.heartbeatMs);
    store<u32>(p + 16, this.applied);
    store<u32>(p + 20, this.rejected);
    memory.copy(p + 24, changetype<usize>(reason), <usize>reason.byteLength);
    return out;
  }

  static decode(data: ArrayBuffer | null): SlotRecord {
    const slot = new SlotRecord();
    if (data === null || data.byteLength < 24) return slot;
    const p = changetype<usize>(data);
    slot.owner = load<u32>(p);
    slot.queue = load<u32>(p + 4);
    slot.heartbeatMs = load<f64>(p + 8);
    slot.applied = load<u32>(p + 16);
    slot.rejected = load<u32>(p + 20);
    if (data.byteLength > 24) slot.reason = String.UTF8.decodeUnsafe(p + 24, <usize>(data.byteLength - 24));
    return slot;
  }

  live(nowMs: f64, leaseMs: f64): bool {
    return this.owner != 0 && nowMs - this.heartbeatMs <= leaseMs;
  }
}

export function clipReason(reason: string): string {
  return reason.length > MAX_REASON_LENGTH ? reason.substring(0, MAX_REASON_LENGTH) : reason;
}

export const VERDICT_WAITING: i32 = 0;
export const VERDICT_APPLIED: i32 = 1;
export const VERDICT_REJECTED: i32 = 2;

export class AckVerdict {
  constructor(public state: i32, public reason: string = "") {}
}

// Whether the proxy may answer for snapshot `seq`: REJECTED as soon as one live VM refused it (with that VM's
// reason), APPLIED when every live VM applied it (or a later one), else WAITING. A VM whose heartbeat lapsed is not
// waited for: it runs no requests any more.
export function ackVerdict(slots: Array<SlotRecord>, seq: u32, nowMs: f64, leaseMs: f64): AckVerdict {
  let waiting = false;
  for (let i = 0; i < slots.length; i++) {
    const slot = unchecked(slots[i]);
    if (!slot.live(nowMs, leaseMs)) continue;
    if (slot.rejected == seq && slot.applied < seq) {
      return new AckVerdict(VERDICT_REJECTED, slot.reason);
    }
    if (slot.applied < seq) waiting = true;
  }
  return new AckVerdict(waiting ? VERDICT_WAITING : VERDICT_APPLIED);
}
