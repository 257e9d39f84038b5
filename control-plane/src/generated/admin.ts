import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _meshlens_v1_AdminClient, AdminDefinition as _meshlens_v1_AdminDefinition } from './meshlens/v1/Admin.ts';
import type { BreakerNodeCounts as _meshlens_v1_BreakerNodeCounts, BreakerNodeCounts__Output as _meshlens_v1_BreakerNodeCounts__Output } from './meshlens/v1/BreakerNodeCounts.ts';
import type { BreakerPolicy as _meshlens_v1_BreakerPolicy, BreakerPolicy__Output as _meshlens_v1_BreakerPolicy__Output } from './meshlens/v1/BreakerPolicy.ts';
import type { BreakerScopeStatus as _meshlens_v1_BreakerScopeStatus, BreakerScopeStatus__Output as _meshlens_v1_BreakerScopeStatus__Output } from './meshlens/v1/BreakerScopeStatus.ts';
import type { BreakerTransition as _meshlens_v1_BreakerTransition, BreakerTransition__Output as _meshlens_v1_BreakerTransition__Output } from './meshlens/v1/BreakerTransition.ts';
import type { CollectionGap as _meshlens_v1_CollectionGap, CollectionGap__Output as _meshlens_v1_CollectionGap__Output } from './meshlens/v1/CollectionGap.ts';
import type { ConfirmSpec as _meshlens_v1_ConfirmSpec, ConfirmSpec__Output as _meshlens_v1_ConfirmSpec__Output } from './meshlens/v1/ConfirmSpec.ts';
import type { Confirmation as _meshlens_v1_Confirmation, Confirmation__Output as _meshlens_v1_Confirmation__Output } from './meshlens/v1/Confirmation.ts';
import type { Correlation as _meshlens_v1_Correlation, Correlation__Output as _meshlens_v1_Correlation__Output } from './meshlens/v1/Correlation.ts';
import type { CorrelatorState as _meshlens_v1_CorrelatorState, CorrelatorState__Output as _meshlens_v1_CorrelatorState__Output } from './meshlens/v1/CorrelatorState.ts';
import type { DeletePolicyRequest as _meshlens_v1_DeletePolicyRequest, DeletePolicyRequest__Output as _meshlens_v1_DeletePolicyRequest__Output } from './meshlens/v1/DeletePolicyRequest.ts';
import type { DeletePolicyResponse as _meshlens_v1_DeletePolicyResponse, DeletePolicyResponse__Output as _meshlens_v1_DeletePolicyResponse__Output } from './meshlens/v1/DeletePolicyResponse.ts';
import type { DryRunRequest as _meshlens_v1_DryRunRequest, DryRunRequest__Output as _meshlens_v1_DryRunRequest__Output } from './meshlens/v1/DryRunRequest.ts';
import type { DryRunResponse as _meshlens_v1_DryRunResponse, DryRunResponse__Output as _meshlens_v1_DryRunResponse__Output } from './meshlens/v1/DryRunResponse.ts';
import type { DryRunScope as _meshlens_v1_DryRunScope, DryRunScope__Output as _meshlens_v1_DryRunScope__Output } from './meshlens/v1/DryRunScope.ts';
import type { EndpointSignals as _meshlens_v1_EndpointSignals, EndpointSignals__Output as _meshlens_v1_EndpointSignals__Output } from './meshlens/v1/EndpointSignals.ts';
import type { EndpointStatus as _meshlens_v1_EndpointStatus, EndpointStatus__Output as _meshlens_v1_EndpointStatus__Output } from './meshlens/v1/EndpointStatus.ts';
import type { FlowEntry as _meshlens_v1_FlowEntry, FlowEntry__Output as _meshlens_v1_FlowEntry__Output } from './meshlens/v1/FlowEntry.ts';
import type { GetCorrelatorStateRequest as _meshlens_v1_GetCorrelatorStateRequest, GetCorrelatorStateRequest__Output as _meshlens_v1_GetCorrelatorStateRequest__Output } from './meshlens/v1/GetCorrelatorStateRequest.ts';
import type { GetHistoryRequest as _meshlens_v1_GetHistoryRequest, GetHistoryRequest__Output as _meshlens_v1_GetHistoryRequest__Output } from './meshlens/v1/GetHistoryRequest.ts';
import type { GetHistoryResponse as _meshlens_v1_GetHistoryResponse, GetHistoryResponse__Output as _meshlens_v1_GetHistoryResponse__Output } from './meshlens/v1/GetHistoryResponse.ts';
import type { GetPolicyRequest as _meshlens_v1_GetPolicyRequest, GetPolicyRequest__Output as _meshlens_v1_GetPolicyRequest__Output } from './meshlens/v1/GetPolicyRequest.ts';
import type { GetRolloutStatusRequest as _meshlens_v1_GetRolloutStatusRequest, GetRolloutStatusRequest__Output as _meshlens_v1_GetRolloutStatusRequest__Output } from './meshlens/v1/GetRolloutStatusRequest.ts';
import type { HistoryEntry as _meshlens_v1_HistoryEntry, HistoryEntry__Output as _meshlens_v1_HistoryEntry__Output } from './meshlens/v1/HistoryEntry.ts';
import type { KernelReport as _meshlens_v1_KernelReport, KernelReport__Output as _meshlens_v1_KernelReport__Output } from './meshlens/v1/KernelReport.ts';
import type { KernelReportAck as _meshlens_v1_KernelReportAck, KernelReportAck__Output as _meshlens_v1_KernelReportAck__Output } from './meshlens/v1/KernelReportAck.ts';
import type { KernelTelemetryClient as _meshlens_v1_KernelTelemetryClient, KernelTelemetryDefinition as _meshlens_v1_KernelTelemetryDefinition } from './meshlens/v1/KernelTelemetry.ts';
import type { ListBreakersRequest as _meshlens_v1_ListBreakersRequest, ListBreakersRequest__Output as _meshlens_v1_ListBreakersRequest__Output } from './meshlens/v1/ListBreakersRequest.ts';
import type { ListBreakersResponse as _meshlens_v1_ListBreakersResponse, ListBreakersResponse__Output as _meshlens_v1_ListBreakersResponse__Output } from './meshlens/v1/ListBreakersResponse.ts';
import type { ListConfirmationsRequest as _meshlens_v1_ListConfirmationsRequest, ListConfirmationsRequest__Output as _meshlens_v1_ListConfirmationsRequest__Output } from './meshlens/v1/ListConfirmationsRequest.ts';
import type { ListConfirmationsResponse as _meshlens_v1_ListConfirmationsResponse, ListConfirmationsResponse__Output as _meshlens_v1_ListConfirmationsResponse__Output } from './meshlens/v1/ListConfirmationsResponse.ts';
import type { ListCorrelationsRequest as _meshlens_v1_ListCorrelationsRequest, ListCorrelationsRequest__Output as _meshlens_v1_ListCorrelationsRequest__Output } from './meshlens/v1/ListCorrelationsRequest.ts';
import type { ListCorrelationsResponse as _meshlens_v1_ListCorrelationsResponse, ListCorrelationsResponse__Output as _meshlens_v1_ListCorrelationsResponse__Output } from './meshlens/v1/ListCorrelationsResponse.ts';
import type { ListEndpointsRequest as _meshlens_v1_ListEndpointsRequest, ListEndpointsRequest__Output as _meshlens_v1_ListEndpointsRequest__Output } from './meshlens/v1/ListEndpointsRequest.ts';
import type { ListEndpointsResponse as _meshlens_v1_ListEndpointsResponse, ListEndpointsResponse__Output as _meshlens_v1_ListEndpointsResponse__Output } from './meshlens/v1/ListEndpointsResponse.ts';
import type { ListPoliciesRequest as _meshlens_v1_ListPoliciesRequest, ListPoliciesRequest__Output as _meshlens_v1_ListPoliciesRequest__Output } from './meshlens/v1/ListPoliciesRequest.ts';
import type { ListPoliciesResponse as _meshlens_v1_ListPoliciesResponse, ListPoliciesResponse__Output as _meshlens_v1_ListPoliciesResponse__Output } from './meshlens/v1/ListPoliciesResponse.ts';
import type { ListReplicasRequest as _meshlens_v1_ListReplicasRequest, ListReplicasRequest__Output as _meshlens_v1_ListReplicasRequest__Output } from './meshlens/v1/ListReplicasRequest.ts';
import type { ListReplicasResponse as _meshlens_v1_ListReplicasResponse, ListReplicasResponse__Output as _meshlens_v1_ListReplicasResponse__Output } from './meshlens/v1/ListReplicasResponse.ts';
import type { NetnsIdentity as _meshlens_v1_NetnsIdentity, NetnsIdentity__Output as _meshlens_v1_NetnsIdentity__Output } from './meshlens/v1/NetnsIdentity.ts';
import type { NodeIdentity as _meshlens_v1_NodeIdentity, NodeIdentity__Output as _meshlens_v1_NodeIdentity__Output } from './meshlens/v1/NodeIdentity.ts';
import type { NodeRollout as _meshlens_v1_NodeRollout, NodeRollout__Output as _meshlens_v1_NodeRollout__Output } from './meshlens/v1/NodeRollout.ts';
import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from './meshlens/v1/Policy.ts';
import type { PolicyRecord as _meshlens_v1_PolicyRecord, PolicyRecord__Output as _meshlens_v1_PolicyRecord__Output } from './meshlens/v1/PolicyRecord.ts';
import type { PolicyResource as _meshlens_v1_PolicyResource, PolicyResource__Output as _meshlens_v1_PolicyResource__Output } from './meshlens/v1/PolicyResource.ts';
import type { PolicyTarget as _meshlens_v1_PolicyTarget, PolicyTarget__Output as _meshlens_v1_PolicyTarget__Output } from './meshlens/v1/PolicyTarget.ts';
import type { ReplicaSummary as _meshlens_v1_ReplicaSummary, ReplicaSummary__Output as _meshlens_v1_ReplicaSummary__Output } from './meshlens/v1/ReplicaSummary.ts';
import type { RetransmitEventsByCause as _meshlens_v1_RetransmitEventsByCause, RetransmitEventsByCause__Output as _meshlens_v1_RetransmitEventsByCause__Output } from './meshlens/v1/RetransmitEventsByCause.ts';
import type { RetryPolicy as _meshlens_v1_RetryPolicy, RetryPolicy__Output as _meshlens_v1_RetryPolicy__Output } from './meshlens/v1/RetryPolicy.ts';
import type { RetryRule as _meshlens_v1_RetryRule, RetryRule__Output as _meshlens_v1_RetryRule__Output } from './meshlens/v1/RetryRule.ts';
import type { RollbackRequest as _meshlens_v1_RollbackRequest, RollbackRequest__Output as _meshlens_v1_RollbackRequest__Output } from './meshlens/v1/RollbackRequest.ts';
import type { RolloutStatus as _meshlens_v1_RolloutStatus, RolloutStatus__Output as _meshlens_v1_RolloutStatus__Output } from './meshlens/v1/RolloutStatus.ts';
import type { RouteRetransmits as _meshlens_v1_RouteRetransmits, RouteRetransmits__Output as _meshlens_v1_RouteRetransmits__Output } from './meshlens/v1/RouteRetransmits.ts';
import type { RouteShare as _meshlens_v1_RouteShare, RouteShare__Output as _meshlens_v1_RouteShare__Output } from './meshlens/v1/RouteShare.ts';
import type { ScopeComparison as _meshlens_v1_ScopeComparison, ScopeComparison__Output as _meshlens_v1_ScopeComparison__Output } from './meshlens/v1/ScopeComparison.ts';
import type { ScopeStats as _meshlens_v1_ScopeStats, ScopeStats__Output as _meshlens_v1_ScopeStats__Output } from './meshlens/v1/ScopeStats.ts';
import type { SetPolicyRequest as _meshlens_v1_SetPolicyRequest, SetPolicyRequest__Output as _meshlens_v1_SetPolicyRequest__Output } from './meshlens/v1/SetPolicyRequest.ts';
import type { VerdictChange as _meshlens_v1_VerdictChange, VerdictChange__Output as _meshlens_v1_VerdictChange__Output } from './meshlens/v1/VerdictChange.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  meshlens: {
    v1: {
      AddressFamily: EnumTypeDefinition
      /**
       * Operator API.
       */
      Admin: SubtypeConstructor<typeof grpc.Client, _meshlens_v1_AdminClient> & { service: _meshlens_v1_AdminDefinition }
      BreakerNodeCounts: MessageTypeDefinition<_meshlens_v1_BreakerNodeCounts, _meshlens_v1_BreakerNodeCounts__Output>
      BreakerPolicy: MessageTypeDefinition<_meshlens_v1_BreakerPolicy, _meshlens_v1_BreakerPolicy__Output>
      BreakerScopeStatus: MessageTypeDefinition<_meshlens_v1_BreakerScopeStatus, _meshlens_v1_BreakerScopeStatus__Output>
      BreakerState: EnumTypeDefinition
      BreakerTransition: MessageTypeDefinition<_meshlens_v1_BreakerTransition, _meshlens_v1_BreakerTransition__Output>
      ChangeKind: EnumTypeDefinition
      CollectionGap: MessageTypeDefinition<_meshlens_v1_CollectionGap, _meshlens_v1_CollectionGap__Output>
      ConfirmSpec: MessageTypeDefinition<_meshlens_v1_ConfirmSpec, _meshlens_v1_ConfirmSpec__Output>
      Confirmation: MessageTypeDefinition<_meshlens_v1_Confirmation, _meshlens_v1_Confirmation__Output>
      ConfirmationState: EnumTypeDefinition
      Correlation: MessageTypeDefinition<_meshlens_v1_Correlation, _meshlens_v1_Correlation__Output>
      CorrelatorState: MessageTypeDefinition<_meshlens_v1_CorrelatorState, _meshlens_v1_CorrelatorState__Output>
      DeletePolicyRequest: MessageTypeDefinition<_meshlens_v1_DeletePolicyRequest, _meshlens_v1_DeletePolicyRequest__Output>
      DeletePolicyResponse: MessageTypeDefinition<_meshlens_v1_DeletePolicyResponse, _meshlens_v1_DeletePolicyResponse__Output>
      DryRunRequest: MessageTypeDefinition<_meshlens_v1_DryRunRequest, _meshlens_v1_DryRunRequest__Output>
      DryRunResponse: MessageTypeDefinition<_meshlens_v1_DryRunResponse, _meshlens_v1_DryRunResponse__Output>
      DryRunScope: MessageTypeDefinition<_meshlens_v1_DryRunScope, _meshlens_v1_DryRunScope__Output>
      EndpointSignals: MessageTypeDefinition<_meshlens_v1_EndpointSignals, _meshlens_v1_EndpointSignals__Output>
      EndpointStatus: MessageTypeDefinition<_meshlens_v1_EndpointStatus, _meshlens_v1_EndpointStatus__Output>
      EndpointVerdict: EnumTypeDefinition
      FlowDirection: EnumTypeDefinition
      FlowEntry: MessageTypeDefinition<_meshlens_v1_FlowEntry, _meshlens_v1_FlowEntry__Output>
      GapReason: EnumTypeDefinition
      GetCorrelatorStateRequest: MessageTypeDefinition<_meshlens_v1_GetCorrelatorStateRequest, _meshlens_v1_GetCorrelatorStateRequest__Output>
      GetHistoryRequest: MessageTypeDefinition<_meshlens_v1_GetHistoryRequest, _meshlens_v1_GetHistoryRequest__Output>
      GetHistoryResponse: MessageTypeDefinition<_meshlens_v1_GetHistoryResponse, _meshlens_v1_GetHistoryResponse__Output>
      GetPolicyRequest: MessageTypeDefinition<_meshlens_v1_GetPolicyRequest, _meshlens_v1_GetPolicyRequest__Output>
      GetRolloutStatusRequest: MessageTypeDefinition<_meshlens_v1_GetRolloutStatusRequest, _meshlens_v1_GetRolloutStatusRequest__Output>
      HistoryEntry: MessageTypeDefinition<_meshlens_v1_HistoryEntry, _meshlens_v1_HistoryEntry__Output>
      IdentitySource: EnumTypeDefinition
      KernelReport: MessageTypeDefinition<_meshlens_v1_KernelReport, _meshlens_v1_KernelReport__Output>
      KernelReportAck: MessageTypeDefinition<_meshlens_v1_KernelReportAck, _meshlens_v1_KernelReportAck__Output>
      KernelSource: EnumTypeDefinition
      /**
       * Node agents report per-flow kernel counters, keyed by the same 4-tuple the filter reports per upstream connection
       * (upstream.local_address, upstream.address), so the control plane can join retransmits to requests.
       */
      KernelTelemetry: SubtypeConstructor<typeof grpc.Client, _meshlens_v1_KernelTelemetryClient> & { service: _meshlens_v1_KernelTelemetryDefinition }
      ListBreakersRequest: MessageTypeDefinition<_meshlens_v1_ListBreakersRequest, _meshlens_v1_ListBreakersRequest__Output>
      ListBreakersResponse: MessageTypeDefinition<_meshlens_v1_ListBreakersResponse, _meshlens_v1_ListBreakersResponse__Output>
      ListConfirmationsRequest: MessageTypeDefinition<_meshlens_v1_ListConfirmationsRequest, _meshlens_v1_ListConfirmationsRequest__Output>
      ListConfirmationsResponse: MessageTypeDefinition<_meshlens_v1_ListConfirmationsResponse, _meshlens_v1_ListConfirmationsResponse__Output>
      ListCorrelationsRequest: MessageTypeDefinition<_meshlens_v1_ListCorrelationsRequest, _meshlens_v1_ListCorrelationsRequest__Output>
      ListCorrelationsResponse: MessageTypeDefinition<_meshlens_v1_ListCorrelationsResponse, _meshlens_v1_ListCorrelationsResponse__Output>
      ListEndpointsRequest: MessageTypeDefinition<_meshlens_v1_ListEndpointsRequest, _meshlens_v1_ListEndpointsRequest__Output>
      ListEndpointsResponse: MessageTypeDefinition<_meshlens_v1_ListEndpointsResponse, _meshlens_v1_ListEndpointsResponse__Output>
      ListPoliciesRequest: MessageTypeDefinition<_meshlens_v1_ListPoliciesRequest, _meshlens_v1_ListPoliciesRequest__Output>
      ListPoliciesResponse: MessageTypeDefinition<_meshlens_v1_ListPoliciesResponse, _meshlens_v1_ListPoliciesResponse__Output>
      ListReplicasRequest: MessageTypeDefinition<_meshlens_v1_ListReplicasRequest, _meshlens_v1_ListReplicasRequest__Output>
      ListReplicasResponse: MessageTypeDefinition<_meshlens_v1_ListReplicasResponse, _meshlens_v1_ListReplicasResponse__Output>
      NetnsIdentity: MessageTypeDefinition<_meshlens_v1_NetnsIdentity, _meshlens_v1_NetnsIdentity__Output>
      NodeIdentity: MessageTypeDefinition<_meshlens_v1_NodeIdentity, _meshlens_v1_NodeIdentity__Output>
      NodeRollout: MessageTypeDefinition<_meshlens_v1_NodeRollout, _meshlens_v1_NodeRollout__Output>
      Policy: MessageTypeDefinition<_meshlens_v1_Policy, _meshlens_v1_Policy__Output>
      PolicyRecord: MessageTypeDefinition<_meshlens_v1_PolicyRecord, _meshlens_v1_PolicyRecord__Output>
      PolicyResource: MessageTypeDefinition<_meshlens_v1_PolicyResource, _meshlens_v1_PolicyResource__Output>
      PolicyTarget: MessageTypeDefinition<_meshlens_v1_PolicyTarget, _meshlens_v1_PolicyTarget__Output>
      ReplicaSummary: MessageTypeDefinition<_meshlens_v1_ReplicaSummary, _meshlens_v1_ReplicaSummary__Output>
      RetransmitEventsByCause: MessageTypeDefinition<_meshlens_v1_RetransmitEventsByCause, _meshlens_v1_RetransmitEventsByCause__Output>
      RetryDecision: EnumTypeDefinition
      RetryPolicy: MessageTypeDefinition<_meshlens_v1_RetryPolicy, _meshlens_v1_RetryPolicy__Output>
      RetryRule: MessageTypeDefinition<_meshlens_v1_RetryRule, _meshlens_v1_RetryRule__Output>
      RollbackRequest: MessageTypeDefinition<_meshlens_v1_RollbackRequest, _meshlens_v1_RollbackRequest__Output>
      RolloutStatus: MessageTypeDefinition<_meshlens_v1_RolloutStatus, _meshlens_v1_RolloutStatus__Output>
      RouteRetransmits: MessageTypeDefinition<_meshlens_v1_RouteRetransmits, _meshlens_v1_RouteRetransmits__Output>
      RouteShare: MessageTypeDefinition<_meshlens_v1_RouteShare, _meshlens_v1_RouteShare__Output>
      ScopeComparison: MessageTypeDefinition<_meshlens_v1_ScopeComparison, _meshlens_v1_ScopeComparison__Output>
      ScopeStats: MessageTypeDefinition<_meshlens_v1_ScopeStats, _meshlens_v1_ScopeStats__Output>
      SetPolicyRequest: MessageTypeDefinition<_meshlens_v1_SetPolicyRequest, _meshlens_v1_SetPolicyRequest__Output>
      VerdictChange: MessageTypeDefinition<_meshlens_v1_VerdictChange, _meshlens_v1_VerdictChange__Output>
    }
  }
}

