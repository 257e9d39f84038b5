import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CollectionGap as _meshlens_v1_CollectionGap, CollectionGap__Output as _meshlens_v1_CollectionGap__Output } from './meshlens/v1/CollectionGap.ts';
import type { FlowEntry as _meshlens_v1_FlowEntry, FlowEntry__Output as _meshlens_v1_FlowEntry__Output } from './meshlens/v1/FlowEntry.ts';
import type { KernelReport as _meshlens_v1_KernelReport, KernelReport__Output as _meshlens_v1_KernelReport__Output } from './meshlens/v1/KernelReport.ts';
import type { KernelReportAck as _meshlens_v1_KernelReportAck, KernelReportAck__Output as _meshlens_v1_KernelReportAck__Output } from './meshlens/v1/KernelReportAck.ts';
import type { KernelTelemetryClient as _meshlens_v1_KernelTelemetryClient, KernelTelemetryDefinition as _meshlens_v1_KernelTelemetryDefinition } from './meshlens/v1/KernelTelemetry.ts';
import type { NetnsIdentity as _meshlens_v1_NetnsIdentity, NetnsIdentity__Output as _meshlens_v1_NetnsIdentity__Output } from './meshlens/v1/NetnsIdentity.ts';
import type { NodeIdentity as _meshlens_v1_NodeIdentity, NodeIdentity__Output as _meshlens_v1_NodeIdentity__Output } from './meshlens/v1/NodeIdentity.ts';
import type { RetransmitEventsByCause as _meshlens_v1_RetransmitEventsByCause, RetransmitEventsByCause__Output as _meshlens_v1_RetransmitEventsByCause__Output } from './meshlens/v1/RetransmitEventsByCause.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  meshlens: {
    v1: {
      AddressFamily: EnumTypeDefinition
      CollectionGap: MessageTypeDefinition<_meshlens_v1_CollectionGap, _meshlens_v1_CollectionGap__Output>
      FlowDirection: EnumTypeDefinition
      FlowEntry: MessageTypeDefinition<_meshlens_v1_FlowEntry, _meshlens_v1_FlowEntry__Output>
      GapReason: EnumTypeDefinition
      IdentitySource: EnumTypeDefinition
      KernelReport: MessageTypeDefinition<_meshlens_v1_KernelReport, _meshlens_v1_KernelReport__Output>
      KernelReportAck: MessageTypeDefinition<_meshlens_v1_KernelReportAck, _meshlens_v1_KernelReportAck__Output>
      KernelSource: EnumTypeDefinition
      /**
       * Node agents report per-flow kernel counters, keyed by the same 4-tuple the filter reports per upstream connection
       * (upstream.local_address, upstream.address), so the control plane can join retransmits to requests.
       */
      KernelTelemetry: SubtypeConstructor<typeof grpc.Client, _meshlens_v1_KernelTelemetryClient> & { service: _meshlens_v1_KernelTelemetryDefinition }
      NetnsIdentity: MessageTypeDefinition<_meshlens_v1_NetnsIdentity, _meshlens_v1_NetnsIdentity__Output>
      NodeIdentity: MessageTypeDefinition<_meshlens_v1_NodeIdentity, _meshlens_v1_NodeIdentity__Output>
      RetransmitEventsByCause: MessageTypeDefinition<_meshlens_v1_RetransmitEventsByCause, _meshlens_v1_RetransmitEventsByCause__Output>
    }
  }
}

