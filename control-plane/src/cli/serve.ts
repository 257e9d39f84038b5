// `meshlens serve`: the control plane itself. server.ts (gRPC, SQLite, prom-client) is imported only here, so the
// client commands start without loading it.
import { DEFAULT_DATA_DIR, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT } from '../defaults.ts';
import { UsageError, type Command } from './framework.ts';
import { parseEndpoints } from '../etcd-client.ts';

function port(value: string | boolean | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || number > 65535) throw new UsageError(`invalid flag: --${flag} must be a port in [0, 65535]`);
  return number;
}

export const serveCommand: Command = {
  path: ['serve'], summary: 'run the control plane (gRPC discovery, telemetry, admin; HTTP admin API and /metrics)',
  details: `The data directory (--data-dir, default ${DEFAULT_DATA_DIR}) holds the SQLite store and tokens.json, generated on first\n` +
    'start (mode 0600; its path is printed, never the tokens). --token-file names another token file.\n' +
    '--store etcd keeps policies in etcd instead, shared by every replica started with the same --etcd-endpoints\n' +
    '(and the same token file); /readyz answers 503 with the reason until etcd answers.',
  options: {
    'grpc-port': { type: 'string', value: 'N', description: `gRPC port (default ${DEFAULT_GRPC_PORT}; 0 = ephemeral)` },
    'http-port': { type: 'string', value: 'N', description: `HTTP port (default ${DEFAULT_HTTP_PORT}; 0 = ephemeral)` },
    host: { type: 'string', value: 'HOST', description: 'address to bind both ports to (default 127.0.0.1, loopback only)' },
    'tls-cert': { type: 'string', value: 'FILE', description: 'TLS certificate chain (PEM) for gRPC and the HTTP admin API, with --tls-key' },
    'tls-key': { type: 'string', value: 'FILE', description: 'TLS private key (PEM)' },
    'tls-ca': { type: 'string', value: 'FILE', description: 'CA for client certificates: clients must present one (mTLS)' },
    store: { type: 'string', value: 'sqlite|etcd', description: 'policy store (env MESHLENS_STORE; default sqlite, in the data directory)' },
    'etcd-endpoints': { type: 'string', value: 'HOST:PORT,...', description: 'etcd members for --store etcd (env MESHLENS_ETCD_ENDPOINTS)' },
    'etcd-prefix': { type: 'string', value: 'PREFIX', description: 'key prefix in etcd (env MESHLENS_ETCD_PREFIX; default /meshlens/)' },
    'etcd-ca': { type: 'string', value: 'FILE', description: 'TLS to etcd: CA its certificates are checked against (env MESHLENS_ETCD_CA; default: the system\'s)' },
    'etcd-cert': { type: 'string', value: 'FILE', description: 'TLS to etcd: client certificate (PEM), with --etcd-key (env MESHLENS_ETCD_CERT)' },
    'etcd-key': { type: 'string', value: 'FILE', description: 'TLS to etcd: client private key (PEM) (env MESHLENS_ETCD_KEY)' },
    'advertise-address': { type: 'string', value: 'HOST:PORT', description: 'with --store etcd: where the other replicas reach this one\'s gRPC port to share telemetry (env MESHLENS_ADVERTISE_ADDRESS; default the bound host:grpc port)' },
    'peer-authority': { type: 'string', value: 'HOST[:PORT]', description: 'with --store etcd: :authority of calls to the other replicas (env MESHLENS_PEER_AUTHORITY; Istio: their headless Service)' },
  },
  async run({ flags, io }) {
    if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) throw new UsageError('invalid flag: --tls-cert and --tls-key must be given together');
    const grpcPort = port(flags['grpc-port'], DEFAULT_GRPC_PORT, 'grpc-port');
    const httpPort = port(flags['http-port'], DEFAULT_HTTP_PORT, 'http-port');
    const store = storeOf(flags, io.env);
    const { advertiseAddress, peerAuthority } = peersOf(flags, io.env, store.kind);
    const { startControlPlane } = await import('../server.ts');
    const plane = await startControlPlane({
      dataDir: (flags['data-dir'] as string | undefined) ?? DEFAULT_DATA_DIR,
      grpcHost: flags.host as string | undefined, httpHost: flags.host as string | undefined, grpcPort, httpPort,
      tokenFile: flags['token-file'] as string | undefined, store, advertiseAddress, peerAuthority,
      tls: flags['tls-cert'] ? { certFile: flags['tls-cert'] as string, keyFile: flags['tls-key'] as string, caFile: flags['tls-ca'] as string | undefined } : undefined,
      onTokensCreated: (_tokens, path) => {
        // Where, never what: stdout ends up in pod logs, and a token there is readable by whoever reads logs.
        io.stdout(`meshlens: generated the admin and proxy tokens in ${path} (mode 0600)\n`);
      },
    });
    io.stdout(JSON.stringify({ event: 'listening', grpcPort: plane.grpcPort, httpPort: plane.httpPort }) + '\n');
    const stop = () => { plane.close().then(() => process.exit(0), () => process.exit(1)); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Resolves never: the process lives until a signal.
    return new Promise<number>(() => {});
  },
};

/** Where the other replicas reach this one (etcd store only: SQLite has no peers). */
function peersOf(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv, store: 'sqlite' | 'etcd') {
  const advertiseAddress = (flags['advertise-address'] as string | undefined) ?? env.MESHLENS_ADVERTISE_ADDRESS;
  const peerAuthority = (flags['peer-authority'] as string | undefined) ?? env.MESHLENS_PEER_AUTHORITY;
  if (store !== 'etcd') {
    if (advertiseAddress !== undefined || peerAuthority !== undefined) throw new UsageError('invalid flag: --advertise-address and --peer-authority must come with --store etcd');
    return {};
  }
  // A pod IP may be IPv6: [addr]:port as gRPC targets take it.
  const hostPort = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(advertiseAddress ?? '');
  if (advertiseAddress !== undefined && (!hostPort || Number(hostPort[1]) > 65535 || Number(hostPort[1]) === 0)) {
    throw new UsageError('invalid flag: --advertise-address must be one host:port (port 1-65535)');
  }
  if (peerAuthority !== undefined && !/^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(peerAuthority)) {
    throw new UsageError('invalid flag: --peer-authority must be a host name, optionally with :port');
  }
  return { advertiseAddress, peerAuthority };
}

/** --store and its etcd settings (flags over MESHLENS_* variables); a bad value is a usage error naming the rule. */
function storeOf(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const kind = (flags.store as string | undefined) ?? env.MESHLENS_STORE ?? 'sqlite';
  const endpoints = (flags['etcd-endpoints'] as string | undefined) ?? env.MESHLENS_ETCD_ENDPOINTS;
  const prefix = (flags['etcd-prefix'] as string | undefined) ?? env.MESHLENS_ETCD_PREFIX;
  const caFile = (flags['etcd-ca'] as string | undefined) ?? env.MESHLENS_ETCD_CA;
  const certFile = (flags['etcd-cert'] as string | undefined) ?? env.MESHLENS_ETCD_CERT;
  const keyFile = (flags['etcd-key'] as string | undefined) ?? env.MESHLENS_ETCD_KEY;
  const tls = caFile !== undefined || certFile !== undefined || keyFile !== undefined;
  if (kind === 'sqlite') {
    if (endpoints !== undefined || prefix !== undefined || tls) {
      throw new UsageError('invalid flag: --etcd-endpoints, --etcd-prefix and --etcd-ca/--etcd-cert/--etcd-key must come with --store etcd');
    }
    return { kind: 'sqlite' as const };
  }
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('invalid flag: --etcd-cert and --etcd-key must be given together');
  if (kind !== 'etcd') throw new UsageError('invalid flag: --store must be sqlite or etcd');
  if (endpoints === undefined) throw new UsageError('invalid flag: --etcd-endpoints must be given with --store etcd');
  if (prefix !== undefined && !/^\/[A-Za-z0-9._/-]{0,126}\/$/.test(prefix)) throw new UsageError('invalid flag: --etcd-prefix must be a path starting and ending with /');
  try {
    return { kind: 'etcd' as const, endpoints: parseEndpoints(endpoints), prefix, tls: tls ? { caFile, certFile, keyFile } : undefined };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
