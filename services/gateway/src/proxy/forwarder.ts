import type { ServerResponse } from "node:http";
import type { Logger } from "@inferd/service-kit";
import { context, propagation } from "@opentelemetry/api";
import { errors, GatewayError } from "../domain/errors.ts";
import {
  clientWantsStreamUsage,
  decodeBody,
  kvTransferParamsOf,
  prefillBody,
  upstreamPayload,
} from "../domain/openai-body.ts";
import { sessionToken } from "../domain/session-token.ts";
import { SseSplitter } from "../domain/sse.ts";
import { canAssemble, StreamAssembler, streamingBody } from "../domain/stream-assembler.ts";
import { StreamObserver, usageFromJsonText } from "../domain/stream-observer.ts";
import { hostPort, upstreamHeaders } from "../domain/upstream-headers.ts";
import type { FlowControl } from "../plugins/app/flow-control.ts";
import type { GatewayMetrics } from "../plugins/app/gateway-metrics.ts";
import type { Outcome, RequestRecorder } from "../plugins/app/request-recorder.ts";
import type { UpstreamPool } from "../plugins/app/upstream-pool.ts";
import { type RequestContext, type Route, responseIdentity, type Target } from "./context.ts";
import { callUpstream, type UpstreamResponse } from "./upstream-call.ts";

/** Non-streaming bodies up to this size are kept to read `usage`; larger ones pass through unread. */
const MAX_USAGE_SCAN_BYTES = 4 * 1024 * 1024;

interface Origin {
  origin: string;
  pathPrefix: string;
}

export interface HijackableReply {
  raw: ServerResponse;
  hijack(): unknown;
}

/**
 * Sends a routed request to its model server and streams the answer back.
 * - Fallback: a connect error (or any error before response headers) or a 503 moves to the next
 *   endpoint of the route; once the first byte went to the client there is no retry.
 * - Streaming: SSE events are forwarded as they complete, with backpressure (the upstream is
 *   read only as fast as the client takes it); ITL comes from chunk arrival times.
 * - A model server dying mid-stream ends the client's stream with an `error` data event and
 *   the request is recorded as failed.
 * - P/D: the prefill leg runs first (NixlConnector protocol), its kv_transfer_params go verbatim
 *   into the decode leg; a failed prefill leg falls back to aggregated serving on the decode pod.
 */
export class Forwarder {
  readonly #pool: UpstreamPool;
  readonly #recorder: RequestRecorder;
  readonly #metrics: GatewayMetrics;
  readonly #flow: FlowControl;
  readonly #log: Logger;
  readonly #origins = new Map<string, Origin>();

  constructor(deps: {
    pool: UpstreamPool;
    recorder: RequestRecorder;
    metrics: GatewayMetrics;
    flow: FlowControl;
    logger: Logger;
  }) {
    this.#pool = deps.pool;
    this.#recorder = deps.recorder;
    this.#metrics = deps.metrics;
    this.#flow = deps.flow;
    this.#log = deps.logger;
  }

  /**
   * Serves the request on `route`. When every endpoint of the route failed before answering,
   * `alternatives` is asked once for other endpoints (a new pick excluding the failed pods).
   * Records the outcome itself; throws a GatewayError only while nothing has been sent yet (the
   * caller answers it as JSON).
   */
  async forward(
    ctx: RequestContext,
    route: Route,
    reply: HijackableReply,
    alternatives?: (exclude: readonly string[]) => Promise<Target[]>,
  ): Promise<void> {
    let body = ctx.body;
    const sidecar = route.prefill !== undefined && ctx.policy.pdLegs === "sidecar";
    let queue = [...route.endpoints];
    if (route.prefill !== undefined) {
      // ROUTED goes out now, not after the prefill leg: the scorers count the request (and its
      // prefill on the prefill pod) while it runs, not only once it is decoding.
      ctx.prefillEndpoint = route.prefill.pod;
      this.#routeTo(ctx, queue[0]);
      if (!sidecar) {
        const t0 = performance.now();
        let params: unknown;
        try {
          params = await this.#prefill(ctx, route.prefill);
        } catch (err) {
          // Only a client that went away ends the request here (nothing to answer).
          return this.#fail(ctx, err as GatewayError, true);
        }
        ctx.prefillMs = performance.now() - t0;
        if (params !== undefined) body = decodeBody(body, params);
        else if (queue[0] !== undefined) this.#recorder.rerouted(ctx); // aggregated on the decode pod
      }
    }
    const assemble = !ctx.stream && ctx.policy.assembleNonStreaming && canAssemble(ctx.kind, body);
    // The client's own bytes when the body goes on as it came (see upstreamPayload).
    const payload = assemble
      ? JSON.stringify(streamingBody(body))
      : upstreamPayload(body, body === ctx.body ? ctx.rawBody : undefined);
    const headers = this.#headers(
      ctx,
      sidecar && route.prefill !== undefined ? hostPort(route.prefill.address) : undefined,
    );
    const failed: string[] = [];
    let lastError = "no endpoint in route";
    let mayAskAgain = alternatives !== undefined;
    // Once the route is used up, ask once more for endpoints other than the failed ones.
    const askAgain = async (): Promise<Target[]> => {
      if (!mayAskAgain || alternatives === undefined || ctx.signal.aborted) return [];
      mayAskAgain = false;
      return (await alternatives(failed)).filter((e) => !failed.includes(e.pod));
    };
    let routed = ctx.endpoint !== "";
    while (queue.length > 0) {
      const ep = queue.shift()!;
      this.#pool.acquire(ep.pod);
      if (!routed) this.#routeTo(ctx, ep);
      else if (ctx.endpoint !== ep.pod) {
        ctx.endpoint = ep.pod;
        ctx.expectedCachedTokens = ep.cachedTokens ?? 0;
        this.#recorder.rerouted(ctx);
      }
      routed = true;
      let res: UpstreamResponse;
      try {
        res = await this.#send(ep, ctx.path, headers, payload, ctx.signal);
      } catch (err) {
        this.#release(ctx, ep);
        if (ctx.signal.aborted) {
          return this.#fail(ctx, errors.unavailable("client_closed", "client closed the connection"), true);
        }
        this.#pool.markDown(ep.pod);
        failed.push(ep.pod);
        lastError = `${ep.pod} (${ep.address}): ${describe(err)}`;
        this.#metrics.upstreamAttempts.inc({ model: ctx.target.model, result: "refused" });
        this.#log.warn(
          { reqId: ctx.meta.requestId, pod: ep.pod, err: describe(err) },
          "model server unreachable; trying next endpoint",
        );
        if (queue.length === 0) queue = await askAgain();
        continue;
      }
      this.#pool.markUp(ep.pod);
      if (res.statusCode === 503) {
        failed.push(ep.pod);
        if (queue.length === 0) queue = await askAgain();
        // With somewhere else to go, drop this 503; otherwise it is the answer.
        if (queue.length > 0) {
          res.body.dump();
          this.#release(ctx, ep);
          lastError = `${ep.pod} (${ep.address}): 503`;
          this.#metrics.upstreamAttempts.inc({ model: ctx.target.model, result: "unavailable" });
          continue;
        }
      }
      this.#metrics.upstreamAttempts.inc({ model: ctx.target.model, result: "served" });
      try {
        await this.#relay(ctx, res, reply, assemble);
      } finally {
        this.#release(ctx, ep);
      }
      return;
    }
    this.#fail(
      ctx,
      errors.unavailable(
        "upstream_unavailable",
        `no model server answered for "${ctx.target.model}": ${lastError}`,
      ),
      true,
    );
  }

  /** The request is routed to `ep` (ROUTED published, gauges up). */
  #routeTo(ctx: RequestContext, ep: Target | undefined): void {
    if (ep === undefined) return;
    ctx.endpoint = ep.pod;
    ctx.expectedCachedTokens = ep.cachedTokens ?? 0;
    this.#recorder.routed(ctx);
  }

  #release(ctx: RequestContext, ep: Target): void {
    this.#pool.release(ep.pod);
    this.#flow.wake(ctx.target.baseModel);
  }

  #headers(ctx: RequestContext, prefillerHostPort?: string): Record<string, string> {
    const out = upstreamHeaders(ctx.clientHeaders, {
      requestId: ctx.meta.requestId,
      upstreamApiKey: ctx.policy.upstreamApiKey,
      prefillerHostPort,
    });
    // The gateway's span is the model server's parent (the client's traceparent when nothing records).
    propagation.inject(context.active(), out);
    return out;
  }

  #origin(address: string): Origin {
    let o = this.#origins.get(address);
    if (o === undefined) {
      const u = new URL(address);
      o = { origin: u.origin, pathPrefix: u.pathname.replace(/\/+$/, "") };
      this.#origins.set(address, o);
    }
    return o;
  }

  #send(
    ep: Target,
    path: string,
    headers: Record<string, string>,
    payload: string | Buffer,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const o = this.#origin(ep.address);
    return callUpstream(
      this.#pool.dispatcher,
      { origin: o.origin, path: o.pathPrefix + path, method: "POST", headers, body: payload },
      signal,
    );
  }

  /** The prefill leg; its kv_transfer_params, or undefined when it failed (aggregated fallback). */
  async #prefill(ctx: RequestContext, target: Target): Promise<unknown> {
    this.#pool.acquire(target.pod);
    let problem: string;
    try {
      const res = await this.#send(
        target,
        ctx.path,
        this.#headers(ctx),
        JSON.stringify(prefillBody(ctx.body)),
        ctx.signal,
      );
      if (res.statusCode !== 200) {
        problem = `status ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`;
      } else {
        const params = kvTransferParamsOf(await res.body.json());
        if (params !== undefined) {
          ctx.prefillEndpoint = target.pod;
          return params;
        }
        problem = "response has no kv_transfer_params";
      }
    } catch (err) {
      if (ctx.signal.aborted) throw errors.unavailable("client_closed", "client closed the connection");
      problem = describe(err);
    } finally {
      this.#pool.release(target.pod);
    }
    ctx.prefillEndpoint = "";
    this.#metrics.prefillFailures.inc({ model: ctx.target.model });
    this.#log.warn(
      { reqId: ctx.meta.requestId, prefillPod: target.pod, problem },
      "prefill leg failed; serving aggregated on the decode endpoint",
    );
    return undefined;
  }

  /** Copies status, headers and body to the client. Never throws. */
  async #relay(
    ctx: RequestContext,
    res: UpstreamResponse,
    reply: HijackableReply,
    assemble: boolean,
  ): Promise<void> {
    const raw = reply.raw;
    const contentType = header(res.headers, "content-type") ?? "application/json";
    if (assemble && res.statusCode === 200 && contentType.includes("text/event-stream")) {
      reply.hijack();
      await this.#relayAssembled(ctx, res, raw);
      return;
    }
    const sse = ctx.stream && res.statusCode === 200 && contentType.includes("text/event-stream");
    const out: Record<string, string> = {
      "content-type": contentType,
      ...responseIdentity(ctx),
      "x-inferd-endpoint": ctx.endpoint,
      // llm-d's stateless session affinity: a client that echoes it comes back to this pod.
      "x-session-token": sessionToken(ctx.endpoint),
    };
    if (sse) out["cache-control"] = "no-cache";
    else {
      const len = header(res.headers, "content-length");
      if (len !== undefined) out["content-length"] = len;
    }
    reply.hijack();
    raw.writeHead(res.statusCode, out);
    const upstreamFailed = res.statusCode >= 400 ? `upstream_${res.statusCode}` : "";
    if (sse) {
      await this.#relaySse(ctx, res, raw);
      return;
    }
    let firstByteAt: number | undefined;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    try {
      // Event-driven copy with backpressure (cheaper than an async iterator per chunk).
      await new Promise<void>((resolve, reject) => {
        const body = res.body;
        body.read({
          data(chunk) {
            firstByteAt ??= performance.now();
            if (keptBytes + chunk.length <= MAX_USAGE_SCAN_BYTES) kept.push(chunk);
            keptBytes += chunk.length;
            if (!raw.write(chunk)) {
              body.pause();
              raw.once("drain", () => body.resume());
            }
          },
          end: resolve,
          error: reject,
        });
      });
    } catch (err) {
      raw.destroy();
      const aborted = ctx.signal.aborted;
      this.#finish(ctx, {
        httpStatus: res.statusCode,
        errorCode: aborted ? "client_closed" : "upstream_died",
        errorMessage: aborted
          ? "client closed the connection"
          : `model server ${ctx.endpoint} failed mid-response: ${describe(err)}`,
        itl: undefined,
        firstByteAt,
      });
      return;
    }
    raw.end();
    if (res.statusCode === 200 && keptBytes <= MAX_USAGE_SCAN_BYTES) {
      ctx.usage = usageFromJsonText(
        kept.length === 1 ? kept[0]!.toString("utf8") : Buffer.concat(kept).toString("utf8"),
      );
    }
    this.#finish(ctx, {
      httpStatus: res.statusCode,
      errorCode: upstreamFailed,
      errorMessage: upstreamFailed ? `model server answered ${res.statusCode}` : "",
      itl: undefined,
      firstByteAt,
    });
  }

  /**
   * A non-streaming request served as a stream: FIRST_TOKEN when the first token arrives, then the
   * assembled JSON answer. Nothing reaches the client before the end, so a failure is a proper error.
   */
  async #relayAssembled(ctx: RequestContext, res: UpstreamResponse, raw: ServerResponse): Promise<void> {
    const splitter = new SseSplitter();
    const observer = new StreamObserver({ stripUsageChunk: false });
    const assembler = new StreamAssembler(ctx.kind);
    let failure: { status: number; code: string; message: string } | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const body = res.body;
        body.read({
          data: (chunk) => {
            try {
              const now = performance.now();
              for (const ev of splitter.push(chunk)) {
                if (ev.data === undefined) continue;
                const hadFirst = observer.firstTokenAt !== undefined;
                observer.onData(ev.data, now);
                if (!hadFirst && observer.firstTokenAt !== undefined) {
                  ctx.firstTokenAt = now;
                  this.#recorder.firstToken(ctx);
                }
                assembler.push(ev.data);
              }
            } catch (err) {
              body.abort(err as Error);
            }
          },
          end: resolve,
          error: reject,
        });
      });
      if (observer.upstreamError !== undefined)
        failure = {
          status: 500,
          code: "upstream_error",
          message: `model server ${ctx.endpoint}: ${observer.upstreamError}`,
        };
      else if (!observer.done)
        failure = {
          status: 502,
          code: "upstream_incomplete",
          message: `model server ${ctx.endpoint} ended the answer early`,
        };
    } catch (err) {
      failure = ctx.signal.aborted
        ? { status: 499, code: "client_closed", message: "client closed the connection" }
        : {
            status: 502,
            code: "upstream_died",
            message: `model server ${ctx.endpoint} failed mid-response: ${describe(err)}`,
          };
    }
    ctx.usage = observer.usage;
    const head = {
      ...responseIdentity(ctx),
      "x-inferd-endpoint": ctx.endpoint,
      "x-session-token": sessionToken(ctx.endpoint),
    };
    if (failure === undefined) {
      const text = JSON.stringify(assembler.result());
      raw.writeHead(200, {
        ...head,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(text)),
      });
      raw.end(text);
    } else if (failure.code === "client_closed") raw.destroy();
    else {
      const text = JSON.stringify({
        error: { message: failure.message, type: "upstream_error", param: null, code: failure.code },
      });
      raw.writeHead(failure.status, { ...head, "content-type": "application/json" });
      raw.end(text);
    }
    this.#finish(ctx, {
      httpStatus: failure?.status ?? 200,
      errorCode: failure?.code ?? "",
      errorMessage: failure?.message ?? "",
      itl: observer.itl(),
      firstByteAt: ctx.firstTokenAt,
    });
  }

  async #relaySse(ctx: RequestContext, res: UpstreamResponse, raw: ServerResponse): Promise<void> {
    const splitter = new SseSplitter();
    const observer = new StreamObserver({ stripUsageChunk: !clientWantsStreamUsage(ctx.body) });
    let failure: { code: string; message: string } | undefined;
    // The headers and the events that came with the upstream's headers (usually the role chunk,
    // held until now) leave in one write: corked until the held chunks are relayed, within this
    // turn. Two writes cost a second syscall and a second wake-up of the client before its
    // first event.
    const socket = raw.socket;
    socket?.cork();
    let corked = socket !== null;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      socket?.uncork();
    };
    try {
      const sink = chunkSink(raw);
      // Event-driven with pause/resume on backpressure: an async iterator costs a promise and a
      // few microtasks per chunk, and a stream is one chunk per token.
      await new Promise<void>((resolve, reject) => {
        const body = res.body;
        const resume = () => body.resume();
        const onData = (chunk: Buffer) => {
          try {
            const now = performance.now();
            const events = splitter.push(chunk);
            if (events.length === 0) return;
            let forward: Buffer | Buffer[] | undefined;
            for (const ev of events) {
              const hadFirst = observer.firstTokenAt !== undefined;
              const gaps = observer.gaps.length;
              if (observer.onData(ev.data, now) === "forward") {
                if (forward === undefined) forward = ev.raw;
                else if (Array.isArray(forward)) forward.push(ev.raw);
                else forward = [forward, ev.raw];
              }
              if (!hadFirst && observer.firstTokenAt !== undefined) {
                ctx.firstTokenAt = now;
                this.#recorder.firstToken(ctx);
              } else if (observer.gaps.length > gaps) {
                this.#recorder.gap(ctx, observer.gaps[gaps]!);
              }
            }
            if (forward === undefined) return;
            if (!sink.write(forward)) {
              body.pause();
              sink.once("drain", resume);
            }
          } catch (err) {
            body.abort(err as Error);
          }
        };
        try {
          body.read({ data: onData, end: resolve, error: reject });
        } finally {
          uncork();
        }
      });
      const rest = splitter.flush();
      if (rest !== undefined && rest.length > 0) raw.write(rest);
      if (!observer.done)
        failure = {
          code: "upstream_incomplete",
          message: `model server ${ctx.endpoint} ended the stream without [DONE]`,
        };
    } catch (err) {
      uncork();
      if (ctx.signal.aborted) failure = { code: "client_closed", message: "client closed the connection" };
      else
        failure = {
          code: "upstream_died",
          message: `model server ${ctx.endpoint} failed mid-stream: ${describe(err)}`,
        };
    }
    ctx.usage = observer.usage;
    if (failure !== undefined && failure.code !== "client_closed" && !raw.destroyed) {
      const event = {
        error: { message: failure.message, type: "upstream_error", param: null, code: failure.code },
      };
      raw.write(`data: ${JSON.stringify(event)}\n\n`);
    }
    if (!raw.destroyed) raw.end();
    this.#finish(ctx, {
      httpStatus: 200,
      errorCode: failure?.code ?? "",
      errorMessage: failure?.message ?? "",
      itl: observer.itl(),
      firstByteAt: undefined,
    });
  }

  #finish(ctx: RequestContext, outcome: Outcome): void {
    this.#recorder.unrouted(ctx);
    this.#recorder.finished(ctx, outcome);
    if (outcome.errorCode !== "" && outcome.errorCode !== "client_closed") {
      this.#log.warn(
        { reqId: ctx.meta.requestId, pod: ctx.endpoint, code: outcome.errorCode },
        outcome.errorMessage,
      );
    }
  }

  /** Records a failure after routing and, unless the client is gone, throws it to be answered. */
  #fail(ctx: RequestContext, err: GatewayError, routed: boolean): void {
    // Only a request that was routed (ROUTED published, gauges up) leaves the routed state.
    if (routed && ctx.endpoint !== "") this.#recorder.unrouted(ctx);
    this.#recorder.finished(ctx, {
      httpStatus: err.status,
      errorCode: err.code,
      errorMessage: err.message,
      itl: undefined,
      firstByteAt: undefined,
    });
    if (err.code !== "client_closed") throw new GatewayError(err.status, err.type, err.code, err.message);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const msg = e.message ?? String(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** Where the events of an SSE answer go: `write` returns false when the client is behind. */
interface ChunkSink {
  write(events: Buffer | Buffer[]): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * A stream is one write per token, so the write path counts: through `ServerResponse.write` each
 * chunk costs a cork, a nextTick and a four-part writev (size line, CRLF, data, CRLF). When the
 * response uses chunked encoding and owns its socket (headers flushed), each write is framed here
 * and goes to the socket as one buffer: the same bytes, one plain write. `raw.end()` still writes
 * the last chunk. Anything else (HTTP/1.0, a pipelined response still waiting for its socket)
 * writes through the response.
 */
function chunkSink(raw: ServerResponse): ChunkSink {
  raw.flushHeaders();
  const socket = raw.socket;
  if (!raw.chunkedEncoding || socket === null || socket.destroyed) {
    return {
      write: (events) => raw.write(Array.isArray(events) ? Buffer.concat(events) : events),
      once: (event, listener) => raw.once(event, listener),
    };
  }
  return {
    write(events) {
      // One buffer, framed in place (usually from node's small-buffer pool): size line, data, CRLF.
      const parts = Array.isArray(events) ? events : [events];
      let size = 0;
      for (const p of parts) size += p.length;
      const head = size.toString(16);
      const out = Buffer.allocUnsafe(head.length + size + 4);
      let at = out.write(head, 0, "latin1");
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      for (const p of parts) at += p.copy(out, at);
      out[at++] = 0x0d;
      out[at] = 0x0a;
      return socket.write(out);
    },
    once: (event, listener) => socket.once(event, listener),
  };
}
