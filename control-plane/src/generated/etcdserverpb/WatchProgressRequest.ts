// Original file: protos/etcd/rpc.proto


export interface WatchProgressRequest {
}

export interface WatchProgressRequest__Output {
}
