// One discovery stream per proxy: the VMs of one Envoy (main thread + one per worker) elect the holder of the stream
// through shared data, the holder publishes every snapshot it accepts, the others apply it from there, and the holder
// answers the control plane only once every live VM applied it (see lease.ts for the records and decisions).
//
// Envoy semantics this relies on (proxy-wasm-envoy.md §11; Envoy leaves shared data and queues to proxy-wasm-cpp-host,
// pinned at c4d7bb0 by envoy v1.33.0 and 65bb78f by v1.36.0, whose src/shared_data.cc and src/shared_queue.cc are the
// same in both; src/context.cc ContextBase::getSharedData / setSharedData / registerSharedQueue key them by the VM's
// vm_id and wake the registering root context): one store per vm_id for the whole process behind one
// mutex; set with a non-zero cas fails with CAS_MISMATCH if the key changed since that get; set of an absent key
// ignores the cas (so two VMs creating a key at once both succeed: every owner-only write below re-reads the key and
// checks the owner, so a VM that lost such a race notices on its next write and steps back); a queue wakes the root
// context that registered it last, on that VM's thread, through proxy_on_queue_ready; enqueue works from any thread.
//
// Keys (fixed set, see lease.ts): LEASE_KEY, HEAD_KEY (u32 sequence of the latest published snapshot), SNAPSHOT_KEY
// (u32 sequence + the DiscoveryResponse bytes as received), SLOT_KEY_PREFIX<i>, QUEUE_NAME_PREFIX<i> and
// REPORT_KEY_PREFIX<i> for i < MAX_VM_SLOTS.
import {
  drainSharedQueue, enqueueSharedQueue, getSharedData, HostStatus, log, LogLevel, registerSharedQueue, setSharedData,
} from "../abi/host";
import {
  AckVerdict, ackVerdict, clipReason, LeaseRecord, MAX_VM_SLOTS, SlotRecord,
} from "./lease";

const LEASE_KEY = "meshlens.control.v1|lease";
const HEAD_KEY = "meshlens.control.v1|head";
const SNAPSHOT_KEY = "meshlens.control.v1|snapshot";
const SLOT_KEY_PREFIX = "meshlens.control.v1|slot|";
const QUEUE_NAME_PREFIX = "meshlens.control.v1|wake|";
const REPORT_KEY_PREFIX = "meshlens.control.v1|report|";
const WAKE = new ArrayBuffer(1);
const MAX_CAS_ATTEMPTS: i32 = 8;
// Telemetry: a VM that does not hold the stream appends each closed window (an encoded TelemetryReport) to its
// slot's report key, at most this many bytes (then its windows are dropped and counted until the holder takes them);
// the holder takes every slot's windows once per report interval and sends one report for the proxy: the
// concatenation of the encoded reports, which protobuf parses as one message whose repeated entries are all of them
// (and whose scalar fields, the holder's own last, are the holder's). At most MAX_REPORT_BYTES per report, half the
// control plane's 4 MiB receive limit (control-plane/src/limits.ts maxReceiveMessageBytes).
export const MAX_STASH_BYTES: i32 = 512 * 1024;
export const MAX_REPORT_BYTES: i32 = 2 * 1024 * 1024;
// Stash header: u32 windows, u32 entries (both for drop counts), f64 start of the oldest window.
const STASH_HEADER: i32 = 16;

// What the holder took from the other VMs for one report.
export class CollectedReports {
  bytes: ArrayBuffer = new ArrayBuffer(0);
  windows: i32 = 0;
  entries: i32 = 0;
  oldestStartMs: f64 = Infinity;
}

export class PublishedSnapshot {
  constructor(public seq: u32, public bytes: Uint8Array) {}
}

export class ProxyShare {
  // This VM's slot (-1 until claimed) and the queue that wakes it.
  slot: i32 = -1;
  queue: u32 = 0;
  holding: bool = false;
  // The last published snapshot this VM applied or refused, and the outcome its slot reports.
  followedSeq: u32 = 0;
  private applied: u32 = 0;
  private rejected: u32 = 0;
  private reason: string = "";
  private noSlotLogged: bool = false;

  // This VM's id in the lease and its slot: random and non-zero, drawn when its session starts (0 until then: such a
  // VM claims nothing). Not the VM's sequence number: two VMs creating the sequence key at once may draw the same one.
  owner: u32 = 0;
  // How logs and NACK reasons name this VM ("vm_<sequence>").
  name: string = "";

  constructor(public readonly leaseMs: f64) {}

  // Writes this VM's slot record (heartbeat and outcome), claiming a slot first when it has none or lost it.
  heartbeat(nowMs: f64): void {
    if (this.owner == 0) return;
    if (this.slot >= 0) {
      const key = SLOT_KEY_PREFIX + this.slot.toString();
      const current = getSharedData(key);
      if (current.status == HostStatus.Ok && SlotRecord.decode(current.data).owner == this.owner &&
          setSharedData(key, this.record(nowMs), current.cas) == HostStatus.Ok) return;
      this.slot = -1;                                       // taken over (we stopped long enough) or lost a race
    }
    this.claim(nowMs);
  }

  private record(nowMs: f64): ArrayBuffer {
    const slot = new SlotRecord();
    slot.owner = this.owner;
    slot.queue = this.queue;
    slot.heartbeatMs = nowMs;
    slot.applied = this.applied;
    slot.rejected = this.rejected;
    slot.reason = this.reason;
    return slot.encode();
  }

  // Slots are claimed lowest first, so the existing keys are always a prefix 0..k: readers stop at the first absent.
  private claim(nowMs: f64): void {
    for (let i = 0; i < MAX_VM_SLOTS; i++) {
      const key = SLOT_KEY_PREFIX + i.toString();
      let current = getSharedData(key);
      if (current.status == HostStatus.NotFound) {
        // Created free first, then claimed with a cas: creation ignores the cas, a claim does not.
        setSharedData(key, new SlotRecord().encode(), 0);
        current = getSharedData(key);
      }
      if (current.status != HostStatus.Ok) break;
      const record = SlotRecord.decode(current.data);
      if (record.owner != this.owner && record.live(nowMs, this.leaseMs)) continue;
      const queue = registerSharedQueue(QUEUE_NAME_PREFIX + i.toString());
      const previous = this.queue;
      this.queue = queue;
      if (setSharedData(key, this.record(nowMs), current.cas) == HostStatus.Ok) {
        this.slot = i;
        // A reused slot's queue may hold wake-ups meant for its previous VM.
        if (queue != 0) drainSharedQueue(queue);
        return;
      }
      this.queue = previous;
    }
    if (!this.noSlotLogged) {
      this.noSlotLogged = true;
      log(LogLevel.Warn, "meshlens discovery: no free VM slot (at most " + MAX_VM_SLOTS.toString() +
        " VMs per proxy); this VM follows the proxy's policy without holding the stream or being waited for");
    }
  }

  // Renews the lease when this VM holds it, takes it when it lapsed; returns whether this VM holds the stream.
  updateLease(nowMs: f64): bool {
    if (this.slot < 0) {
      this.holding = false;
      return false;
    }
    let current = getSharedData(LEASE_KEY);
    if (current.status == HostStatus.NotFound) {
      setSharedData(LEASE_KEY, new LeaseRecord().encode(), 0);
      current = getSharedData(LEASE_KEY);
    }
    if (current.status != HostStatus.Ok) {
      this.holding = false;
      return false;
    }
    const lease = LeaseRecord.decode(current.data);
    if (lease.owner != this.owner && !lease.lapsed(nowMs)) {
      this.holding = false;
      return false;
    }
    const next = new LeaseRecord();
    next.owner = this.owner;
    next.queue = this.queue;
    next.expiresMs = nowMs + this.leaseMs;
    this.holding = setSharedData(LEASE_KEY, next.encode(), current.cas) == HostStatus.Ok;
    return this.holding;
  }

  headSeq(): u32 {
    const head = getSharedData(HEAD_KEY);
    const data = head.data;
    return head.status == HostStatus.Ok && data !== null && data.byteLength == 4 ? load<u32>(changetype<usize>(data)) : 0;
  }

  // The latest published snapshot, or null when none was published yet.
  snapshot(): PublishedSnapshot | null {
    const current = getSharedData(SNAPSHOT_KEY);
    const data = current.data;
    if (current.status != HostStatus.Ok || data === null || data.byteLength < 4) return null;
    return new PublishedSnapshot(load<u32>(changetype<usize>(data)), Uint8Array.wrap(data, 4, data.byteLength - 4));
  }

  // Holder: makes `response` (DiscoveryResponse bytes it applied) the proxy's snapshot; returns its sequence
  // number. The body is written before the head, so a VM that sees the new head finds at least that body.
  publish(response: ArrayBuffer, nowMs: f64): u32 {
    const seq = this.headSeq() + 1;
    const body = new ArrayBuffer(4 + response.byteLength);
    store<u32>(changetype<usize>(body), seq);
    memory.copy(changetype<usize>(body) + 4, changetype<usize>(response), <usize>response.byteLength);
    setSharedData(SNAPSHOT_KEY, body, 0);
    const head = new ArrayBuffer(4);
    store<u32>(changetype<usize>(head), seq);
    setSharedData(HEAD_KEY, head, 0);
    this.followed(seq, "", nowMs);
    this.wakeOthers(nowMs);
    return seq;
  }

  // This VM's outcome for snapshot `seq` ("" = applied), for its slot.
  noteFollowed(seq: u32, error: string): void {
    this.followedSeq = seq;
    if (error.length == 0) this.applied = seq;
    else {
      this.rejected = seq;
      this.reason = clipReason(this.name + ": " + error);
    }
  }

  // Records this VM's outcome for snapshot `seq` in its slot, and wakes the holder.
  followed(seq: u32, error: string, nowMs: f64): void {
    this.noteFollowed(seq, error);
    this.heartbeat(nowMs);
    if (!this.holding) {
      const lease = LeaseRecord.decode(getSharedData(LEASE_KEY).data);
      if (lease.queue != 0 && lease.queue != this.queue) enqueueSharedQueue(lease.queue, WAKE);
    }
  }

  // Every existing slot record, in slot order (the prefix of existing keys).
  slots(): Array<SlotRecord> {
    const out = new Array<SlotRecord>();
    for (let i = 0; i < MAX_VM_SLOTS; i++) {
      const current = getSharedData(SLOT_KEY_PREFIX + i.toString());
      if (current.status != HostStatus.Ok) break;
      out.push(SlotRecord.decode(current.data));
    }
    return out;
  }

  verdict(seq: u32, nowMs: f64): AckVerdict {
    return ackVerdict(this.slots(), seq, nowMs, this.leaseMs);
  }

  // Wakes every other live VM (one item per publish in each live VM's queue; a queue whose VM died holds at most the
  // items of one lease until the VM that reuses its slot drains it).
  private wakeOthers(nowMs: f64): void {
    const slots = this.slots();
    for (let i = 0; i < slots.length; i++) {
      const slot = unchecked(slots[i]);
      if (slot.owner != this.owner && slot.queue != 0 && slot.live(nowMs, this.leaseMs)) enqueueSharedQueue(slot.queue, WAKE);
    }
  }

  owns(queueId: u32): bool {
    return queueId != 0 && queueId == this.queue;
  }

  // A VM that does not hold the stream hands a closed window to the holder; false when it must be dropped (no slot,
  // or the windows already waiting fill the stash).
  stashReport(report: ArrayBuffer, entries: i32, windowStartMs: f64): bool {
    if (this.slot < 0) return false;
    const key = REPORT_KEY_PREFIX + this.slot.toString();
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedData(key);
      const data = current.data;
      const held = current.status == HostStatus.Ok && data !== null && data.byteLength >= STASH_HEADER ? data.byteLength : 0;
      const length = (held > 0 ? held : STASH_HEADER) + report.byteLength;
      if (length > MAX_STASH_BYTES) return false;
      const out = new ArrayBuffer(length);
      const p = changetype<usize>(out);
      if (held > 0) {
        memory.copy(p, changetype<usize>(data), <usize>held);
        store<u32>(p, load<u32>(p) + 1);
        store<u32>(p + 4, load<u32>(p + 4) + <u32>entries);
      } else {
        store<u32>(p, 1);
        store<u32>(p + 4, <u32>entries);
        store<f64>(p + 8, windowStartMs);
      }
      memory.copy(p + <usize>(length - report.byteLength), changetype<usize>(report), <usize>report.byteLength);
      // The key is only ever created here, by this slot's VM: creating it with cas 0 races with nobody.
      const status = setSharedData(key, out, current.status == HostStatus.Ok ? current.cas : 0);
      if (status == HostStatus.Ok) return true;
      if (status != HostStatus.CasMismatch) return false;
    }
    return false;
  }

  // Holder: takes every VM's waiting windows (each slot's stash is emptied with a cas, so a window is taken once),
  // up to `budget` bytes; what does not fit waits for the next report.
  collectReports(budget: i32): CollectedReports {
    const out = new CollectedReports();
    const parts = new Array<ArrayBuffer>();
    let total: i32 = 0;
    for (let i = 0; i < MAX_VM_SLOTS; i++) {
      const key = REPORT_KEY_PREFIX + i.toString();
      const current = getSharedData(key);
      if (current.status == HostStatus.NotFound) {
        if (getSharedData(SLOT_KEY_PREFIX + i.toString()).status != HostStatus.Ok) break;
        continue;
      }
      const data = current.data;
      if (current.status != HostStatus.Ok || data === null || data.byteLength <= STASH_HEADER) continue;
      if (total + data.byteLength - STASH_HEADER > budget) continue;
      if (setSharedData(key, new ArrayBuffer(0), current.cas) != HostStatus.Ok) continue;
      const p = changetype<usize>(data);
      out.windows += <i32>load<u32>(p);
      out.entries += <i32>load<u32>(p + 4);
      const start = load<f64>(p + 8);
      if (start < out.oldestStartMs) out.oldestStartMs = start;
      parts.push(data);
      total += data.byteLength - STASH_HEADER;
    }
    const bytes = new ArrayBuffer(total);
    let at: usize = changetype<usize>(bytes);
    for (let i = 0; i < parts.length; i++) {
      const part = unchecked(parts[i]);
      const length = <usize>(part.byteLength - STASH_HEADER);
      memory.copy(at, changetype<usize>(part) + <usize>STASH_HEADER, length);
      at += length;
    }
    out.bytes = bytes;
    return out;
  }
}
