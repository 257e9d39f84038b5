// proxy_on_grpc_* and proxy_on_queue_ready land here from abi/exports.ts. Envoy delivers every call-out callback to the root context that
// made the call (proxy-wasm-envoy.md §9), and only the control-plane session makes gRPC calls.
import { rootContext } from "../contexts/registry";
import { nowMs } from "../resilience/filter-glue";
import { ControlSession } from "./session";

function sessionOf(rootId: u32): ControlSession | null {
  const root = rootContext(rootId);
  return root === null ? null : root.control;
}

export function onGrpcReceive(rootId: u32, token: u32, size: u32): void {
  const session = sessionOf(rootId);
  if (session !== null) session.onGrpcReceive(token, size, nowMs());
}

export function onGrpcClose(rootId: u32, token: u32, grpcStatus: u32): void {
  const session = sessionOf(rootId);
  if (session !== null) session.onGrpcClose(token, grpcStatus, nowMs());
}

// proxy_on_queue_ready: the proxy's VMs wake each other when a snapshot is published or applied (proxy-share.ts).
export function onQueueReady(rootId: u32, queueId: u32): void {
  const session = sessionOf(rootId);
  if (session !== null) session.onQueueReady(queueId, nowMs());
}
