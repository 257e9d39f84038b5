// Maps the host's context ids to root and stream contexts of this VM.
import { HttpContext } from "./http";
import { RootContext } from "./root";

const roots = new Map<u32, RootContext>();
const streams = new Map<u32, HttpContext>();
// Deleted stream contexts, reused by the next streams instead of allocating one per stream; bounded by the
// concurrency peak up to POOL_LIMIT.
const pool = new Array<HttpContext>();
const POOL_LIMIT: i32 = 64;

export function createContext(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(contextId, new RootContext(contextId));
    return;
  }
  // A stream whose root is unknown (cannot happen with a conforming host) gets an unconfigured root, so every
  // callback still passes through without trapping.
  const root = roots.has(parentId) ? roots.get(parentId) : new RootContext(parentId);
  streams.set(contextId, pool.length > 0 ? pool.pop().reuse(contextId, root) : new HttpContext(contextId, root));
}

export function rootContext(contextId: u32): RootContext | null {
  return roots.has(contextId) ? roots.get(contextId) : null;
}

export function httpContext(contextId: u32): HttpContext | null {
  return streams.has(contextId) ? streams.get(contextId) : null;
}

export function deleteContext(contextId: u32): void {
  if (streams.has(contextId)) {
    const stream = streams.get(contextId);
    streams.delete(contextId);
    if (pool.length < POOL_LIMIT) pool.push(stream);
  } else if (roots.has(contextId)) {
    roots.delete(contextId);
  }
}
