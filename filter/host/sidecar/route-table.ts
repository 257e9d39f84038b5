// First-match route selection on authority and path prefix, like an Envoy route table with one virtual host per
// distinct authority (plus the catch-all) and prefix matches.

export interface RouteConfig {
  prefix?: string; // matched against :path (query included), default "/"
  authority?: string; // exact host, compared case-insensitively with or without the port; "*" or absent = any
  cluster: string;
  timeoutMs?: number; // Envoy route timeout (includes retries), default 15 s, 0 = none
}

function authorityMatches(pattern: string | undefined, authority: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  const wanted = pattern.toLowerCase();
  const actual = authority.toLowerCase();
  return actual === wanted || actual.replace(/:\d+$/, '') === wanted;
}

export function matchRoute(routes: readonly RouteConfig[], authority: string, path: string): RouteConfig | undefined {
  return routes.find((r) => authorityMatches(r.authority, authority) && path.startsWith(r.prefix ?? '/'));
}
