import Fastify, { type FastifyInstance } from "fastify";

/**
 * A small OpenAI-compatible model server for gateway tests (not a simulator: answers are
 * deterministic words). Behaviour is switched per test: an HTTP status to answer, a delay
 * between streamed chunks, dying after N chunks, prefill answers with kv_transfer_params.
 */
export interface FakeBehaviour {
  /** Status to answer with (default 200). */
  status: number;
  /** Content chunks per answer (default 3). */
  tokens: number;
  /** Delay before each streamed chunk, ms. */
  delayMs: number;
  /** Destroy the socket after this many streamed content chunks (mid-stream death). */
  dieAfterChunks: number | undefined;
  /** Hold the answer until this promise resolves (saturation tests). */
  gate: Promise<void> | undefined;
  cachedTokens: number;
  /** Stream this many big (64 KiB) chunks instead of words (backpressure tests). */
  bigChunks: number;
}

export interface Received {
  path: string;
  body: Record<string, unknown>;
  /** The body's bytes as they arrived. */
  bytes: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeUpstream {
  /** Streams whose client (the gateway) went away before the end. */
  closedEarly: number;
  /** performance.now() since when a big stream has waited for "drain" (undefined = not waiting). */
  drainWaitSince: number | undefined;
  /** Big chunks written so far. */
  bigWritten: number;
  pod: string;
  address: string;
  port: number;
  behaviour: FakeBehaviour;
  received: Received[];
  close(): Promise<void>;
}

const PROMPT_TOKENS = 7;

export async function startFakeUpstream(pod: string): Promise<FakeUpstream> {
  const behaviour: FakeBehaviour = {
    status: 200,
    tokens: 3,
    delayMs: 0,
    dieAfterChunks: undefined,
    gate: undefined,
    cachedTokens: 0,
    bigChunks: 0,
  };
  const received: Received[] = [];
  const handle = { closedEarly: 0, drainWaitSince: undefined, bigWritten: 0 } as FakeUpstream;
  const app: FastifyInstance = Fastify({ logger: false, keepAliveTimeout: 60_000 });
  // Keeps each body's bytes: the gateway forwards the client's own bytes where it can.
  const bytesOf = new WeakMap<object, Buffer>();
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, bytes, done) => {
    bytesOf.set(request, bytes as Buffer);
    try {
      done(null, JSON.parse((bytes as Buffer).toString("utf8")));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const handler =
    (kind: "chat" | "completions") =>
    async (request: import("fastify").FastifyRequest, reply: import("fastify").FastifyReply) => {
      const body = request.body as Record<string, unknown>;
      received.push({ path: request.url, body, bytes: bytesOf.get(request)!, headers: request.headers });
      if (behaviour.gate) await behaviour.gate;
      if (behaviour.status !== 200) {
        return reply.code(behaviour.status).send({
          error: { message: `fake ${pod} says ${behaviour.status}`, type: "x", param: null, code: null },
        });
      }
      const kv = body.kv_transfer_params as Record<string, unknown> | undefined;
      const isPrefill = kv?.do_remote_decode === true;
      const n = isPrefill ? 1 : behaviour.tokens;
      const words = Array.from({ length: n }, (_, i) => `w${i} `);
      const usage = {
        prompt_tokens: PROMPT_TOKENS,
        completion_tokens: n,
        total_tokens: PROMPT_TOKENS + n,
        prompt_tokens_details: { cached_tokens: behaviour.cachedTokens },
      };
      const id = `cmpl-${pod}-${received.length}`;
      const created = 1_700_000_000;
      if (body.stream !== true) {
        const out: Record<string, unknown> = {
          id,
          object: kind === "chat" ? "chat.completion" : "text_completion",
          created,
          model: body.model,
          choices: [
            kind === "chat"
              ? { index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: "length" }
              : { index: 0, text: words.join(""), finish_reason: "length", logprobs: null },
          ],
          usage,
        };
        if (isPrefill) {
          out.kv_transfer_params = {
            do_remote_prefill: true,
            do_remote_decode: false,
            remote_block_ids: [[1, 2, 3]],
            remote_engine_id: `engine-${pod}`,
            remote_request_id: request.headers["x-request-id"],
            remote_host: "127.0.0.1",
            remote_port: 5600,
            tp_size: 1,
            extra_key_kept: { nested: true },
          };
        }
        return reply.send(out);
      }
      const includeUsage =
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const u = includeUsage ? { usage: null } : {};
      const chunk = (choice: Record<string, unknown>) =>
        `data: ${JSON.stringify({ id, object: kind === "chat" ? "chat.completion.chunk" : "text_completion", created, model: body.model, choices: [choice], ...u })}\n\n`;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      raw.on("close", () => {
        if (!raw.writableFinished) handle.closedEarly++;
      });
      if (behaviour.bigChunks > 0) {
        const big = chunk({ index: 0, delta: { content: "x".repeat(64 * 1024) }, finish_reason: null });
        for (let i = 0; i < behaviour.bigChunks; i++) {
          if (!raw.write(big)) {
            handle.drainWaitSince = performance.now();
            await new Promise((r) => raw.once("drain", r));
            handle.drainWaitSince = undefined;
          }
          handle.bigWritten++;
        }
        raw.end("data: [DONE]\n\n");
        return;
      }
      if (kind === "chat")
        raw.write(chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }));
      for (let i = 0; i < n; i++) {
        if (behaviour.delayMs > 0) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        if (behaviour.dieAfterChunks !== undefined && i >= behaviour.dieAfterChunks) {
          raw.socket?.destroy();
          return;
        }
        const finish = i === n - 1 ? "length" : null;
        const text = chunk(
          kind === "chat"
            ? { index: 0, delta: { content: words[i] }, finish_reason: finish }
            : { index: 0, text: words[i], finish_reason: finish, logprobs: null },
        );
        // Wait until the chunk reached the socket, so a later death cannot swallow it.
        await new Promise<void>((r) => raw.write(text, () => r()));
      }
      if (includeUsage) {
        raw.write(
          `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage })}\n\n`,
        );
      }
      raw.end("data: [DONE]\n\n");
    };
  app.post("/v1/chat/completions", handler("chat"));
  app.post("/v1/completions", handler("completions"));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;
  Object.assign(handle, {
    pod,
    address: `http://127.0.0.1:${port}`,
    port,
    behaviour,
    received,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  });
  return handle;
}
