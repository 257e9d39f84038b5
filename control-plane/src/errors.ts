// Stable error codes of the control plane and the ONE mapping from them to gRPC and HTTP statuses. Every transport
// (gRPC services, HTTP admin API, CLI) reports failures through ControlPlaneError so a client sees the same code and
// message whichever way it asked.
import { status as GrpcStatus, type ServiceError, Metadata } from '@grpc/grpc-js';

export type ErrorCode =
  | 'INVALID_ARGUMENT'      // malformed or invalid input ("invalid <thing>: <field> must <rule>")
  | 'NOT_FOUND'             // unknown policy id or version
  | 'FAILED_PRECONDITION'   // optimistic-concurrency conflict: the expected version is stale
  | 'UNAUTHENTICATED'       // missing or wrong bearer token
  | 'PERMISSION_DENIED'     // a valid credential acting outside its scope (a namespace-scoped proxy token)
  | 'RESOURCE_EXHAUSTED'    // input larger than the configured limits
  | 'UNAVAILABLE'           // shutting down
  | 'INTERNAL';             // a bug or a storage failure

export class ControlPlaneError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

export const invalidArgument = (message: string) => new ControlPlaneError('INVALID_ARGUMENT', message);
export const notFound = (message: string) => new ControlPlaneError('NOT_FOUND', message);
export const failedPrecondition = (message: string) => new ControlPlaneError('FAILED_PRECONDITION', message);
export const unauthenticated = (message: string) => new ControlPlaneError('UNAUTHENTICATED', message);
export const permissionDenied = (message: string) => new ControlPlaneError('PERMISSION_DENIED', message);
export const resourceExhausted = (message: string) => new ControlPlaneError('RESOURCE_EXHAUSTED', message);

const MAPPING: Record<ErrorCode, { grpc: GrpcStatus; http: number }> = {
  INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  FAILED_PRECONDITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409 },
  UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401 },
  PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 413 },
  UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500 },
};

/**
 * Normalises anything thrown into a ControlPlaneError. Validation errors from policy-model.ts are plain Errors whose
 * message starts with "invalid "; they become INVALID_ARGUMENT. Anything else is INTERNAL.
 */
export function asControlPlaneError(error: unknown): ControlPlaneError {
  if (error instanceof ControlPlaneError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^invalid [^:]+: /.test(message)) return invalidArgument(message);
  return new ControlPlaneError('INTERNAL', message);
}

export function toGrpcStatus(error: unknown): Partial<ServiceError> {
  const normalised = asControlPlaneError(error);
  const metadata = new Metadata();
  metadata.set('meshlens-error-code', normalised.code);
  return { code: MAPPING[normalised.code].grpc, details: normalised.message, metadata };
}

export function toHttpStatus(error: unknown): { status: number; body: { code: ErrorCode; message: string } } {
  const normalised = asControlPlaneError(error);
  return { status: MAPPING[normalised.code].http, body: { code: normalised.code, message: normalised.message } };
}
