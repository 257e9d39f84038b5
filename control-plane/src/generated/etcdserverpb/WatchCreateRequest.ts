// Original file: protos/etcd/rpc.proto

import type { Long } from '@grpc/proto-loader';

// Original file: protos/etcd/rpc.proto

export const _etcdserverpb_WatchCreateRequest_FilterType = {
  NOPUT: 'NOPUT',
  NODELETE: 'NODELETE',
} as const;

export type _etcdserverpb_WatchCreateRequest_FilterType =
  | 'NOPUT'
  | 0
  | 'NODELETE'
  | 1

export type _etcdserverpb_WatchCreateRequest_FilterType__Output = typeof _etcdserverpb_WatchCreateRequest_FilterType[keyof typeof _etcdserverpb_WatchCreateRequest_FilterType]

export interface WatchCreateRequest {
  'key'?: (Buffer | Uint8Array | string);
  'rangeEnd'?: (Buffer | Uint8Array | string);
  'startRevision'?: (number | string | Long);
  'progressNotify'?: (boolean);
  'filters'?: (_etcdserverpb_WatchCreateRequest_FilterType)[];
  'prevKv'?: (boolean);
  'watchId'?: (number | string | Long);
  'fragment'?: (boolean);
}

export interface WatchCreateRequest__Output {
  'key': (Buffer);
  'rangeEnd': (Buffer);
  'startRevision': (string);
  'progressNotify': (boolean);
  'filters': (_etcdserverpb_WatchCreateRequest_FilterType__Output)[];
  'prevKv': (boolean);
  'watchId': (string);
  'fragment': (boolean);
}
