// Process-wide shared data and shared queues (cpp-host shared_data.cc / shared_queue.cc): one store for the
// whole process, partitioned by vm_id, with one global CAS counter and one global queue-id counter.
import { WasmResult } from './abi-constants.ts';

interface Entry { value: Uint8Array; cas: number }
export interface QueueTarget { deliver(queueId: number): void }
interface Queue { vmId: string; name: string; items: Uint8Array[]; target: QueueTarget }

export class SharedData {
  private readonly partitions = new Map<string, Map<string, Entry>>();
  private readonly users = new Map<string, number>();
  private nextCas = 1;
  private readonly queues = new Map<number, Queue>();
  private readonly queueIds = new Map<string, number>();
  private nextQueueId = 1;

  /** A VM with this vm_id exists; data lives until the last one is released. */
  acquire(vmId: string): void { this.users.set(vmId, (this.users.get(vmId) ?? 0) + 1); }
  release(vmId: string): void {
    const n = (this.users.get(vmId) ?? 1) - 1;
    if (n > 0) { this.users.set(vmId, n); return; }
    this.users.delete(vmId);
    this.partitions.delete(vmId);
    for (const [id, q] of this.queues) {
      if (q.vmId === vmId) { this.queues.delete(id); this.queueIds.delete(`${vmId}\u0000${q.name}`); }
    }
  }

  get(vmId: string, key: string): Entry | undefined { return this.partitions.get(vmId)?.get(key); }

  /** Keys held for a vm_id (Envoy's store never deletes one), and their bytes. */
  usage(vmId: string): { keys: number; bytes: number } {
    const part = this.partitions.get(vmId);
    let bytes = 0;
    for (const [k, e] of part ?? []) bytes += k.length + e.value.byteLength;
    return { keys: part?.size ?? 0, bytes };
  }

  set(vmId: string, key: string, value: Uint8Array, cas: number): WasmResult {
    let part = this.partitions.get(vmId);
    if (!part) { part = new Map(); this.partitions.set(vmId, part); }
    const existing = part.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return WasmResult.CasMismatch;
    const next = this.nextCas++;
    if (this.nextCas > 0xffffffff) this.nextCas = 1;
    part.set(key, { value: value.slice(), cas: next });
    return WasmResult.Ok;
  }

  registerQueue(vmId: string, name: string, target: QueueTarget): number {
    const key = `${vmId}\u0000${name}`;
    let id = this.queueIds.get(key);
    if (id === undefined) {
      id = this.nextQueueId++;
      this.queueIds.set(key, id);
      this.queues.set(id, { vmId, name, items: [], target });
    } else {
      this.queues.get(id)!.target = target; // the last registrant is notified
    }
    return id;
  }
  resolveQueue(vmId: string, name: string): number | undefined { return this.queueIds.get(`${vmId}\u0000${name}`); }
  enqueue(id: number, value: Uint8Array): WasmResult {
    const q = this.queues.get(id);
    if (!q) return WasmResult.NotFound;
    q.items.push(value.slice());
    q.target.deliver(id);
    return WasmResult.Ok;
  }
  dequeue(id: number): Uint8Array | WasmResult {
    const q = this.queues.get(id);
    if (!q) return WasmResult.NotFound;
    return q.items.shift() ?? WasmResult.Empty;
  }
}

/** The one store of this process, as in Envoy. */
export const processSharedData = new SharedData();
