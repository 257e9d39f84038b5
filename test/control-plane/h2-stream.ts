// One gRPC bidirectional stream on its own HTTP/2 connection, framed by hand over a net.Socket: what the simulated
// filter VMs of reconnecting-streams.ts speak. A node:http2 session per (re)connect cost the simulating process
// ~0.5-0.8 ms of CPU (measured: 1,000 connects to a control plane, 0.54-0.77 ms each) against ~0.2-0.3 ms for the
// same connect framed here, and at 10,000 simulated proxies that process shares the 2 cores with the replicas it
// measures: after a replica kill its timers fired ~0.3-0.8 s late. The protocol is not simplified: connection
// preface and SETTINGS (ACKed both ways), PING answered, flow-control windows as Envoy's HTTP/2 defaults (16 MiB per
// stream, 24 MiB per connection: envoy v1.36.0 api/envoy/config/core/v3/protocol.proto Http2ProtocolOptions) and
// replenished, DATA padding, CONTINUATION, RST_STREAM and GOAWAY. Request headers are HPACK literals (never indexed,
// no Huffman: RFC 7541 §6.2.2, which any decoder accepts). Responses are HPACK-decoded only when the stream ends on
// trailers, which is rare (a refusal or a shutdown): then the connection's header blocks are handed, in order, to
// node:http2's own decoder (nghttp2) over an in-memory connection, so the gRPC status and message are exactly what a
// node:http2 client would have read.
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { frameGrpcMessage } from '../../control-plane/src/grpc-raw-call.ts';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, CONTINUATION = 9;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20;
const STREAM_WINDOW = 16 << 20, CONNECTION_WINDOW = 24 << 20;
const STREAM = 1;                                         // the one stream of the connection
const UNAVAILABLE = 14;

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const out = Buffer.allocUnsafe(9);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId, 5);
  return out;
}

/** HPACK integer with an n-bit prefix (RFC 7541 §5.1), `first` holding the representation's high bits. */
function hpackInteger(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 127) | 128);
  out.push(value);
  return out;
}

/** Literal header field without indexing (RFC 7541 §6.2.2), name by static-table index or as a literal. */
function literal(name: number | string, value: string): Buffer {
  const v = Buffer.from(value);
  const head = typeof name === 'number' ? Buffer.from(hpackInteger(name, 4, 0)) : Buffer.concat([Buffer.from([0]), Buffer.from(hpackInteger(name.length, 7, 0)), Buffer.from(name)]);
  return Buffer.concat([head, Buffer.from(hpackInteger(v.length, 7, 0)), v]);
}

/** The request's header block (static table indexes: RFC 7541 Appendix A). Built once per address and token. */
export function requestHeaderBlock(authority: string, path: string, token: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),                             // :method POST (3), :scheme http (6), indexed
    literal(4, path), literal(1, authority), literal(31, 'application/grpc'), literal('te', 'trailers'),
    literal(23, `Bearer ${token}`),
  ]);
}

export interface H2StreamEvents {
  /** TCP connected (the preface and the request go out at once, as Envoy's codec sends them). */
  connected(): void;
  /** One gRPC message of the response. */
  message(bytes: Buffer): void;
  /** Once, however the stream ended: gRPC status and details (connection failures as UNAVAILABLE, as gRPC maps them). */
  ended(code: number, details: string): void;
}

export class H2GrpcStream {
  readonly #socket: net.Socket;
  readonly #events: H2StreamEvents;
  #up = false;
  #ended = false;
  #pending: Buffer = Buffer.alloc(0);
  #grpc: Buffer = Buffer.alloc(0);
  #blocks: Buffer[] = [];                                 // every header block of the stream, in order
  #block: Buffer[] | undefined;                           // a block awaiting CONTINUATION
  #blockEndsStream = false;
  #streamUnacked = 0;                                     // DATA bytes received since the last WINDOW_UPDATE
  #connectionUnacked = 0;
  #goaway: string | undefined;

  constructor(address: string, headerBlock: Buffer, firstMessage: Uint8Array, events: H2StreamEvents) {
    this.#events = events;
    const colon = address.lastIndexOf(':');
    this.#socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true });
    const body = frameGrpcMessage([firstMessage]);
    // SETTINGS: ENABLE_PUSH 0 (id 2), INITIAL_WINDOW_SIZE (id 4); the connection window grows by a WINDOW_UPDATE.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(2, 0); settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(4, 6); settings.writeUInt32BE(STREAM_WINDOW, 8);
    this.#socket.write(Buffer.concat([
      PREFACE, frameHeader(12, SETTINGS, 0, 0), settings, this.#windowUpdate(0, CONNECTION_WINDOW - 65535),
      frameHeader(headerBlock.length, HEADERS, END_HEADERS, STREAM), headerBlock, frameHeader(body.length, DATA, 0, STREAM), body,
    ]));
    this.#socket.once('connect', () => { this.#up = true; events.connected(); });
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.on('error', (error: NodeJS.ErrnoException) => this.#end(UNAVAILABLE, `${this.#up ? 'connection error' : 'connect failed'}: ${error.code ?? error.message}`));
    this.#socket.on('close', () => this.#end(UNAVAILABLE, this.#goaway ?? (this.#up ? 'connection dropped' : 'connect failed')));
  }

  write(message: Uint8Array): void {
    if (this.#ended) return;
    const body = frameGrpcMessage([message]);
    this.#socket.write(Buffer.concat([frameHeader(body.length, DATA, 0, STREAM), body]));
  }

  destroy(): void {
    this.#ended = true;
    this.#socket.destroy();
  }

  #end(code: number, details: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#socket.destroy();
    this.#events.ended(code, details);
  }

  #windowUpdate(streamId: number, increment: number): Buffer {
    const out = Buffer.concat([frameHeader(4, 8, 0, streamId), Buffer.alloc(4)]);
    out.writeUInt32BE(increment, 9);
    return out;
  }

  #read(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (!this.#ended && this.#pending.length >= 9) {
      const length = this.#pending.readUIntBE(0, 3);
      if (this.#pending.length < 9 + length) break;
      const type = this.#pending[3], flags = this.#pending[4], streamId = this.#pending.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#pending.subarray(9, 9 + length);
      this.#pending = this.#pending.subarray(9 + length);
      this.#frame(type, flags, streamId, payload);
    }
  }

  #frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const unpadded = (p: Buffer, extra = 0) => (flags & PADDED ? p.subarray(1 + extra, p.length - p[0]) : p.subarray(extra));
    switch (type) {
      case DATA: {
        // Flow control counts the whole frame, padding included (RFC 9113 §6.9.1).
        this.#streamUnacked += payload.length;
        this.#connectionUnacked += payload.length;
        if (this.#connectionUnacked >= CONNECTION_WINDOW / 2) { this.#socket.write(this.#windowUpdate(0, this.#connectionUnacked)); this.#connectionUnacked = 0; }
        if (this.#streamUnacked >= STREAM_WINDOW / 2) { this.#socket.write(this.#windowUpdate(STREAM, this.#streamUnacked)); this.#streamUnacked = 0; }
        this.#messages(unpadded(payload));
        if (flags & END_STREAM) this.#end(UNAVAILABLE, 'stream ended without trailers');
        return;
      }
      case HEADERS:
        if (streamId !== STREAM) return;
        this.#block = [unpadded(payload, flags & PRIORITY ? 5 : 0)];
        this.#blockEndsStream = (flags & END_STREAM) !== 0;
        if (flags & END_HEADERS) this.#headersDone();
        return;
      case CONTINUATION:
        this.#block?.push(payload);
        if (flags & END_HEADERS) this.#headersDone();
        return;
      case RST_STREAM:
        if (streamId === STREAM) this.#end(UNAVAILABLE, `stream reset (RST ${payload.readUInt32BE(0)})`);
        return;
      case SETTINGS:
        if (!(flags & ACK)) this.#socket.write(frameHeader(0, SETTINGS, ACK, 0));
        return;
      case PING:
        if (!(flags & ACK)) this.#socket.write(Buffer.concat([frameHeader(8, PING, ACK, 0), payload]));
        return;
      case GOAWAY: {
        const lastStream = payload.readUInt32BE(0) & 0x7fffffff;
        this.#goaway = `goaway (code ${payload.readUInt32BE(4)}${payload.length > 8 ? `, ${payload.subarray(8).toString('utf8').slice(0, 40)}` : ''})`;
        // Our stream was never processed: it will get no answer on this connection.
        if (lastStream < STREAM) this.#end(UNAVAILABLE, this.#goaway);
        return;
      }
      default:                                            // PRIORITY, WINDOW_UPDATE (we send little), unknown: ignored
    }
  }

  #messages(data: Buffer): void {
    this.#grpc = this.#grpc.length === 0 ? data : Buffer.concat([this.#grpc, data]);
    while (!this.#ended && this.#grpc.length >= 5) {
      const length = this.#grpc.readUInt32BE(1);
      if (this.#grpc.length < 5 + length) break;
      const message = this.#grpc.subarray(5, 5 + length);
      this.#grpc = this.#grpc.subarray(5 + length);
      this.#events.message(message);
    }
  }

  #headersDone(): void {
    this.#blocks.push(Buffer.concat(this.#block!));
    this.#block = undefined;
    if (!this.#blockEndsStream) return;
    // Trailers (or a trailers-only answer): decoded now, the stream's end reported once they are.
    const blocks = this.#blocks;
    this.#ended = true;
    this.#socket.destroy();
    decodeTrailers(blocks).then(
      ({ status, message }) => this.#events.ended(status, message),
      (error: Error) => this.#events.ended(UNAVAILABLE, `trailers not decoded: ${error.message}`));
  }
}

/**
 * The gRPC status and message of a stream's last header block, decoded by node:http2 (nghttp2's HPACK decoder, whose
 * dynamic table needs every block of the connection in order): a client session over an in-memory connection is
 * fed a server's SETTINGS and the blocks as HEADERS frames of its stream 1.
 */
export function decodeTrailers(blocks: readonly Buffer[]): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    let fed = false;
    const wire = new Duplex({
      read() {},
      write(_chunk, _encoding, done) {
        done();
        // The client's request HEADERS are out once it writes past its preface: stream 1 exists, the answer may come.
        if (fed) return;
        fed = true;
        setImmediate(() => {
          wire.push(frameHeader(0, SETTINGS, 0, 0));
          blocks.forEach((block, k) => wire.push(Buffer.concat([frameHeader(block.length, HEADERS, END_HEADERS | (k === blocks.length - 1 ? END_STREAM : 0), STREAM), block])));
        });
      },
    });
    const session = http2.connect('http://decoder.invalid', { createConnection: () => wire as unknown as net.Socket });
    const timer = setTimeout(() => finish(new Error('no trailers')), 5000);
    const finish = (error: Error | null, headers?: http2.IncomingHttpHeaders) => {
      clearTimeout(timer);
      session.destroy();
      if (error || !headers || headers['grpc-status'] === undefined) reject(error ?? new Error('no grpc-status'));
      else resolve({ status: Number(headers['grpc-status']), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    };
    session.on('error', (error) => finish(error));
    const request = session.request({ ':method': 'POST', ':path': '/' }, { endStream: true });
    request.on('error', (error) => finish(error));
    request.on('response', (headers) => { if (headers['grpc-status'] !== undefined) finish(null, headers); });
    request.on('trailers', (headers) => finish(null, headers));
    request.resume();
  });
}
