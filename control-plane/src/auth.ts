// Bearer-token authentication. Admin tokens carry an identity (recorded in the audit trail). Proxies present either
// the shared proxy token (node agents, single-node setups: it may speak for any node) or a namespace-scoped one
// (what sidecars should get): a stream or report authenticated with a token scoped to namespace N may only name
// Istio nodes of N ("<type>~<ip>~<pod>.N~N.svc.<domain>"), so a token leaked from one sidecar cannot rewrite the
// rollout state or telemetry of nodes in other namespaces. The token file is JSON
// {"admin": {"<identity>": "<token>"}, "proxy": "<token>", "proxyScopes": {"<namespace>": "<token>"}}; on first
// start it is generated into the data directory (mode 0600; an existing one with group or other bits is refused)
// and the caller prints where it is, never the tokens.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkFileMode, secureDirectory } from './data-dir.ts';
import { invalidArgument, permissionDenied, unauthenticated } from './errors.ts';
import { quote } from './limits.ts';

export interface TokenFile {
  admin: Record<string, string>;
  proxy: string;
  proxyScopes?: Record<string, string>;
}

/** Who a proxy credential speaks for: every node ('*') or the nodes of one namespace. */
export interface ProxyPrincipal { scope: string }

// The kind prefix makes a leaked token recognisable (and greppable by secret scanners), and it keeps a token from
// starting with '-': 1 in 64 bare base64url tokens did, and `meshlens --token <it>` then read it as an option.
export function generateToken(kind: 'admin' | 'proxy'): string {
  return `meshlens_${kind}_${randomBytes(24).toString('base64url')}`;
}

export function generateTokenFile(): TokenFile {
  return { admin: { admin: generateToken('admin') }, proxy: generateToken('proxy') };
}

/** Loads the token file, creating it when absent. `created` tells the caller to print the tokens once. */
export function loadOrCreateTokens(path: string): { tokens: TokenFile; created: boolean } {
  if (!existsSync(path)) {
    const tokens = generateTokenFile();
    secureDirectory(dirname(path));
    writeFileSync(path, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return { tokens, created: true };
  }
  checkFileMode(path, 'token file');
  return { tokens: parseTokenFile(JSON.parse(readFileSync(path, 'utf8'))), created: false };
}

export function parseTokenFile(value: unknown): TokenFile {
  const file = value as Partial<TokenFile> | null;
  if (!file || typeof file !== 'object') throw invalidArgument('invalid token file: root must be an object');
  if (!file.admin || typeof file.admin !== 'object' || Object.keys(file.admin).length === 0) {
    throw invalidArgument('invalid token file: admin must map at least one identity to a token');
  }
  for (const [identity, token] of Object.entries(file.admin)) {
    if (typeof token !== 'string' || token.length < 16) {
      throw invalidArgument(`invalid token file: admin.${identity} must be a string of at least 16 characters`);
    }
  }
  if (typeof file.proxy !== 'string' || file.proxy.length < 16) {
    throw invalidArgument('invalid token file: proxy must be a string of at least 16 characters');
  }
  const scopes = file.proxyScopes ?? {};
  if (typeof scopes !== 'object' || Array.isArray(scopes)) throw invalidArgument('invalid token file: proxyScopes must map namespaces to tokens');
  for (const [namespace, token] of Object.entries(scopes)) {
    if (!NAMESPACE.test(namespace)) throw invalidArgument(`invalid token file: proxyScopes keys must be Kubernetes namespace names`);
    if (typeof token !== 'string' || token.length < 16) {
      throw invalidArgument(`invalid token file: proxyScopes.${namespace} must be a string of at least 16 characters`);
    }
  }
  return { admin: { ...file.admin }, proxy: file.proxy, proxyScopes: { ...scopes } };
}

const NAMESPACE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The namespace of an Istio node id ("sidecar~10.0.0.5~orders-1.default~default.svc.cluster.local"), or undefined. */
export function namespaceOfNode(nodeId: string): string | undefined {
  const parts = nodeId.split('~');
  if (parts.length !== 4) return undefined;
  const namespace = parts[3].split('.')[0];
  const pod = parts[2];
  return NAMESPACE.test(namespace) && pod.endsWith(`.${namespace}`) ? namespace : undefined;
}

/** Refuses a node a scoped proxy credential may not speak for (PERMISSION_DENIED). */
export function authorizeNode(principal: ProxyPrincipal, nodeId: string): void {
  if (principal.scope === '*' || namespaceOfNode(nodeId) === principal.scope) return;
  throw permissionDenied(`permission denied: node.id must be an Istio node of namespace ${principal.scope} for this token (got ${quote(nodeId)})`);
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares tokens in constant time (over their digests, so lengths do not leak either). */
export class Authenticator {
  readonly #admin: { identity: string; digest: Buffer }[];
  readonly #proxy: { scope: string; digest: Buffer }[];

  constructor(tokens: TokenFile) {
    this.#admin = Object.entries(tokens.admin).map(([identity, token]) => ({ identity, digest: digest(token) }));
    this.#proxy = [{ scope: '*', digest: digest(tokens.proxy) },
      ...Object.entries(tokens.proxyScopes ?? {}).map(([scope, token]) => ({ scope, digest: digest(token) }))];
  }

  /** Returns the identity of an admin `authorization` header value or throws UNAUTHENTICATED. */
  admin(authorization: string | undefined): string {
    const presented = bearer(authorization);
    let identity: string | undefined;
    for (const entry of this.#admin) if (timingSafeEqual(entry.digest, presented) && identity === undefined) identity = entry.identity;
    if (identity === undefined) throw unauthenticated('unauthenticated: authorization must carry a valid admin bearer token');
    return identity;
  }

  /** Accepts the shared or a namespace-scoped proxy token and says whom it speaks for, or throws UNAUTHENTICATED. */
  proxy(authorization: string | undefined): ProxyPrincipal {
    const presented = bearer(authorization);
    let scope: string | undefined;
    for (const entry of this.#proxy) if (timingSafeEqual(entry.digest, presented) && scope === undefined) scope = entry.scope;
    if (scope === undefined) throw unauthenticated('unauthenticated: authorization must carry the proxy bearer token');
    return { scope };
  }
}

function bearer(authorization: string | undefined): Buffer {
  // A header longer than any token we issue is refused before it is hashed or matched.
  if ((authorization?.length ?? 0) > 4096) throw unauthenticated('unauthenticated: authorization must be "Bearer <token>"');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw unauthenticated('unauthenticated: authorization must be "Bearer <token>"');
  return digest(match[1]);
}

/** First `authorization` metadata value of a gRPC call, as a string. */
export function authorizationOf(metadata: { get(key: string): (string | Buffer)[] }): string | undefined {
  const value = metadata.get('authorization')[0];
  return value === undefined ? undefined : String(value);
}
