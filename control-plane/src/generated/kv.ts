import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Event as _mvccpb_Event, Event__Output as _mvccpb_Event__Output } from './mvccpb/Event.ts';
import type { KeyValue as _mvccpb_KeyValue, KeyValue__Output as _mvccpb_KeyValue__Output } from './mvccpb/KeyValue.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  mvccpb: {
    Event: MessageTypeDefinition<_mvccpb_Event, _mvccpb_Event__Output>
    KeyValue: MessageTypeDefinition<_mvccpb_KeyValue, _mvccpb_KeyValue__Output>
  }
}

