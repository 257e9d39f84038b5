// Maps the host's context ids to root and stream contexts of this VM.
import { HttpContext } from "./http";
import { RootContext } from "./root";

const roots = new Map<u32, RootContext>();
// Live streams, found without hashing on every callback: the host hands out context ids in sequence, so the live
// ones spread over the slots by their low bits, and a slot whose stream's id differs means "not there". The rare id
// whose slot is taken by another live stream (one that outlived STREAM_SLOTS later ones) goes to `crowded`.
const STREAM_SLOTS: u32 = 256; // power of two
const slots = new StaticArray<HttpContext | null>(<i32>STREAM_SLOTS);
const crowded = new Map<u32, HttpContext>();
// Deleted stream contexts, reused by the next streams instead of allocating one per stream; bounded by the
// concurrency peak up to POOL_LIMIT.
const pool = new Array<HttpContext>();
const POOL_LIMIT: i32 = 64;

function slotOf(contextId: u32): i32 {
  return <i32>(contextId & (STREAM_SLOTS - 1));
}

export function createContext(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(contextId, new RootContext(contextId));
    return;
  }
  // A stream whose root is unknown (cannot happen with a conforming host) gets an unconfigured root, so every
  // callback still passes through without trapping.
  const root = roots.has(parentId) ? roots.get(parentId) : new RootContext(parentId);
  // An id created twice (a non-conforming host) replaces its stream, wherever that lives.
  removeStream(contextId);
  const stream = pool.length > 0 ? pool.pop().reuse(contextId, root) : new HttpContext(contextId, root);
  const slot = slotOf(contextId);
  if (unchecked(slots[slot]) === null) unchecked(slots[slot] = stream);
  else crowded.set(contextId, stream);
}

export function rootContext(contextId: u32): RootContext | null {
  return roots.has(contextId) ? roots.get(contextId) : null;
}

export function httpContext(contextId: u32): HttpContext | null {
  const stream = unchecked(slots[slotOf(contextId)]);
  if (stream !== null && stream.id == contextId) return stream;
  return crowded.size > 0 && crowded.has(contextId) ? crowded.get(contextId) : null;
}

// The stream with this id, taken out of the registry; null when there is none.
function removeStream(contextId: u32): HttpContext | null {
  const slot = slotOf(contextId);
  const stream = unchecked(slots[slot]);
  if (stream !== null && stream.id == contextId) {
    unchecked(slots[slot] = null);
    return stream;
  }
  if (crowded.size == 0 || !crowded.has(contextId)) return null;
  const found = crowded.get(contextId);
  crowded.delete(contextId);
  return found;
}

export function deleteContext(contextId: u32): void {
  const stream = removeStream(contextId);
  if (stream !== null) {
    if (pool.length < POOL_LIMIT) pool.push(stream);
  } else if (roots.has(contextId)) {
    roots.delete(contextId);
  }
}
