// The console's static files (/ui/), served by the control plane's HTTP server. The page itself holds no data and
// needs no token; everything it shows comes from the admin API (/v1/...), which refuses it without the admin bearer
// token like any other client. A fixed list of files, read once, with a strict Content-Security-Policy: only this
// origin's script and style, no inline code, no framing, API calls to this origin only.
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const UI_DIR = fileURLToPath(new URL('./', import.meta.url));

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

let assets: Map<string, Buffer> | undefined;

function load(): Map<string, Buffer> | undefined {
  if (assets) return assets;
  try {
    assets = new Map(Object.keys(FILES).map((name) => [name, readFileSync(UI_DIR + name)]));
  } catch {
    // A build that did not ship the files (control-plane/ui/*) answers 404 below instead of failing the server.
    return undefined;
  }
  return assets;
}

/** Answers GET /ui and /ui/...; returns false for any other path. */
export function serveConsole(pathname: string, res: ServerResponse): boolean {
  if (pathname !== '/ui' && !pathname.startsWith('/ui/')) return false;
  if (pathname === '/ui') {
    res.writeHead(301, { location: '/ui/', ...SECURITY_HEADERS });
    res.end();
    return true;
  }
  const name = pathname === '/ui/' ? 'index.html' : pathname.slice('/ui/'.length);
  const files = load();
  const body = Object.hasOwn(FILES, name) ? files?.get(name) : undefined;
  if (body === undefined) {
    const text = JSON.stringify({ code: 'NOT_FOUND', message: files ? `no console file ${name}` : `console files missing from ${UI_DIR}` });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...SECURITY_HEADERS });
    res.end(text);
    return true;
  }
  res.writeHead(200, { 'content-type': FILES[name]!, 'content-length': body.length, ...SECURITY_HEADERS });
  res.end(body);
  return true;
}
