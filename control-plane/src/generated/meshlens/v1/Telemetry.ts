// Original file: protos/meshlens/v1/telemetry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { TelemetryReport as _meshlens_v1_TelemetryReport, TelemetryReport__Output as _meshlens_v1_TelemetryReport__Output } from '../../meshlens/v1/TelemetryReport.ts';
import type { TelemetryReportAck as _meshlens_v1_TelemetryReportAck, TelemetryReportAck__Output as _meshlens_v1_TelemetryReportAck__Output } from '../../meshlens/v1/TelemetryReportAck.ts';

/**
 * Receives filter reports.
 */
export interface TelemetryClient extends grpc.Client {
  /**
   * One call per proxy per report interval (sent by the VM holding its discovery stream, carrying every VM's
   * window; older filters: one per VM), with metadata `authorization: Bearer <telemetry token>`.
   * Rejected with UNAUTHENTICATED (bad token), INVALID_ARGUMENT (missing node.id, window end before start, more
   * entries than the server's limit, or a counter inconsistency such as errors > requests) or RESOURCE_EXHAUSTED
   * (message larger than the server's limit). A rejected report is not partially applied.
   */
  Report(argument: _meshlens_v1_TelemetryReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_TelemetryReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_TelemetryReport, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _meshlens_v1_TelemetryReport, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  /**
   * One call per proxy per report interval (sent by the VM holding its discovery stream, carrying every VM's
   * window; older filters: one per VM), with metadata `authorization: Bearer <telemetry token>`.
   * Rejected with UNAUTHENTICATED (bad token), INVALID_ARGUMENT (missing node.id, window end before start, more
   * entries than the server's limit, or a counter inconsistency such as errors > requests) or RESOURCE_EXHAUSTED
   * (message larger than the server's limit). A rejected report is not partially applied.
   */
  report(argument: _meshlens_v1_TelemetryReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_TelemetryReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_TelemetryReport, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  report(argument: _meshlens_v1_TelemetryReport, callback: grpc.requestCallback<_meshlens_v1_TelemetryReportAck__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Receives filter reports.
 */
export interface TelemetryHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One call per proxy per report interval (sent by the VM holding its discovery stream, carrying every VM's
   * window; older filters: one per VM), with metadata `authorization: Bearer <telemetry token>`.
   * Rejected with UNAUTHENTICATED (bad token), INVALID_ARGUMENT (missing node.id, window end before start, more
   * entries than the server's limit, or a counter inconsistency such as errors > requests) or RESOURCE_EXHAUSTED
   * (message larger than the server's limit). A rejected report is not partially applied.
   */
  Report: grpc.handleUnaryCall<_meshlens_v1_TelemetryReport__Output, _meshlens_v1_TelemetryReportAck>;
  
}

export interface TelemetryDefinition extends grpc.ServiceDefinition {
  Report: MethodDefinition<_meshlens_v1_TelemetryReport, _meshlens_v1_TelemetryReportAck, _meshlens_v1_TelemetryReport__Output, _meshlens_v1_TelemetryReportAck__Output>
}
