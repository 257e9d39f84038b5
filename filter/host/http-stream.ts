// One HTTP stream through the filter, callback by callback, with Envoy's conversions: lazy context creation,
// header-map availability windows, deferred local replies that force a stop, on_log → on_done → on_delete,
// and fail-closed (503 wasm_fail_stream) or fail-open (filter skipped) once the VM has trapped.
import { FilterHeadersStatus } from './abi-constants.ts';
import { httpToGrpcStatus } from './properties.ts';
import { firstValue, type HeaderList } from './headers.ts';
import { StreamContext, type WasmVm } from './vm.ts';
import type { LocalReply, LogInfo, StreamProps } from './stream-types.ts';

export type RequestHeadersOutcome =
  | { action: 'continue' } | { action: 'localReply'; reply: LocalReply } | { action: 'failed' }
  | { action: 'paused' } | { action: 'reset' };
export type ResponseHeadersOutcome =
  | { action: 'continue' } | { action: 'failed' } | { action: 'localReply'; reply: LocalReply }
  | { action: 'paused' } | { action: 'reset' };

export interface HttpStream {
  requestHeaders(headers: [string, string][], endOfStream: boolean): RequestHeadersOutcome;
  forwardedRequestHeaders(): [string, string][];
  responseHeaders(headers: [string, string][], endOfStream: boolean): ResponseHeadersOutcome;
  /** Response headers after the filter mutated them. */
  /** Response headers after the filter mutated them (extension to the contract). */
  forwardedResponseHeaders?(): [string, string][];
  log(info: LogInfo): void;
  /** Settles when a paused stream is resumed (continue_stream), answered (send_local_response) or reset (extension). */
  whenResumed?(): Promise<RequestHeadersOutcome>;
}

/** The local reply Envoy sends when the filter's VM has failed and the plugin fails closed. */
export const FAIL_STREAM_REPLY: Readonly<LocalReply> = Object.freeze({
  status: 503, details: 'wasm_fail_stream', headers: [], body: '', grpcStatus: 14,
});

export interface StreamHost {
  /** Legacy fail_open (cpp-host PluginBase::fail_open_): a stream whose VM fails under it continues. */
  readonly failOpen: boolean;
  /** failure_policy: under FAIL_OPEN a stream created on an already failed VM skips the filter (createContext). */
  readonly failurePolicy: 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';
  nowNs(): bigint;
  /** The VM has no working filter on this thread (trap, or configure failed on this thread only). */
  bypassed(vm: WasmVm): boolean;
  /** Configure failed on this thread only: Envoy silently drops the filter there, whatever the fail strategy. */
  dropped(vm: WasmVm): boolean;
}

const NO_HEADERS: HeaderList = [];

/** Lower-cased copy: the filter mutates the forwarded map, never the caller's array. */
function copyHeaders(headers: [string, string][]): HeaderList {
  const out: HeaderList = new Array(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    out[i] = [h[0].toLowerCase(), h[1]];
  }
  return out;
}

function isStop(result: number): boolean {
  // Envoy: 0 and 2 (ContinueAndEndStream falls through the converter) continue; 1 becomes 4; >4 becomes 4.
  return !(result === FilterHeadersStatus.Continue || result === FilterHeadersStatus.ContinueAndEndStream);
}

export class HttpStreamImpl implements HttpStream {
  private ctx: StreamContext | undefined;
  private skipped = false;
  /** How a skipped stream goes on: true = without the filter, false = failed (503 wasm_fail_stream). */
  private passThrough = false;
  private resumeWaiters: ((o: RequestHeadersOutcome) => void)[] | undefined;
  private forwardedRequest: HeaderList = NO_HEADERS;
  private forwardedResponse: HeaderList = NO_HEADERS;
  /** on_log ran (or the stream ended without the filter): Envoy destroys the filter, no callback may follow. */
  private ended = false;

  constructor(private readonly host: StreamHost, private readonly vm: WasmVm, private readonly props: StreamProps) {}

  private ensureContext(): StreamContext {
    if (this.ctx) return this.ctx;
    const vm = this.vm, root = vm.root!;
    const ctx = new StreamContext(vm.allocateContextId(), root, this.props, this.host.nowNs());
    vm.streams.set(ctx.id, ctx);
    this.ctx = ctx;
    vm.invoke(ctx, vm.exports.proxy_on_context_create, 'proxy_on_context_create', ctx.id, root.id);
    return ctx;
  }

  /**
   * atCreate: the VM had already failed when the stream began, so Envoy's PluginConfig::createContext decided
   * (FAIL_OPEN adds no filter; otherwise an empty Context fails the stream). Otherwise the VM failed under this
   * stream and proxy-wasm's CHECK_FAIL decides from the legacy fail_open alone.
   */
  private failure(atCreate = false): { action: 'failed' } | { action: 'continue' } {
    this.skipped = true;
    if (this.ctx) this.vm.streams.delete(this.ctx.id);
    this.passThrough = this.host.dropped(this.vm) || (atCreate ? this.host.failurePolicy === 'FAIL_OPEN' : this.host.failOpen);
    return this.passThrough ? { action: 'continue' } : { action: 'failed' };
  }

  requestHeaders(headers: [string, string][], endOfStream: boolean): RequestHeadersOutcome {
    const vm = this.vm;
    this.forwardedRequest = copyHeaders(headers);
    if (this.ended) return { action: 'reset' };
    if (this.host.bypassed(vm)) return this.failure(true);
    const ctx = this.ensureContext();
    ctx.requestHeaders = this.forwardedRequest;
    ctx.requestHeadersActive = true;
    ctx.phase = 'requestHeaders';
    const result = vm.invoke(ctx, vm.exports.proxy_on_request_headers, 'proxy_on_request_headers', ctx.id, headers.length, endOfStream ? 1 : 0);
    if (vm.failed) return this.failure();
    return this.afterRequestHeaders(isStop(result));
  }

  private afterRequestHeaders(stop: boolean): RequestHeadersOutcome {
    const ctx = this.ctx!;
    if (ctx.localReply) return { action: 'localReply', reply: this.issueLocalReply() };
    if (ctx.closeRequested) { ctx.requestHeadersActive = false; return { action: 'reset' }; }
    if (!stop || ctx.continueRequested) {
      ctx.continueRequested = false;
      ctx.requestHeadersActive = false; // Envoy drops its pointer to the request headers once they move on
      ctx.phase = 'request';
      return { action: 'continue' };
    }
    ctx.onAsyncSettle = () => this.settleAsync();
    return { action: 'paused' };
  }

  private settleAsync(): void {
    const ctx = this.ctx;
    if (!ctx || !this.resumeWaiters && ctx.phase !== 'requestHeaders') return;
    let outcome: RequestHeadersOutcome;
    if (this.vm.failed) outcome = this.failure();
    else if (ctx.localReply) outcome = { action: 'localReply', reply: this.issueLocalReply() };
    else if (ctx.closeRequested) outcome = { action: 'reset' };
    else if (ctx.continueRequested) {
      ctx.continueRequested = false;
      ctx.requestHeadersActive = false;
      ctx.phase = 'request';
      outcome = { action: 'continue' };
    } else return;
    ctx.onAsyncSettle = undefined;
    const waiters = this.resumeWaiters ?? [];
    this.resumeWaiters = undefined;
    for (const w of waiters) w(outcome);
  }

  whenResumed(): Promise<RequestHeadersOutcome> {
    if (this.ended) return Promise.resolve({ action: 'reset' });
    return new Promise((resolve) => (this.resumeWaiters ??= []).push(resolve));
  }

  /** Envoy's sendLocalReply from the filter: synthesize the reply and run it through the encoder callbacks. */
  private issueLocalReply(): LocalReply {
    const vm = this.vm, ctx = this.ctx!;
    const lr = ctx.localReply!;
    ctx.localReply = undefined;
    ctx.stopNextIteration = false;
    ctx.requestHeadersActive = false;
    const isGrpc = (firstValue(ctx.requestHeaders, 'content-type') ?? '').startsWith('application/grpc');
    const headers: HeaderList = isGrpc
      ? [[':status', '200'], ['content-type', 'application/grpc'],
        ['grpc-status', String(lr.grpcStatus ?? httpToGrpcStatus(lr.status))], ...(lr.body ? [['grpc-message', encodeURIComponent(lr.body)] as [string, string]] : [])]
      : [[':status', String(lr.status)],
        ...(lr.body ? [['content-length', String(Buffer.byteLength(lr.body))], ['content-type', 'text/plain']] as [string, string][] : [])];
    for (const h of lr.headers) headers.push(h);
    ctx.responseCode = lr.status;
    ctx.responseCodeDetails = lr.details;
    ctx.responseHeaders = headers;
    ctx.responseHeadersActive = true;
    ctx.phase = 'responseHeaders';
    const hasBody = !isGrpc && lr.body.length > 0;
    vm.invoke(ctx, vm.exports.proxy_on_response_headers, 'proxy_on_response_headers', ctx.id, headers.length, hasBody ? 0 : 1);
    ctx.responseHeadersActive = false;
    ctx.localReply = undefined; // a second local reply while encoding the first is ignored, as in Envoy
    ctx.stopNextIteration = false;
    if (hasBody && !vm.failed) {
      ctx.body = Buffer.from(lr.body);
      ctx.bodyType = 1;
      vm.invoke(ctx, vm.exports.proxy_on_response_body, 'proxy_on_response_body', ctx.id, ctx.body.length, 1);
      ctx.body = undefined;
      ctx.bodyType = -1;
    }
    ctx.phase = 'response';
    this.forwardedResponse = headers;
    return {
      status: lr.status, details: lr.details, body: lr.body, grpcStatus: lr.grpcStatus,
      headers: headers.filter(([k]) => !k.startsWith(':')),
    };
  }

  forwardedRequestHeaders(): [string, string][] { return this.forwardedRequest; }
  forwardedResponseHeaders(): [string, string][] { return this.forwardedResponse; }

  responseHeaders(headers: [string, string][], endOfStream: boolean): ResponseHeadersOutcome {
    const vm = this.vm;
    this.forwardedResponse = copyHeaders(headers);
    if (this.ended) return { action: 'reset' };
    if (this.skipped) return this.passThrough ? { action: 'continue' } : { action: 'failed' };
    if (this.host.bypassed(vm)) return this.failure();
    const ctx = this.ensureContext();
    ctx.requestHeadersActive = false;
    ctx.responseHeaders = this.forwardedResponse;
    ctx.responseHeadersActive = true;
    ctx.phase = 'responseHeaders';
    const status = Number(firstValue(ctx.responseHeaders, ':status'));
    if (Number.isFinite(status)) ctx.responseCode = status;
    const result = vm.invoke(ctx, vm.exports.proxy_on_response_headers, 'proxy_on_response_headers', ctx.id, headers.length, endOfStream ? 1 : 0);
    if (vm.failed) return this.failure();
    if (ctx.localReply) return { action: 'localReply', reply: this.issueLocalReply() };
    if (ctx.closeRequested) return { action: 'reset' };
    if (isStop(result) && !ctx.continueResponseRequested) return { action: 'paused' };
    ctx.continueResponseRequested = false;
    ctx.responseHeadersActive = false;
    ctx.phase = 'response';
    return { action: 'continue' };
  }

  /**
   * The end of every stream, whatever ended it (completion, reset, abort, protocol error): on_log, on_done, on_delete
   * once, and the context leaves the VM's live set. A stream still paused is settled as reset so nothing waits on it.
   */
  log(info: LogInfo): void {
    if (this.ended) return;
    this.ended = true;
    const waiters = this.resumeWaiters;
    this.resumeWaiters = undefined;
    if (waiters) for (const w of waiters) w({ action: 'reset' });
    const vm = this.vm;
    if (this.skipped || this.host.bypassed(vm)) {
      if (this.ctx) vm.streams.delete(this.ctx.id);
      return;
    }
    const ctx = this.ensureContext();
    if (vm.failed) { vm.streams.delete(ctx.id); return; }
    ctx.logInfo = info;
    ctx.requestHeadersActive = false;
    ctx.responseHeadersActive = false;
    if (!ctx.responseHeaders && info.responseHeaders) ctx.responseHeaders = info.responseHeaders;
    if (info.responseTrailers) ctx.responseTrailers = info.responseTrailers;
    ctx.phase = 'log';
    vm.invoke(ctx, vm.exports.proxy_on_log, 'proxy_on_log', ctx.id);
    ctx.phase = 'done';
    vm.invoke(ctx, vm.exports.proxy_on_done, 'proxy_on_done', ctx.id); // result ignored for HTTP streams
    vm.invoke(ctx, vm.exports.proxy_on_delete, 'proxy_on_delete', ctx.id);
    vm.streams.delete(ctx.id);
    ctx.onAsyncSettle = undefined;
  }
}
