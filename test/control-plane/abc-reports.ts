// The reports of the A/B/C correlation scenario the control-plane tests feed over gRPC: client-1 (netns 4026532100 on
// node-a) holds one connection to each endpoint of one cluster; from window ONSET, B loses packets (8 of 200 segments
// retransmitted, 6 % of its calls slow) and C answers 20 % errors, A stays clean. One builder, so the single-plane
// API test and the replicas' peer test judge exactly the same traffic.
import { messageType } from '../../control-plane/src/protos.ts';

export const CLUSTER = 'outbound|8080||orders.shop.svc.cluster.local';
export const ENDPOINTS = ['10.0.0.2', '10.0.1.2', '10.0.2.2'];      // A clean, B lossy from ONSET, C 20 % errors from ONSET
export const ONSET = 6;
export const WINDOWS = 12;
export const REPORT = '/meshlens.v1.Telemetry/Report';
export const KERNEL = '/meshlens.v1.KernelTelemetry/Report';
const reportType = messageType('TelemetryReport');
const kernelType = messageType('KernelReport');

/** Window w's filter report from client-1; with `breakers`, also its acme breaker (Open from ONSET). */
export function filterReport(start: number, w: number, options: { breakers?: boolean } = {}): Uint8Array {
  const faulty = w >= ONSET;
  const connections = ENDPOINTS.map((ip, i) => {
    const lossy = faulty && i === 1;
    const errors = faulty && i === 2 ? 20 : 0;
    return {
      localAddress: `10.0.9.1:${40000 + i}`, remoteAddress: `${ip}:8080`, cluster: CLUSTER,
      counters: { requests: 100, errors, durationMsSum: lossy ? 94 * 2 + 6 * 220 : 200, durationBuckets: lossy ? [0, 0, 94, 0, 0, 0, 0, 6] : [0, 0, 100] },
      routes: [{ pathTemplate: '/orders/{id}', tenant: 'acme', requests: 75, errors: errors / 2 }, { pathTemplate: '/pay', tenant: 'beta', requests: 25, errors: errors / 2 }],
    };
  });
  const report: Record<string, unknown> = { node: { id: 'client-1' }, windowStartUnixMs: start, windowEndUnixMs: start + 1000, connections };
  if (options.breakers) {
    report.breakers = [faulty
      ? { cluster: CLUSTER, tenant: 'acme', state: 'BREAKER_STATE_OPEN', policyId: 'orders', pathTemplate: '*', sinceUnixMs: start + 500,
        openUntilUnixMs: start + 600_000, openCause: 'BREAKER_OPEN_CAUSE_ERROR_RATE', tripRequests: 40, tripFailures: 24, transitions: w === ONSET ? 1 : 0 }
      : { cluster: CLUSTER, tenant: 'acme', state: 'BREAKER_STATE_CLOSED', policyId: 'orders', pathTemplate: '*' }];
  }
  return reportType.encode(reportType.fromObject(report)).finish();
}

/** Window w's kernel report from node-a's agent: the same three connections, B retransmitting from ONSET. */
export function kernelReport(start: number, w: number): Uint8Array {
  const faulty = w >= ONSET;
  const flows = ENDPOINTS.map((ip, i) => ({
    netns: 4026532100, family: 'ADDRESS_FAMILY_IPV4', localAddress: '10.0.9.1', localPort: 40000 + i, remoteAddress: ip, remotePort: 8080,
    retransSegs: faulty && i === 1 ? 8 : 0, segsOut: 200, srttUs: 300, direction: 'FLOW_DIRECTION_OUTBOUND',
  }));
  return kernelType.encode(kernelType.fromObject({
    node: { nodeName: 'node-a', agentId: 'agent-1' }, sequence: w + 1, intervalStartUnixMs: start + 200, intervalEndUnixMs: start + 1200, flows,
    netnsIdentities: [{ netns: 4026532100, proxyId: 'client-1', source: 'IDENTITY_SOURCE_ENV_NODE_ID' }],
  })).finish();
}
