import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { BreakerPolicy as _meshlens_v1_BreakerPolicy, BreakerPolicy__Output as _meshlens_v1_BreakerPolicy__Output } from './meshlens/v1/BreakerPolicy.ts';
import type { Policy as _meshlens_v1_Policy, Policy__Output as _meshlens_v1_Policy__Output } from './meshlens/v1/Policy.ts';
import type { PolicyResource as _meshlens_v1_PolicyResource, PolicyResource__Output as _meshlens_v1_PolicyResource__Output } from './meshlens/v1/PolicyResource.ts';
import type { PolicyTarget as _meshlens_v1_PolicyTarget, PolicyTarget__Output as _meshlens_v1_PolicyTarget__Output } from './meshlens/v1/PolicyTarget.ts';
import type { RetryPolicy as _meshlens_v1_RetryPolicy, RetryPolicy__Output as _meshlens_v1_RetryPolicy__Output } from './meshlens/v1/RetryPolicy.ts';
import type { RetryRule as _meshlens_v1_RetryRule, RetryRule__Output as _meshlens_v1_RetryRule__Output } from './meshlens/v1/RetryRule.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  meshlens: {
    v1: {
      BreakerPolicy: MessageTypeDefinition<_meshlens_v1_BreakerPolicy, _meshlens_v1_BreakerPolicy__Output>
      BreakerState: EnumTypeDefinition
      Policy: MessageTypeDefinition<_meshlens_v1_Policy, _meshlens_v1_Policy__Output>
      PolicyResource: MessageTypeDefinition<_meshlens_v1_PolicyResource, _meshlens_v1_PolicyResource__Output>
      PolicyTarget: MessageTypeDefinition<_meshlens_v1_PolicyTarget, _meshlens_v1_PolicyTarget__Output>
      RetryDecision: EnumTypeDefinition
      RetryPolicy: MessageTypeDefinition<_meshlens_v1_RetryPolicy, _meshlens_v1_RetryPolicy__Output>
      RetryRule: MessageTypeDefinition<_meshlens_v1_RetryRule, _meshlens_v1_RetryRule__Output>
    }
  }
}

