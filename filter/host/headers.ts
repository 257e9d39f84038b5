// Header maps as Envoy exposes them to Wasm, and the proxy-wasm "pairs" wire format (§4).
export type HeaderList = [string, string][];

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder();

export function byteLength(s: string): number {
  // ASCII fast path: header names and most values are ASCII.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

// The pairs encoding is built in one pass into this reused buffer, then copied into module memory with one
// memcpy: no per-call allocation, and each string is walked once (not once to size it and again to write it).
let pairsScratch = new Uint8Array(4096);

/**
 * The pairs encoding of `headers` as a view of a shared scratch buffer, valid until the next call; empty for an
 * empty map (the host returns ptr 0/size 0 instead of a lone count).
 */
export function encodePairs(headers: HeaderList): Uint8Array {
  const count = headers.length;
  if (count === 0) return pairsScratch.subarray(0, 0);
  let worst = 4 + count * 8;
  for (let i = 0; i < count; i++) {
    const h = headers[i];
    worst += 3 * (h[0].length + h[1].length) + 2;
  }
  if (worst > pairsScratch.length) pairsScratch = new Uint8Array(Math.max(worst, pairsScratch.length * 2));
  const out = pairsScratch;
  out[0] = count; out[1] = count >>> 8; out[2] = count >>> 16; out[3] = count >>> 24;
  let lp = 4;
  let sp = 4 + count * 8;
  for (let i = 0; i < count; i++) {
    const h = headers[i];
    const kl = writeString(h[0], out, sp);
    sp += kl; out[sp++] = 0;
    const vl = writeString(h[1], out, sp);
    sp += vl; out[sp++] = 0;
    out[lp] = kl; out[lp + 1] = kl >>> 8; out[lp + 2] = kl >>> 16; out[lp + 3] = kl >>> 24;
    out[lp + 4] = vl; out[lp + 5] = vl >>> 8; out[lp + 6] = vl >>> 16; out[lp + 7] = vl >>> 24;
    lp += 8;
  }
  return out.subarray(0, sp);
}

/** Size of the pairs encoding; 0 for an empty map. */
export function pairsSize(headers: HeaderList): number {
  return encodePairs(headers).length;
}

export function writePairs(headers: HeaderList, out: Uint8Array, _dv: DataView, base: number): void {
  out.set(encodePairs(headers), base);
}

/** Writes UTF-8 at `at`, returning the byte count; ASCII is copied char by char (no subarray per string). */
function writeString(s: string, out: Uint8Array, at: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return utf8Encoder.encodeInto(s, out.subarray(at)).written;
    out[at + i] = c;
  }
  return n;
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

/**
 * Strings a module passes over and over — header names, the header values meshlens sets, property paths — decoded
 * (and derived: lower-cased, split) once. A lookup hashes and compares the bytes, which costs a fraction of
 * decoding them again on this hot path. Bounded: once full, new strings are decoded without being remembered.
 */
export class DecodedStrings<T> {
  private readonly buckets = new Map<number, { bytes: Uint8Array; value: T }[]>();
  // Modules pass most of these strings from the same addresses each time (static data, a reused buffer): the
  // entries last seen at an address are checked first, sparing the hash. Their bytes are still compared. A reused
  // buffer carries a few different strings in turn (meshlens sets two retry headers through one scratch block), so
  // an address remembers up to ADDRESS_WAYS of them, the latest first.
  private readonly byAddress = new Map<number, { bytes: Uint8Array; value: T }[]>();
  private entries = 0;
  constructor(private readonly capacity: number, private readonly derive: (decoded: string) => T) {}

  /** The caller has checked that [ptr, ptr + len) is inside `u8`. */
  get(u8: Uint8Array, ptr: number, len: number): T {
    const seen = this.byAddress.get(ptr);
    if (seen !== undefined) {
      for (let i = 0; i < seen.length; i++) {
        const e = seen[i];
        if (e.bytes.length === len && sameBytes(e.bytes, u8, ptr, len)) return e.value;
      }
    }
    const entry = this.lookup(u8, ptr, len);
    if (seen !== undefined) {
      if (seen.length >= ADDRESS_WAYS) seen.pop();
      seen.unshift(entry);
    } else if (this.byAddress.size < this.capacity) {
      this.byAddress.set(ptr, [entry]);
    }
    return entry.value;
  }

  private lookup(u8: Uint8Array, ptr: number, len: number): { bytes: Uint8Array; value: T } {
    let h = 0x811c9dc5 ^ len;
    for (let i = ptr, end = ptr + len; i < end; i++) h = Math.imul(h ^ u8[i], 0x01000193);
    const bucket = this.buckets.get(h);
    if (bucket) {
      for (let b = 0; b < bucket.length; b++) {
        const c = bucket[b];
        if (c.bytes.length === len && sameBytes(c.bytes, u8, ptr, len)) return c;
      }
    }
    const entry = { bytes: u8.slice(ptr, ptr + len), value: this.derive(decodeUtf8(u8, ptr, ptr + len)) };
    if (this.entries < this.capacity) {
      this.entries++;
      if (bucket) bucket.push(entry); else this.buckets.set(h, [entry]);
    }
    return entry;
  }
}

const ADDRESS_WAYS = 4;

function sameBytes(bytes: Uint8Array, u8: Uint8Array, ptr: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (bytes[i] !== u8[ptr + i]) return false;
  return true;
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
