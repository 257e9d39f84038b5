// Original file: protos/meshlens/v1/kernel.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { KernelReport as _meshlens_v1_KernelReport, KernelReport__Output as _meshlens_v1_KernelReport__Output } from '../../meshlens/v1/KernelReport.ts';
import type { KernelReportAck as _meshlens_v1_KernelReportAck, KernelReportAck__Output as _meshlens_v1_KernelReportAck__Output } from '../../meshlens/v1/KernelReportAck.ts';

/**
 * Node agents report per-flow kernel counters, keyed by the same 4-tuple the filter reports per upstream connection
 * (upstream.local_address, upstream.address), so the control plane can join retransmits to requests.
 */
export interface KernelTelemetryClient extends grpc.Client {
  /**
   * One call per agent interval; the agent retries a failed call with backoff and never batches intervals together.
   */
  Report(argument: _meshlens_v1_KernelReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_KernelReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_KernelReport, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_KernelReport, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  /**
   * One call per agent interval; the agent retries a failed call with backoff and never batches intervals together.
   */
  report(argument: _meshlens_v1_KernelReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_KernelReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_KernelReport, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_KernelReport, callback: grpc.requestCallback<_meshlens_v1_KernelReportAck__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Node agents report per-flow kernel counters, keyed by the same 4-tuple the filter reports per upstream connection
 * (upstream.local_address, upstream.address), so the control plane can join retransmits to requests.
 */
export interface KernelTelemetryHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One call per agent interval; the agent retries a failed call with backoff and never batches intervals together.
   */
  Report: grpc.handleUnaryCall<_meshlens_v1_KernelReport__Output, _meshlens_v1_KernelReportAck>;
  
}

export interface KernelTelemetryDefinition extends grpc.ServiceDefinition {
  Report: MethodDefinition<_meshlens_v1_KernelReport, _meshlens_v1_KernelReportAck, _meshlens_v1_KernelReport__Output, _meshlens_v1_KernelReportAck__Output>
}
