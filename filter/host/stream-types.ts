// The request-level types shared by the plugin API, the VM and property encoding.
export interface StreamProps {
  cluster: string;                     // xds.cluster_name and legacy cluster_name
  routeName?: string;                  // xds.route_name
  protocol?: string;                   // request.protocol, default "HTTP/1.1"
  sourceAddress?: string;              // source.address "ip:port"
  destinationAddress?: string;         // destination.address "ip:port"
  connectionId?: number;               // connection_id
  listenerDirection?: 0 | 1 | 2;       // xds.listener_direction
}
export interface LocalReply { status: number; details: string; headers: [string, string][]; body: string; grpcStatus?: number }
export interface LogInfo {
  responseCode: number; responseFlags?: string; grpcStatus?: number;
  durationMs: number; upstreamAddress?: string; upstreamLocalAddress?: string; attemptCount?: number;
  responseHeaders?: [string, string][];
  responseTrailers?: [string, string][];
  upstreamTransportFailureReason?: string;
  requestBytes?: number; responseBytes?: number;
}
