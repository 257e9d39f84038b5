// A KernelTelemetry server on 127.0.0.1:0 recording every report, for agent tests.
import * as grpc from '@grpc/grpc-js';
import { meshlensGrpc } from '../../../control-plane/src/protos.ts';

export interface RecordingServer {
  address: string;
  reports: any[];
  /** Resolves once `n` reports have arrived. */
  waitFor(n: number): Promise<void>;
  failNext(count: number): void;
  close(): Promise<void>;
}

export async function startKernelTelemetryServer(): Promise<RecordingServer> {
  const server = new grpc.Server();
  const reports: any[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let failures = 0;
  server.addService(meshlensGrpc().KernelTelemetry.service, {
    Report(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      if (failures > 0) {
        failures--;
        callback({ code: grpc.status.UNAVAILABLE, details: 'injected failure' });
        return;
      }
      reports.push(call.request);
      callback(null, { sequence: call.request.sequence, acceptedFlows: call.request.flows.length, reportIntervalMs: 0 });
      for (const w of waiters.filter((w) => reports.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    address: `127.0.0.1:${port}`,
    reports,
    waitFor: (n) => (reports.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    failNext: (count) => {
      failures = count;
    },
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
