// Original file: protos/meshlens/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CorrelatorState as _meshlens_v1_CorrelatorState, CorrelatorState__Output as _meshlens_v1_CorrelatorState__Output } from '../../meshlens/v1/CorrelatorState.ts';
import type { DeletePolicyRequest as _meshlens_v1_DeletePolicyRequest, DeletePolicyRequest__Output as _meshlens_v1_DeletePolicyRequest__Output } from '../../meshlens/v1/DeletePolicyRequest.ts';
import type { DeletePolicyResponse as _meshlens_v1_DeletePolicyResponse, DeletePolicyResponse__Output as _meshlens_v1_DeletePolicyResponse__Output } from '../../meshlens/v1/DeletePolicyResponse.ts';
import type { DryRunRequest as _meshlens_v1_DryRunRequest, DryRunRequest__Output as _meshlens_v1_DryRunRequest__Output } from '../../meshlens/v1/DryRunRequest.ts';
import type { DryRunResponse as _meshlens_v1_DryRunResponse, DryRunResponse__Output as _meshlens_v1_DryRunResponse__Output } from '../../meshlens/v1/DryRunResponse.ts';
import type { GetCorrelatorStateRequest as _meshlens_v1_GetCorrelatorStateRequest, GetCorrelatorStateRequest__Output as _meshlens_v1_GetCorrelatorStateRequest__Output } from '../../meshlens/v1/GetCorrelatorStateRequest.ts';
import type { GetHistoryRequest as _meshlens_v1_GetHistoryRequest, GetHistoryRequest__Output as _meshlens_v1_GetHistoryRequest__Output } from '../../meshlens/v1/GetHistoryRequest.ts';
import type { GetHistoryResponse as _meshlens_v1_GetHistoryResponse, GetHistoryResponse__Output as _meshlens_v1_GetHistoryResponse__Output } from '../../meshlens/v1/GetHistoryResponse.ts';
import type { GetPolicyRequest as _meshlens_v1_GetPolicyRequest, GetPolicyRequest__Output as _meshlens_v1_GetPolicyRequest__Output } from '../../meshlens/v1/GetPolicyRequest.ts';
import type { GetRolloutStatusRequest as _meshlens_v1_GetRolloutStatusRequest, GetRolloutStatusRequest__Output as _meshlens_v1_GetRolloutStatusRequest__Output } from '../../meshlens/v1/GetRolloutStatusRequest.ts';
import type { ListBreakersRequest as _meshlens_v1_ListBreakersRequest, ListBreakersRequest__Output as _meshlens_v1_ListBreakersRequest__Output } from '../../meshlens/v1/ListBreakersRequest.ts';
import type { ListBreakersResponse as _meshlens_v1_ListBreakersResponse, ListBreakersResponse__Output as _meshlens_v1_ListBreakersResponse__Output } from '../../meshlens/v1/ListBreakersResponse.ts';
import type { ListConfirmationsRequest as _meshlens_v1_ListConfirmationsRequest, ListConfirmationsRequest__Output as _meshlens_v1_ListConfirmationsRequest__Output } from '../../meshlens/v1/ListConfirmationsRequest.ts';
import type { ListConfirmationsResponse as _meshlens_v1_ListConfirmationsResponse, ListConfirmationsResponse__Output as _meshlens_v1_ListConfirmationsResponse__Output } from '../../meshlens/v1/ListConfirmationsResponse.ts';
import type { ListCorrelationsRequest as _meshlens_v1_ListCorrelationsRequest, ListCorrelationsRequest__Output as _meshlens_v1_ListCorrelationsRequest__Output } from '../../meshlens/v1/ListCorrelationsRequest.ts';
import type { ListCorrelationsResponse as _meshlens_v1_ListCorrelationsResponse, ListCorrelationsResponse__Output as _meshlens_v1_ListCorrelationsResponse__Output } from '../../meshlens/v1/ListCorrelationsResponse.ts';
import type { ListEndpointsRequest as _meshlens_v1_ListEndpointsRequest, ListEndpointsRequest__Output as _meshlens_v1_ListEndpointsRequest__Output } from '../../meshlens/v1/ListEndpointsRequest.ts';
import type { ListEndpointsResponse as _meshlens_v1_ListEndpointsResponse, ListEndpointsResponse__Output as _meshlens_v1_ListEndpointsResponse__Output } from '../../meshlens/v1/ListEndpointsResponse.ts';
import type { ListPoliciesRequest as _meshlens_v1_ListPoliciesRequest, ListPoliciesRequest__Output as _meshlens_v1_ListPoliciesRequest__Output } from '../../meshlens/v1/ListPoliciesRequest.ts';
import type { ListPoliciesResponse as _meshlens_v1_ListPoliciesResponse, ListPoliciesResponse__Output as _meshlens_v1_ListPoliciesResponse__Output } from '../../meshlens/v1/ListPoliciesResponse.ts';
import type { ListReplicasRequest as _meshlens_v1_ListReplicasRequest, ListReplicasRequest__Output as _meshlens_v1_ListReplicasRequest__Output } from '../../meshlens/v1/ListReplicasRequest.ts';
import type { ListReplicasResponse as _meshlens_v1_ListReplicasResponse, ListReplicasResponse__Output as _meshlens_v1_ListReplicasResponse__Output } from '../../meshlens/v1/ListReplicasResponse.ts';
import type { PolicyRecord as _meshlens_v1_PolicyRecord, PolicyRecord__Output as _meshlens_v1_PolicyRecord__Output } from '../../meshlens/v1/PolicyRecord.ts';
import type { RollbackRequest as _meshlens_v1_RollbackRequest, RollbackRequest__Output as _meshlens_v1_RollbackRequest__Output } from '../../meshlens/v1/RollbackRequest.ts';
import type { RolloutStatus as _meshlens_v1_RolloutStatus, RolloutStatus__Output as _meshlens_v1_RolloutStatus__Output } from '../../meshlens/v1/RolloutStatus.ts';
import type { SetPolicyRequest as _meshlens_v1_SetPolicyRequest, SetPolicyRequest__Output as _meshlens_v1_SetPolicyRequest__Output } from '../../meshlens/v1/SetPolicyRequest.ts';

/**
 * Operator API.
 */
export interface AdminClient extends grpc.Client {
  /**
   * Delete a policy (its history is kept).
   */
  DeletePolicy(argument: _meshlens_v1_DeletePolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _meshlens_v1_DeletePolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _meshlens_v1_DeletePolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  DeletePolicy(argument: _meshlens_v1_DeletePolicyRequest, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Delete a policy (its history is kept).
   */
  deletePolicy(argument: _meshlens_v1_DeletePolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _meshlens_v1_DeletePolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _meshlens_v1_DeletePolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  deletePolicy(argument: _meshlens_v1_DeletePolicyRequest, callback: grpc.requestCallback<_meshlens_v1_DeletePolicyResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What a proposed policy's breaker would have done over recently reported telemetry.
   */
  DryRun(argument: _meshlens_v1_DryRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _meshlens_v1_DryRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _meshlens_v1_DryRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  DryRun(argument: _meshlens_v1_DryRunRequest, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What a proposed policy's breaker would have done over recently reported telemetry.
   */
  dryRun(argument: _meshlens_v1_DryRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _meshlens_v1_DryRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _meshlens_v1_DryRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  dryRun(argument: _meshlens_v1_DryRunRequest, callback: grpc.requestCallback<_meshlens_v1_DryRunResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * This replica's correlation state: per endpoint its baseline, verdict with its hysteresis, departures and history,
   * and the last window judged. A replica that joins takes it from the longest-running peer (README, Replicas on etcd);
   * the JSON inside is meshlens' own and changes with its versions.
   */
  GetCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  GetCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  GetCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  GetCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  /**
   * This replica's correlation state: per endpoint its baseline, verdict with its hysteresis, departures and history,
   * and the last window judged. A replica that joins takes it from the longest-running peer (README, Replicas on etcd);
   * the JSON inside is meshlens' own and changes with its versions.
   */
  getCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  getCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  getCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  getCorrelatorState(argument: _meshlens_v1_GetCorrelatorStateRequest, callback: grpc.requestCallback<_meshlens_v1_CorrelatorState__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every version of a policy, newest first, with who changed it and when.
   */
  GetHistory(argument: _meshlens_v1_GetHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetHistory(argument: _meshlens_v1_GetHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetHistory(argument: _meshlens_v1_GetHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  GetHistory(argument: _meshlens_v1_GetHistoryRequest, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every version of a policy, newest first, with who changed it and when.
   */
  getHistory(argument: _meshlens_v1_GetHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  getHistory(argument: _meshlens_v1_GetHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  getHistory(argument: _meshlens_v1_GetHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  getHistory(argument: _meshlens_v1_GetHistoryRequest, callback: grpc.requestCallback<_meshlens_v1_GetHistoryResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * One policy by id.
   */
  GetPolicy(argument: _meshlens_v1_GetPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _meshlens_v1_GetPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _meshlens_v1_GetPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  GetPolicy(argument: _meshlens_v1_GetPolicyRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  /**
   * One policy by id.
   */
  getPolicy(argument: _meshlens_v1_GetPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _meshlens_v1_GetPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _meshlens_v1_GetPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  getPolicy(argument: _meshlens_v1_GetPolicyRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  
  /**
   * Which snapshot version each proxy has acknowledged or rejected.
   */
  GetRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  GetRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  GetRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  GetRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  /**
   * Which snapshot version each proxy has acknowledged or rejected.
   */
  getRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  getRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  getRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  getRolloutStatus(argument: _meshlens_v1_GetRolloutStatusRequest, callback: grpc.requestCallback<_meshlens_v1_RolloutStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * Breaker states reported by the filters, per scope (worst state over the nodes), and their recent transitions.
   */
  ListBreakers(argument: _meshlens_v1_ListBreakersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  ListBreakers(argument: _meshlens_v1_ListBreakersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  ListBreakers(argument: _meshlens_v1_ListBreakersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  ListBreakers(argument: _meshlens_v1_ListBreakersRequest, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Breaker states reported by the filters, per scope (worst state over the nodes), and their recent transitions.
   */
  listBreakers(argument: _meshlens_v1_ListBreakersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  listBreakers(argument: _meshlens_v1_ListBreakersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  listBreakers(argument: _meshlens_v1_ListBreakersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  listBreakers(argument: _meshlens_v1_ListBreakersRequest, callback: grpc.requestCallback<_meshlens_v1_ListBreakersResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Commit-confirmed changes (SetPolicyRequest.confirm): the pending ones, or every kept one.
   */
  ListConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  ListConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  ListConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  ListConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Commit-confirmed changes (SetPolicyRequest.confirm): the pending ones, or every kept one.
   */
  listConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  listConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  listConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  listConfirmations(argument: _meshlens_v1_ListConfirmationsRequest, callback: grpc.requestCallback<_meshlens_v1_ListConfirmationsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Kernel flows of the recent windows joined to the request outcomes on the same connection (keyed by the proxy
   * identity of the flow's network namespace and the 4-tuple), and their retransmits attributed to routes and tenants.
   */
  ListCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  ListCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  ListCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  ListCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Kernel flows of the recent windows joined to the request outcomes on the same connection (keyed by the proxy
   * identity of the flow's network namespace and the 4-tuple), and their retransmits attributed to routes and tenants.
   */
  listCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  listCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  listCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  listCorrelations(argument: _meshlens_v1_ListCorrelationsRequest, callback: grpc.requestCallback<_meshlens_v1_ListCorrelationsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every upstream endpoint's verdict, signals, baseline and recent verdict history.
   */
  ListEndpoints(argument: _meshlens_v1_ListEndpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _meshlens_v1_ListEndpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _meshlens_v1_ListEndpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _meshlens_v1_ListEndpointsRequest, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every upstream endpoint's verdict, signals, baseline and recent verdict history.
   */
  listEndpoints(argument: _meshlens_v1_ListEndpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _meshlens_v1_ListEndpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _meshlens_v1_ListEndpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _meshlens_v1_ListEndpointsRequest, callback: grpc.requestCallback<_meshlens_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every live policy, sorted by id.
   */
  ListPolicies(argument: _meshlens_v1_ListPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _meshlens_v1_ListPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _meshlens_v1_ListPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ListPolicies(argument: _meshlens_v1_ListPoliciesRequest, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every live policy, sorted by id.
   */
  listPolicies(argument: _meshlens_v1_ListPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _meshlens_v1_ListPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _meshlens_v1_ListPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  listPolicies(argument: _meshlens_v1_ListPoliciesRequest, callback: grpc.requestCallback<_meshlens_v1_ListPoliciesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Rollout totals of every live control-plane replica (GET /v1/replicas): with --store etcd each replica holds the
   * streams of its own proxies, and this shows all of them from any one; on SQLite, this control plane's own.
   */
  ListReplicas(argument: _meshlens_v1_ListReplicasRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  ListReplicas(argument: _meshlens_v1_ListReplicasRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  ListReplicas(argument: _meshlens_v1_ListReplicasRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  ListReplicas(argument: _meshlens_v1_ListReplicasRequest, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Rollout totals of every live control-plane replica (GET /v1/replicas): with --store etcd each replica holds the
   * streams of its own proxies, and this shows all of them from any one; on SQLite, this control plane's own.
   */
  listReplicas(argument: _meshlens_v1_ListReplicasRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  listReplicas(argument: _meshlens_v1_ListReplicasRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  listReplicas(argument: _meshlens_v1_ListReplicasRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  listReplicas(argument: _meshlens_v1_ListReplicasRequest, callback: grpc.requestCallback<_meshlens_v1_ListReplicasResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Make an earlier version's content current again, as a new version.
   */
  Rollback(argument: _meshlens_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _meshlens_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _meshlens_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _meshlens_v1_RollbackRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  /**
   * Make an earlier version's content current again, as a new version.
   */
  rollback(argument: _meshlens_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  rollback(argument: _meshlens_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  rollback(argument: _meshlens_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  rollback(argument: _meshlens_v1_RollbackRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  
  /**
   * Create or replace a policy. Acknowledged only after the change is committed to disk.
   */
  SetPolicy(argument: _meshlens_v1_SetPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  SetPolicy(argument: _meshlens_v1_SetPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  SetPolicy(argument: _meshlens_v1_SetPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  SetPolicy(argument: _meshlens_v1_SetPolicyRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  /**
   * Create or replace a policy. Acknowledged only after the change is committed to disk.
   */
  setPolicy(argument: _meshlens_v1_SetPolicyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  setPolicy(argument: _meshlens_v1_SetPolicyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  setPolicy(argument: _meshlens_v1_SetPolicyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  setPolicy(argument: _meshlens_v1_SetPolicyRequest, callback: grpc.requestCallback<_meshlens_v1_PolicyRecord__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Operator API.
 */
export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Delete a policy (its history is kept).
   */
  DeletePolicy: grpc.handleUnaryCall<_meshlens_v1_DeletePolicyRequest__Output, _meshlens_v1_DeletePolicyResponse>;
  
  /**
   * What a proposed policy's breaker would have done over recently reported telemetry.
   */
  DryRun: grpc.handleUnaryCall<_meshlens_v1_DryRunRequest__Output, _meshlens_v1_DryRunResponse>;
  
  /**
   * This replica's correlation state: per endpoint its baseline, verdict with its hysteresis, departures and history,
   * and the last window judged. A replica that joins takes it from the longest-running peer (README, Replicas on etcd);
   * the JSON inside is meshlens' own and changes with its versions.
   */
  GetCorrelatorState: grpc.handleUnaryCall<_meshlens_v1_GetCorrelatorStateRequest__Output, _meshlens_v1_CorrelatorState>;
  
  /**
   * Every version of a policy, newest first, with who changed it and when.
   */
  GetHistory: grpc.handleUnaryCall<_meshlens_v1_GetHistoryRequest__Output, _meshlens_v1_GetHistoryResponse>;
  
  /**
   * One policy by id.
   */
  GetPolicy: grpc.handleUnaryCall<_meshlens_v1_GetPolicyRequest__Output, _meshlens_v1_PolicyRecord>;
  
  /**
   * Which snapshot version each proxy has acknowledged or rejected.
   */
  GetRolloutStatus: grpc.handleUnaryCall<_meshlens_v1_GetRolloutStatusRequest__Output, _meshlens_v1_RolloutStatus>;
  
  /**
   * Breaker states reported by the filters, per scope (worst state over the nodes), and their recent transitions.
   */
  ListBreakers: grpc.handleUnaryCall<_meshlens_v1_ListBreakersRequest__Output, _meshlens_v1_ListBreakersResponse>;
  
  /**
   * Commit-confirmed changes (SetPolicyRequest.confirm): the pending ones, or every kept one.
   */
  ListConfirmations: grpc.handleUnaryCall<_meshlens_v1_ListConfirmationsRequest__Output, _meshlens_v1_ListConfirmationsResponse>;
  
  /**
   * Kernel flows of the recent windows joined to the request outcomes on the same connection (keyed by the proxy
   * identity of the flow's network namespace and the 4-tuple), and their retransmits attributed to routes and tenants.
   */
  ListCorrelations: grpc.handleUnaryCall<_meshlens_v1_ListCorrelationsRequest__Output, _meshlens_v1_ListCorrelationsResponse>;
  
  /**
   * Every upstream endpoint's verdict, signals, baseline and recent verdict history.
   */
  ListEndpoints: grpc.handleUnaryCall<_meshlens_v1_ListEndpointsRequest__Output, _meshlens_v1_ListEndpointsResponse>;
  
  /**
   * Every live policy, sorted by id.
   */
  ListPolicies: grpc.handleUnaryCall<_meshlens_v1_ListPoliciesRequest__Output, _meshlens_v1_ListPoliciesResponse>;
  
  /**
   * Rollout totals of every live control-plane replica (GET /v1/replicas): with --store etcd each replica holds the
   * streams of its own proxies, and this shows all of them from any one; on SQLite, this control plane's own.
   */
  ListReplicas: grpc.handleUnaryCall<_meshlens_v1_ListReplicasRequest__Output, _meshlens_v1_ListReplicasResponse>;
  
  /**
   * Make an earlier version's content current again, as a new version.
   */
  Rollback: grpc.handleUnaryCall<_meshlens_v1_RollbackRequest__Output, _meshlens_v1_PolicyRecord>;
  
  /**
   * Create or replace a policy. Acknowledged only after the change is committed to disk.
   */
  SetPolicy: grpc.handleUnaryCall<_meshlens_v1_SetPolicyRequest__Output, _meshlens_v1_PolicyRecord>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  DeletePolicy: MethodDefinition<_meshlens_v1_DeletePolicyRequest, _meshlens_v1_DeletePolicyResponse, _meshlens_v1_DeletePolicyRequest__Output, _meshlens_v1_DeletePolicyResponse__Output>
  DryRun: MethodDefinition<_meshlens_v1_DryRunRequest, _meshlens_v1_DryRunResponse, _meshlens_v1_DryRunRequest__Output, _meshlens_v1_DryRunResponse__Output>
  GetCorrelatorState: MethodDefinition<_meshlens_v1_GetCorrelatorStateRequest, _meshlens_v1_CorrelatorState, _meshlens_v1_GetCorrelatorStateRequest__Output, _meshlens_v1_CorrelatorState__Output>
  GetHistory: MethodDefinition<_meshlens_v1_GetHistoryRequest, _meshlens_v1_GetHistoryResponse, _meshlens_v1_GetHistoryRequest__Output, _meshlens_v1_GetHistoryResponse__Output>
  GetPolicy: MethodDefinition<_meshlens_v1_GetPolicyRequest, _meshlens_v1_PolicyRecord, _meshlens_v1_GetPolicyRequest__Output, _meshlens_v1_PolicyRecord__Output>
  GetRolloutStatus: MethodDefinition<_meshlens_v1_GetRolloutStatusRequest, _meshlens_v1_RolloutStatus, _meshlens_v1_GetRolloutStatusRequest__Output, _meshlens_v1_RolloutStatus__Output>
  ListBreakers: MethodDefinition<_meshlens_v1_ListBreakersRequest, _meshlens_v1_ListBreakersResponse, _meshlens_v1_ListBreakersRequest__Output, _meshlens_v1_ListBreakersResponse__Output>
  ListConfirmations: MethodDefinition<_meshlens_v1_ListConfirmationsRequest, _meshlens_v1_ListConfirmationsResponse, _meshlens_v1_ListConfirmationsRequest__Output, _meshlens_v1_ListConfirmationsResponse__Output>
  ListCorrelations: MethodDefinition<_meshlens_v1_ListCorrelationsRequest, _meshlens_v1_ListCorrelationsResponse, _meshlens_v1_ListCorrelationsRequest__Output, _meshlens_v1_ListCorrelationsResponse__Output>
  ListEndpoints: MethodDefinition<_meshlens_v1_ListEndpointsRequest, _meshlens_v1_ListEndpointsResponse, _meshlens_v1_ListEndpointsRequest__Output, _meshlens_v1_ListEndpointsResponse__Output>
  ListPolicies: MethodDefinition<_meshlens_v1_ListPoliciesRequest, _meshlens_v1_ListPoliciesResponse, _meshlens_v1_ListPoliciesRequest__Output, _meshlens_v1_ListPoliciesResponse__Output>
  ListReplicas: MethodDefinition<_meshlens_v1_ListReplicasRequest, _meshlens_v1_ListReplicasResponse, _meshlens_v1_ListReplicasRequest__Output, _meshlens_v1_ListReplicasResponse__Output>
  Rollback: MethodDefinition<_meshlens_v1_RollbackRequest, _meshlens_v1_PolicyRecord, _meshlens_v1_RollbackRequest__Output, _meshlens_v1_PolicyRecord__Output>
  SetPolicy: MethodDefinition<_meshlens_v1_SetPolicyRequest, _meshlens_v1_PolicyRecord, _meshlens_v1_SetPolicyRequest__Output, _meshlens_v1_PolicyRecord__Output>
}
