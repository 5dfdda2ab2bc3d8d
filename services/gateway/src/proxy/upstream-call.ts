import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

/** Bytes held for a body nobody reads yet before the upstream is paused. */
const HOLD_BYTES = 64 * 1024;

/** Bytes a discarded answer (a 503 the gateway retries elsewhere) is read for before it is cut. */
const DUMP_LIMIT_BYTES = 128 * 1024;

/** Where an answer's bytes go, as they arrive. Exactly one of `end` and `error` is called, once. */
export interface BodyReader {
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

/**
 * A model server's answer body as raw chunks from undici's dispatch handler, with undici's own
 * pause/resume as backpressure. A stream is one chunk per token: undici's `request()` puts each
 * through a Readable (push, buffer, a 'data' emit, nextTick bookkeeping) before the gateway sees
 * it; here a chunk goes from undici's parser to the reader in one call.
 * Chunks that arrive before `read` are held until a reader attaches (the upstream paused past 64 kB).
 */
export class UpstreamBody {
  readonly #controller: Dispatcher.DispatchController;
  #reader: BodyReader | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Paused because nobody read (resumed when a reader attaches, unless it paused itself). */
  #holdPaused = false;
  #readerPaused = false;
  #ended = false;
  #error: Error | undefined;
  #settled = false;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  /** Hands every chunk, then the end or the error, to `reader`. Once per body. */
  read(reader: BodyReader): void {
    if (this.#reader !== undefined) throw new Error("upstream body already read");
    this.#reader = reader;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const chunk of held) {
      if (this.#settled) return;
      reader.data(chunk);
    }
    if (this.#error !== undefined) this.#fail(this.#error);
    else if (this.#ended) this.#end();
    else if (this.#holdPaused && !this.#readerPaused) this.#controller.resume();
    this.#holdPaused = false;
  }

  pause(): void {
    this.#readerPaused = true;
    this.#controller.pause();
  }

  resume(): void {
    this.#readerPaused = false;
    this.#controller.resume();
  }

  /** Stops the answer: the connection is aborted and the reader gets `err`. */
  abort(err: Error): void {
    if (this.#settled) return;
    this.#fail(err);
    this.#controller.abort(err);
  }

  text(): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      this.read({
        data: (c) => chunks.push(c),
        end: () => resolve(Buffer.concat(chunks).toString("utf8")),
        error: reject,
      });
    });
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** Reads and drops the answer (so the connection is kept); cuts it past 128 kB. */
  dump(): void {
    let bytes = 0;
    this.read({
      data: (c) => {
        bytes += c.length;
        if (bytes > DUMP_LIMIT_BYTES) this.abort(new Error("discarded answer too large"));
      },
      end: () => undefined,
      error: () => undefined,
    });
  }

  /** From the dispatch handler. */
  push(chunk: Buffer): void {
    if (this.#settled) return;
    if (this.#reader !== undefined) this.#reader.data(chunk);
    else {
      // The reader attaches a few microtasks after the headers: the first chunk, which usually
      // comes with them, is held without pausing; past HOLD_BYTES the upstream is paused.
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      if (this.#heldBytes > HOLD_BYTES && !this.#holdPaused) {
        this.#holdPaused = true;
        this.#controller.pause();
      }
    }
  }

  /** From the dispatch handler. */
  finish(): void {
    if (this.#reader !== undefined) this.#end();
    else this.#ended = true;
  }

  /** From the dispatch handler. */
  failed(err: Error): void {
    if (this.#reader !== undefined) this.#fail(err);
    else this.#error ??= err;
  }

  #end(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reader!.end();
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reader?.error(err);
  }
}

/**
 * One request to a model server through undici's dispatcher, with a dispatch handler instead of
 * `request()`: resolves at the response headers (1xx skipped), rejects on an error before them.
 * `signal` aborts the request at any point: before the headers the promise rejects at once (even
 * while the request waits for a connection), after them the body's reader gets the error.
 */
export function callUpstream(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let body: UpstreamBody | undefined;
    let reason: Error | undefined;
    let done = false;
    const onAbort = () => {
      reason = abortReason(signal);
      if (body === undefined) {
        done = true;
        reject(reason);
      }
      if (body !== undefined) body.abort(reason);
      else controller?.abort(reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const settle = () => signal.removeEventListener("abort", onAbort);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (reason !== undefined) c.abort(reason);
      },
      onResponseStart(c, statusCode, headers) {
        if (statusCode < 200 || done) return;
        done = true;
        body = new UpstreamBody(c);
        resolve({ statusCode, headers, body });
      },
      onResponseData(_c, chunk) {
        body?.push(chunk);
      },
      onResponseEnd() {
        settle();
        body?.finish();
      },
      onResponseError(_c, err) {
        settle();
        if (body !== undefined) body.failed(err);
        else if (!done) {
          done = true;
          reject(err);
        }
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      settle();
      reject(err);
    }
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("request aborted");
}
