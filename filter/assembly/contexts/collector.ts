// When garbage is collected. The module is built with AssemblyScript's minimal runtime: allocation is plain TLSF
// with no incremental marking work on every allocation (which cost more than half of the per-request time), and
// collection happens only when this module asks for it. Envoy never calls __collect, so we do, at points where no
// managed reference lives only on the wasm stack: after a stream is deleted and at the end of each tick.

// Garbage per stream is a few kilobytes (labels, resilience scopes, header copies), so this bounds the uncollected
// heap to about a megabyte per VM; a collection walks only the live heap.
const STREAMS_PER_COLLECTION: i32 = 256;

let streamsSinceCollection: i32 = 0;

export function streamFinished(): void {
  streamsSinceCollection++;
  if (streamsSinceCollection >= STREAMS_PER_COLLECTION) collectNow();
}

// Ticks allocate too (shared-data merges, reports); an idle proxy must not grow.
export function tickFinished(): void {
  collectNow();
}

function collectNow(): void {
  streamsSinceCollection = 0;
  __collect();
}
