// Header maps as Envoy exposes them to Wasm, and the proxy-wasm "pairs" wire format (§4).
export type HeaderList = [string, string][];

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder();

export function byteLength(s: string): number {
  // ASCII fast path: header names and most values are ASCII.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Size of the pairs encoding; 0 for an empty map (the host returns ptr 0/size 0 instead of a lone count). */
export function pairsSize(headers: HeaderList): number {
  if (headers.length === 0) return 0;
  let n = 4;
  for (const [k, v] of headers) n += 10 + byteLength(k) + byteLength(v);
  return n;
}

export function writePairs(headers: HeaderList, out: Uint8Array, dv: DataView, base: number): void {
  dv.setUint32(base, headers.length, true);
  let lp = base + 4;
  let sp = base + 4 + headers.length * 8;
  for (const [k, v] of headers) {
    const kl = writeString(k, out, sp);
    sp += kl; out[sp++] = 0;
    const vl = writeString(v, out, sp);
    sp += vl; out[sp++] = 0;
    dv.setUint32(lp, kl, true); dv.setUint32(lp + 4, vl, true);
    lp += 8;
  }
}

/** Writes UTF-8 at `at`, returning the byte count; ASCII is copied char by char (no subarray per string). */
function writeString(s: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return utf8Encoder.encodeInto(s, out.subarray(at)).written;
    out[at + i] = c;
  }
  return s.length;
}

/** UTF-8 decode of bytes[start, end); short ASCII runs are decoded by hand (TextDecoder has a high fixed cost). */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c > 0x7f) return utf8Decoder.decode(bytes.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(bytes.subarray(start, end));
}

const MAX_PAIRS = 1024;
const MAX_PAIRS_BYTES = 1 << 20;

/** cpp-host PairsUtil::toPairs: anything malformed silently yields an empty map. */
export function parsePairs(bytes: Uint8Array): HeaderList {
  if (bytes.length < 4 || bytes.length > MAX_PAIRS_BYTES) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true);
  if (n > MAX_PAIRS) return [];
  let sp = 4 + n * 8;
  if (sp > bytes.length) return [];
  const out: HeaderList = [];
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + i * 8, true), vl = dv.getUint32(8 + i * 8, true);
    if (sp + kl + 1 + vl + 1 > bytes.length) return [];
    if (bytes[sp + kl] !== 0 || bytes[sp + kl + 1 + vl] !== 0) return [];
    const k = decodeUtf8(bytes, sp, sp + kl);
    const v = decodeUtf8(bytes, sp + kl + 1, sp + kl + 1 + vl);
    out.push([k, v]);
    sp += kl + vl + 2;
  }
  return sp === bytes.length ? out : [];
}

export function firstValue(headers: HeaderList, lowerKey: string): string | undefined {
  for (let i = 0; i < headers.length; i++) if (headers[i][0] === lowerKey) return headers[i][1];
  return undefined;
}
/** Envoy joins repeated headers with "," when a single value is asked for through request.headers. */
export function joinedValue(headers: HeaderList, lowerKey: string): string | undefined {
  let out: string | undefined;
  for (const [k, v] of headers) if (k === lowerKey) out = out === undefined ? v : `${out},${v}`;
  return out;
}
export function removeAll(headers: HeaderList, lowerKey: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i][0] === lowerKey) headers.splice(i, 1);
}
export function headerBytes(headers: HeaderList): number {
  let n = 0;
  for (const [k, v] of headers) n += byteLength(k) + byteLength(v);
  return n;
}
