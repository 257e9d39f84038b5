import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { BreakerEntry as _meshlens_v1_BreakerEntry, BreakerEntry__Output as _meshlens_v1_BreakerEntry__Output } from './meshlens/v1/BreakerEntry.ts';
import type { BreakerPolicy as _meshlens_v1_BreakerPolicy, BreakerPolicy__Output as _meshlens_v1_BreakerPolicy__Output } from './meshlens/v1/BreakerPolicy.ts';
import type { ConnectionEntry as _meshlens_v1_ConnectionEntry, ConnectionEntry__Output as _meshlens_v1_ConnectionEntry__Output } from './meshlens/v1/ConnectionEntry.ts';
import type { ConnectionRouteShare as _meshlens_v1_ConnectionRouteShare, ConnectionRouteShare__Output as _meshlens_v1_ConnectionRouteShare__Output } from './meshlens/v1/ConnectionRouteShare.ts';
import type { DiscoveryRequest as _meshlens_v1_DiscoveryRequest, DiscoveryRequest__Output as _meshlens_v1_DiscoveryRequest__Output } from './meshlens/v1/DiscoveryRequest.ts';
import type { DiscoveryResponse as _meshlens_v1_DiscoveryResponse, DiscoveryResponse__Output as _meshlens_v1_DiscoveryResponse__Output } from './meshlens/v1/DiscoveryResponse.ts';
import type { ErrorDetail as _meshlens_v1_ErrorDetail, ErrorDetail__Output as _meshlens_v1_ErrorDetail__Output } from './meshlens/v1/ErrorDetail.ts';
import type { Node as _meshlens_v1_Node, Node__Output as _meshlens_v1_Node__Output } from './meshlens/v1/Node.ts';
import type { OutcomeCounters as _meshlens_v1_OutcomeCounters, OutcomeCounters__Output as _meshlens_v1_OutcomeCounters__Output } from './meshlens/v1/OutcomeCounters.ts';
import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from './meshlens/v1/Policy.ts';
import type { PolicyDiscoveryClient as _meshlens_v1_PolicyDiscoveryClient, PolicyDiscoveryDefinition as _meshlens_v1_PolicyDiscoveryDefinition } from './meshlens/v1/PolicyDiscovery.ts';
import type { PolicyResource as _meshlens_v1_PolicyResource, PolicyResource__Output as _meshlens_v1_PolicyResource__Output } from './meshlens/v1/PolicyResource.ts';
import type { PolicyTarget as _meshlens_v1_PolicyTarget, PolicyTarget__Output as _meshlens_v1_PolicyTarget__Output } from './meshlens/v1/PolicyTarget.ts';
import type { RetryPolicy as _meshlens_v1_RetryPolicy, RetryPolicy__Output as _meshlens_v1_RetryPolicy__Output } from './meshlens/v1/RetryPolicy.ts';
import type { RetryRule as _meshlens_v1_RetryRule, RetryRule__Output as _meshlens_v1_RetryRule__Output } from './meshlens/v1/RetryRule.ts';
import type { RouteEntry as _meshlens_v1_RouteEntry, RouteEntry__Output as _meshlens_v1_RouteEntry__Output } from './meshlens/v1/RouteEntry.ts';
import type { TelemetryClient as _meshlens_v1_TelemetryClient, TelemetryDefinition as _meshlens_v1_TelemetryDefinition } from './meshlens/v1/Telemetry.ts';
import type { TelemetryReport as _meshlens_v1_TelemetryReport, TelemetryReport__Output as _meshlens_v1_TelemetryReport__Output } from './meshlens/v1/TelemetryReport.ts';
import type { TelemetryReportAck as _meshlens_v1_TelemetryReportAck, TelemetryReportAck__Output as _meshlens_v1_TelemetryReportAck__Output } from './meshlens/v1/TelemetryReportAck.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  meshlens: {
    v1: {
      BreakerEntry: MessageTypeDefinition<_meshlens_v1_BreakerEntry, _meshlens_v1_BreakerEntry__Output>
      BreakerOpenCause: EnumTypeDefinition
      BreakerPolicy: MessageTypeDefinition<_meshlens_v1_BreakerPolicy, _meshlens_v1_BreakerPolicy__Output>
      BreakerState: EnumTypeDefinition
      ConnectionEntry: MessageTypeDefinition<_meshlens_v1_ConnectionEntry, _meshlens_v1_ConnectionEntry__Output>
      ConnectionRouteShare: MessageTypeDefinition<_meshlens_v1_ConnectionRouteShare, _meshlens_v1_ConnectionRouteShare__Output>
      DiscoveryRequest: MessageTypeDefinition<_meshlens_v1_DiscoveryRequest, _meshlens_v1_DiscoveryRequest__Output>
      DiscoveryResponse: MessageTypeDefinition<_meshlens_v1_DiscoveryResponse, _meshlens_v1_DiscoveryResponse__Output>
      ErrorDetail: MessageTypeDefinition<_meshlens_v1_ErrorDetail, _meshlens_v1_ErrorDetail__Output>
      Node: MessageTypeDefinition<_meshlens_v1_Node, _meshlens_v1_Node__Output>
      OutcomeCounters: MessageTypeDefinition<_meshlens_v1_OutcomeCounters, _meshlens_v1_OutcomeCounters__Output>
      Policy: MessageTypeDefinition<_meshlens_v1_Policy, _meshlens_v1_Policy__Output>
      /**
       * Distributes policy snapshots to filter VMs.
       */
      PolicyDiscovery: SubtypeConstructor<typeof grpc.Client, _meshlens_v1_PolicyDiscoveryClient> & { service: _meshlens_v1_PolicyDiscoveryDefinition }
      PolicyResource: MessageTypeDefinition<_meshlens_v1_PolicyResource, _meshlens_v1_PolicyResource__Output>
      PolicyTarget: MessageTypeDefinition<_meshlens_v1_PolicyTarget, _meshlens_v1_PolicyTarget__Output>
      RetryDecision: EnumTypeDefinition
      RetryPolicy: MessageTypeDefinition<_meshlens_v1_RetryPolicy, _meshlens_v1_RetryPolicy__Output>
      RetryRule: MessageTypeDefinition<_meshlens_v1_RetryRule, _meshlens_v1_RetryRule__Output>
      RouteEntry: MessageTypeDefinition<_meshlens_v1_RouteEntry, _meshlens_v1_RouteEntry__Output>
      /**
       * Receives filter reports.
       */
      Telemetry: SubtypeConstructor<typeof grpc.Client, _meshlens_v1_TelemetryClient> & { service: _meshlens_v1_TelemetryDefinition }
      TelemetryReport: MessageTypeDefinition<_meshlens_v1_TelemetryReport, _meshlens_v1_TelemetryReport__Output>
      TelemetryReportAck: MessageTypeDefinition<_meshlens_v1_TelemetryReportAck, _meshlens_v1_TelemetryReportAck__Output>
    }
  }
}

