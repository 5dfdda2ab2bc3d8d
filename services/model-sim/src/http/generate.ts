import { randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { EngineInputError } from "../engine/engine.ts";
import type { FinishInfo, RequestListener } from "../engine/request.ts";
import type { LoraRef } from "../engine/types.ts";
import type { SimContext } from "../sim-context.ts";
import { HttpError } from "./errors.ts";
import { type ParsedRequest, parseChatRequest, parseCompletionRequest } from "./openai.ts";
import { completionBody, type Kind, nixlPrefillParams, streamChoice, usageOf } from "./responses.ts";
import { SseStream } from "./sse.ts";

/** 503 while loading or after a simulated crash. */
export function assertServing(ctx: SimContext): void {
  if (ctx.state.crashed) throw new HttpError(503, "The engine has crashed (simulated fault).");
  if (!ctx.state.ready) throw new HttpError(503, "The model is still loading.");
}

/** Base model (null) or a loaded LoRA adapter; anything else is vLLM's 404. */
export function resolveModel(ctx: SimContext, model: string): LoraRef | null {
  if (ctx.options.servedModelNames.includes(model)) return null;
  const lora = ctx.loras.get(model);
  if (lora) return lora;
  throw new HttpError(404, `The model \`${model}\` does not exist.`, "NotFoundError", "model");
}

function maybeInjectFault(ctx: SimContext): void {
  const rate = ctx.options.failureRate;
  if (rate <= 0 || ctx.faults.next() * 100 >= rate) return;
  const codes = ctx.options.failureStatusCodes;
  const status = codes[ctx.faults.int(codes.length)]!;
  throw new HttpError(status, `Simulated failure (status ${status}).`);
}

export function promptTokensOf(ctx: SimContext, p: ParsedRequest): number[] {
  if (p.kind === "completion")
    return typeof p.prompt === "string" ? ctx.tokenizer.encode(p.prompt) : [...(p.prompt ?? [])];
  try {
    return ctx.tokenizer.chatPromptTokens(p.messages ?? [], {
      addGenerationPrompt: p.addGenerationPrompt,
      continueFinalMessage: p.continueFinalMessage,
      tools: p.tools,
      chatTemplateKwargs: p.chatTemplateKwargs,
    });
  } catch (err) {
    throw new HttpError(
      400,
      `Cannot apply the chat template: ${(err as Error).message}`,
      undefined,
      "messages",
    );
  }
}

/** POST /v1/completions and /v1/chat/completions. */
export async function handleGenerate(
  ctx: SimContext,
  kind: Kind,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  // TTFT and E2E count from here, tokenization included, as vLLM's arrival_time.
  const arrivalMs = ctx.engine.now();
  const p = kind === "chat" ? parseChatRequest(req.body) : parseCompletionRequest(req.body);
  assertServing(ctx);
  maybeInjectFault(ctx);
  const lora = resolveModel(ctx, p.model);
  const details = ctx.options.enablePromptTokensDetails;
  const prompt = promptTokensOf(ctx, p);
  const maxModelLen = ctx.options.maxModelLen;
  const room = maxModelLen - prompt.length;
  if (room < 1 || (p.maxTokens !== null && p.maxTokens > room)) {
    throw new HttpError(
      400,
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ` +
        `${prompt.length + (p.maxTokens ?? 0)} tokens (${prompt.length} in the messages, ${p.maxTokens ?? 0} in the completion). ` +
        "Please reduce the length of the messages or completion.",
    );
  }
  // P/D (NixlConnector) only when the server runs with --kv-transfer-config, as in vLLM.
  const kvp = ctx.options.kvTransferConfig ? p.kvTransferParams : null;
  const remoteDecode = kvp?.do_remote_decode === true;
  const remotePrefill = kvp?.do_remote_prefill === true;
  const plan = ctx.generator.plan({
    promptTokens: prompt,
    seed: p.seed ?? ctx.options.seed,
    maxTokens: p.maxTokens ?? room,
    minTokens: p.minTokens,
    ignoreEos: p.ignoreEos,
  });
  const requestId = (req.headers["x-request-id"] as string | undefined) ?? randomBytes(16).toString("hex");
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${requestId}`;
  const engineId = `${requestId}-${ctx.state.nextRequest++}`;
  const created = Math.floor(Date.now() / 1000);
  const echoText = p.echo && typeof p.prompt === "string" ? p.prompt : "";
  reply.header("x-request-id", requestId);

  const countToken = () => {
    ctx.state.tokensGenerated++;
    if (ctx.options.crashAfterTokens > 0 && ctx.state.tokensGenerated >= ctx.options.crashAfterTokens) {
      queueMicrotask(() => ctx.crash());
    }
  };
  const transferMsPerToken = ctx.options.kvTransferTimePerTokenUs / 1000;
  const add = (listener: RequestListener) => {
    try {
      return ctx.engine.add({
        id: engineId,
        promptTokens: prompt,
        outputTokens: plan.tokens,
        finishReason: plan.finishReason,
        lora,
        cacheSalt: p.cacheSalt,
        maxTokensParam: p.maxTokens ?? room,
        arrivalMs,
        // NixlConnector keeps a prefill's blocks until the decode side has read them.
        holdBlocksMs: remoteDecode ? ctx.options.kvTransferLatencyMs + transferMsPerToken * prompt.length : 0,
        remotePrefill: remotePrefill
          ? { transferMs: ctx.options.kvTransferLatencyMs, transferMsPerToken }
          : null,
        listener,
      });
    } catch (err) {
      if (err instanceof EngineInputError) throw new HttpError(400, err.message);
      throw err;
    }
  };
  const kvTransferOut = (info: FinishInfo) =>
    remoteDecode
      ? nixlPrefillParams({
          blockIds: info.blockIds,
          engineId: ctx.engineId,
          requestId: engineId,
          host: ctx.options.host === "0.0.0.0" ? "127.0.0.1" : ctx.options.host,
          port: 5600 + ctx.port - ctx.options.port,
          tpSize: ctx.engine.config.profile.tpSize,
          promptTokens: info.promptTokens,
        })
      : null;

  if (!p.stream) {
    const pieces: string[] = [];
    const info = await new Promise<FinishInfo>((resolve, reject) => {
      // The response closing before we answered means the client went away.
      const onClose = () => ctx.engine.abort(engineId);
      reply.raw.once("close", onClose);
      try {
        add({
          onToken: (t) => {
            pieces.push(ctx.generator.piece(t));
            countToken();
          },
          onFinish: (info) => {
            reply.raw.off("close", onClose);
            resolve(info);
          },
        });
      } catch (err) {
        reply.raw.off("close", onClose);
        reject(err);
      }
    });
    if (info.reason === "abort") return reply.code(499).send();
    return completionBody({
      kind,
      id,
      created,
      model: p.model,
      text: echoText + pieces.join(""),
      finishReason: info.reason,
      usage: usageOf(info.promptTokens, info.outputTokens, info.cachedTokens, details),
      kvTransferParams: kvTransferOut(info),
    });
  }

  // SSE streaming: one chunk per generated token, then the usage chunk, then [DONE].
  const sse = new SseStream(reply.raw, {
    id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created,
    model: p.model,
  });
  reply.raw.once("close", () => ctx.engine.abort(engineId));
  const lastIndex = plan.tokens.length - 1;
  let numOut = 0;
  let lastPiece: { text: string; usage: ReturnType<typeof usageOf> | undefined } | null = null;
  const er = add({
    onToken: (t, index) => {
      countToken();
      numOut = index + 1;
      const finish = index === lastIndex ? plan.finishReason : null;
      const usage = p.continuousUsageStats
        ? usageOf(prompt.length, numOut, Math.max(0, er.cachedTokens), details)
        : undefined;
      // The final chunk is sent from onFinish, where the KV-transfer params are known.
      if (finish !== null) {
        lastPiece = { text: ctx.generator.piece(t), usage };
        return;
      }
      sse.chunk([streamChoice(kind, ctx.generator.piece(t), null)], usage, { kv_transfer_params: null });
    },
    onFinish: (info) => {
      if (info.reason === "abort") return sse.end();
      // vLLM 0.34 puts kv_transfer_params (P/D) on the chunk that carries finish_reason.
      const final = { kv_transfer_params: kvTransferOut(info) };
      if (lastPiece !== null && info.reason === plan.finishReason) {
        sse.chunk([streamChoice(kind, lastPiece.text, info.reason)], lastPiece.usage, final);
      } else {
        if (lastPiece !== null)
          sse.chunk([streamChoice(kind, lastPiece.text, null)], lastPiece.usage, {
            kv_transfer_params: null,
          });
        // Finished earlier than planned (context limit): close the choice explicitly.
        sse.chunk([streamChoice(kind, "", info.reason)], undefined, final);
      }
      if (p.includeUsage)
        sse.chunk([], usageOf(info.promptTokens, info.outputTokens, info.cachedTokens, details));
      sse.done();
    },
  });
  reply.hijack();
  sse.open({
    "x-request-id": requestId,
    "x-inference-pod": ctx.podName,
    "x-inference-port": String(ctx.port),
  });
  if (kind === "chat") {
    sse.chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  } else if (echoText) sse.chunk([streamChoice(kind, echoText, null)]);
  return reply;
}
