// The downstream request body, streamed the way Envoy's router streams it: data goes upstream as it arrives, and a
// copy is kept only so that a retry can replay it, up to the buffer limit. Past the limit the copy is dropped and
// retries are abandoned (envoy v1.36.0 63ee0dc79d source/common/router/router.cc Filter::decodeData:
// retry_or_shadow_abandoned, retry_state_.reset()), so a 100 MB body never sits in memory. The meshlens filter
// registers no proxy_on_request_body, so nothing here buffers for the filter either.
import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';

/**
 * Envoy's default per_connection_buffer_limit_bytes (1 MiB), the limit the router's retry buffer falls back to when
 * the route sets no per_request_buffer_limit_bytes (envoy v1.36.0 source/common/router/router.cc
 * calculateEffectiveBufferLimit; api/envoy/config/listener/v3/listener.proto default 1 MiB).
 */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;

export type BodyState = 'open' | 'complete' | 'aborted';

/** What an upstream attempt reads the request body from. */
export interface BodySource {
  /** The downstream Content-Length when it sent one; absent for chunked bodies (forwarded chunked, as Envoy does). */
  readonly contentLength: number | undefined;
  /** False once the retained copy was dropped at the limit: a second attempt could not resend the body. */
  readonly replayable: boolean;
  /** Streams the body into an attempt: what is retained first, then the rest as it arrives; ends it at the end. */
  pipeTo(dest: Writable): void;
}

export class StreamedBody implements BodySource {
  state: BodyState = 'open';
  received = 0;
  private retained: Buffer[] = [];
  private retainedBytes = 0;
  private overflowed = false;
  private sink: Writable | undefined;
  private readonly onDrain = () => this.req.resume();

  constructor(private readonly req: IncomingMessage, readonly contentLength: number | undefined,
    private readonly limitBytes = DEFAULT_BUFFER_LIMIT_BYTES) {
    // Nothing is read until an attempt wants it: a request the filter or the router answers locally costs no body.
    req.pause();
    req.on('data', (chunk: Buffer) => this.onData(chunk));
    req.on('end', () => {
      this.state = 'complete';
      this.sink?.end();
      this.detach();
    });
  }

  get replayable(): boolean { return !this.overflowed; }

  /** The downstream went away or sent a malformed body: the attempt reading it is reset, nothing more is read. */
  abort(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.sink?.destroy();
    this.detach();
    this.retained = [];
    this.retainedBytes = 0;
  }

  pipeTo(dest: Writable): void {
    this.sink?.destroy(); // an earlier attempt that is being replaced (retry) reads no more
    this.detach();
    if (this.state === 'aborted' || this.overflowed) {
      dest.destroy();
      return;
    }
    for (const chunk of this.retained) dest.write(chunk);
    if (this.state === 'complete') {
      dest.end();
      return;
    }
    this.sink = dest;
    dest.on('drain', this.onDrain);
    this.req.resume();
  }

  private detach(): void {
    this.sink?.off('drain', this.onDrain);
    this.sink = undefined;
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    if (!this.overflowed) {
      if (this.retainedBytes + chunk.length > this.limitBytes) {
        this.overflowed = true;
        this.retained = [];
        this.retainedBytes = 0;
      } else {
        this.retained.push(chunk);
        this.retainedBytes += chunk.length;
      }
    }
    const sink = this.sink;
    if (!sink) {
      this.req.pause();
      return;
    }
    // Backpressure: a slow upstream pauses the downstream read (Envoy's watermark-based flow control).
    if (!sink.write(chunk)) this.req.pause();
  }
}
