// Defaults shared by the control plane and its CLI. Kept apart from server.ts so the CLI's client commands can read
// them without loading gRPC, SQLite and prom-client (hundreds of milliseconds of start-up per invocation).
export const DEFAULT_GRPC_PORT = 18000;
export const DEFAULT_HTTP_PORT = 18080;
export const DEFAULT_DATA_DIR = './.meshlens';
