// A gRPC bidirectional call served on node:http2 directly, for the one method whose cost per connection decides how
// fast filters come back after a restart or a replica failure: PolicyDiscovery.StreamPolicies. Every other method
// stays with @grpc/grpc-js on the same port and the same sessions (grpc-listener.ts routes each stream by path).
//
// Why: a reconnect is a TCP accept, an HTTP/2 session and one call. Measured on this 2-core machine (3,000 connects
// of one bidi call each, server CPU per connect, three rounds): grpc-js 0.38-0.55 ms, the same call on node:http2
// 0.26-0.42 ms. grpc-js builds, per call, a BaseServerInterceptingCall (peer and local addresses read through
// getpeername/getsockname, Metadata parsed from the headers, a deadline timer, a decompression filter, an interceptor
// chain) and copies each outgoing message into a new framed buffer (src/server-interceptors.ts serializeMessage):
// with 10,000 streams that is one copy of the snapshot per stream. Here the shared, already framed snapshot is
// written as is.
//
// The wire protocol is gRPC over HTTP/2 as grpc-js's server speaks it (PROTOCOL-HTTP2.md in grpc/grpc; @grpc/grpc-js
// 1.14 src/server.ts _verifyContentType, src/server-interceptors.ts): 415 for a content-type other than
// application/grpc*, response headers on the first message, grpc-status/grpc-message (encodeURI, as grpc-js) and the
// status's metadata as trailers, a trailers-only response when the call ends before any message, RESOURCE_EXHAUSTED
// "Received message larger than max" past the receive limit, grpc-timeout honoured; unlike grpc-js, a stream whose
// status went out while the client still sends is reset with NO_ERROR (#stopRequest). Compressed messages are refused
// (INTERNAL): the response headers advertise only identity, and Envoy's gRPC client never compresses (envoy v1.36.0
// source/common/grpc/async_client_impl.cc sendMessageRaw → common.cc prependGrpcFrameHeader, flags GRPC_FH_DEFAULT).
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { Metadata } from '@grpc/grpc-js';

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE } = http2.constants;
const OK = 0, DEADLINE_EXCEEDED = 4, RESOURCE_EXHAUSTED = 8, INTERNAL = 13;
const RESPONSE_HEADERS = { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto', 'grpc-accept-encoding': 'identity' };
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface GrpcStatus {
  code?: number;
  details?: string;
  metadata?: Metadata;
}

export interface RawCallLimits {
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
}

/** A gRPC length-prefixed message (uncompressed): the 5-byte prefix and the message in one buffer. */
export function frameGrpcMessage(parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const framed = Buffer.allocUnsafe(5 + length);
  framed[0] = 0;
  framed.writeUInt32BE(length, 1);
  let offset = 5;
  for (const part of parts) { framed.set(part, offset); offset += part.length; }
  return framed;
}

/**
 * One call. Events: 'data' (each request message, a Buffer), 'end' (the client half-closed), 'close' (once, when the
 * HTTP/2 stream closed, whether after this side's status, a reset, a lost connection or the deadline).
 */
export class RawGrpcCall extends EventEmitter {
  readonly #stream: http2.ServerHttp2Stream;
  readonly #headers: http2.IncomingHttpHeaders;
  readonly #limits: RawCallLimits;
  // Received bytes not yet parsed, kept as chunks until `#need` bytes are there (the next prefix, or the whole
  // message once its prefix is read): joined once per message, not once per DATA frame, which for a 4 MiB message
  // trickled in small frames was quadratic.
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = 5;
  #headersSent = false;
  #statusSent = false;
  #requestEnded = false;
  #deadline: NodeJS.Timeout | undefined;

  /** Answers 415 and returns undefined for a request that is not gRPC, as grpc-js does. */
  static accept(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, limits: RawCallLimits): RawGrpcCall | undefined {
    stream.on('error', () => {});                       // every error also closes the stream: handled on 'close'
    const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond({ [HTTP2_HEADER_STATUS]: http2.constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE }, { endStream: true });
      return undefined;
    }
    return new RawGrpcCall(stream, headers, limits);
  }

  private constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, limits: RawCallLimits) {
    super();
    this.#stream = stream;
    this.#headers = headers;
    this.#limits = limits;
    const timeout = headers['grpc-timeout'];
    if (typeof timeout === 'string') {
      const match = /^(\d{1,8})([HMSmun])$/.exec(timeout);
      const ms = match ? Math.ceil(Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!) : Infinity;
      // Past setTimeout's range (2^31 - 1 ms, ~24.8 days) Node would fire at once: such a deadline is no deadline.
      if (ms <= MAX_TIMER_MS) this.#deadline = setTimeout(() => this.sendStatus({ code: DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), ms);
    }
    stream.on('data', (chunk: Buffer) => this.#read(chunk));
    stream.once('end', () => {
      this.#requestEnded = true;
      if (!this.#statusSent) this.emit('end');
    });
    stream.once('close', () => {
      clearTimeout(this.#deadline);
      this.#statusSent = true;
      this.emit('close');
    });
  }

  /** A request header (lower-case name), or undefined. */
  header(name: string): string | undefined {
    const value = this.#headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  get ended(): boolean {
    return this.#statusSent;
  }

  /**
   * Writes one message already framed (frameGrpcMessage): the buffer is written as is, never copied, so one buffer
   * can be shared by every call. `flushed` runs once it left for the socket, or the call ended without it.
   */
  write(framed: Buffer, flushed: () => void): void {
    if (this.#statusSent || this.#stream.destroyed) { queueMicrotask(flushed); return; }
    if (framed.length - 5 > this.#limits.maxSendMessageBytes) {
      this.sendStatus({ code: RESOURCE_EXHAUSTED, details: `Sent message larger than max (${framed.length - 5} vs. ${this.#limits.maxSendMessageBytes})` });
      queueMicrotask(flushed);
      return;
    }
    if (!this.#headersSent) {
      this.#headersSent = true;
      this.#stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    this.#stream.write(framed, () => flushed());
  }

  /** Ends the call with this status (once; later calls do nothing). */
  sendStatus(status: GrpcStatus): void {
    if (this.#statusSent) return;
    this.#statusSent = true;
    clearTimeout(this.#deadline);
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = {};
    for (const [key, value] of Object.entries(status.metadata?.getMap() ?? {})) {
      if (typeof value === 'string') trailers[key] = value;
    }
    trailers['grpc-status'] = String(status.code ?? OK);
    trailers['grpc-message'] = encodeURI(status.details ?? '');
    if (this.#headersSent) {
      stream.once('wantTrailers', () => {
        stream.sendTrailers(trailers);
        // The trailers are submitted from inside the session's write of the last DATA; a reset submitted in the same
        // turn went out instead of them (measured: Node 20, the client saw RST_STREAM and no trailers).
        setImmediate(() => this.#stopRequest());
      });
      stream.end();
    } else {
      stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
      this.#stopRequest();
    }
  }

  /**
   * The response is complete while the client may still send: RST_STREAM NO_ERROR asks it to stop (RFC 9113 §8.1),
   * queued after the final HEADERS, so a client that never half-closes does not hold the stream for the session's
   * life. Envoy's gRPC client resets the stream itself when the status arrives (envoy v1.36.0
   * source/common/grpc/async_client_impl.cc AsyncStreamImpl::onTrailers → resetStream → cleanup → stream_->reset()).
   */
  #stopRequest(): void {
    if (!this.#requestEnded && !this.#stream.closed) this.#stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }

  #read(chunk: Buffer): void {
    if (this.#statusSent) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < this.#need) return;
    let buffer = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [];
    this.#buffered = 0;
    this.#need = 5;
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (buffer[0] !== 0) {
        this.sendStatus({ code: INTERNAL, details: 'Compressed messages are not accepted (grpc-accept-encoding: identity)' });
        return;
      }
      if (length > this.#limits.maxReceiveMessageBytes) {
        this.sendStatus({ code: RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs. ${this.#limits.maxReceiveMessageBytes})` });
        return;
      }
      if (buffer.length < 5 + length) {
        this.#need = 5 + length;
        break;
      }
      const message = buffer.subarray(5, 5 + length);
      buffer = buffer.subarray(5 + length);
      this.emit('data', message);
      if (this.#statusSent) return;
    }
    if (buffer.length > 0) {
      this.#chunks.push(buffer);
      this.#buffered = buffer.length;
    }
  }
}
