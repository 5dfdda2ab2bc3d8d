import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeMessage, jetStreamClient, messageHeaders, ServiceCallError, serviceClient } from "@inferd/bus";
import {
  chatRequestFromBody,
  NoTokenizerError,
  parseTokenizerSource,
  TokenizerLoader,
} from "@inferd/kv-blocks";
import {
  BlockStoredSchema,
  type KvEventBatch,
  KvEventBatchSchema,
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  make,
  StorageTier,
  subjects,
} from "@inferd/protocol";
import { waitFor } from "@inferd/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningKvIndex } from "../../src/service.ts";
import { startSim } from "../support/model-sim.ts";
import { registerEndpoint, startTestKvIndex, useServers } from "../support/stack.ts";

/**
 * kv-index's own lookup service tokenises text and chat prompts per model, from the same
 * `tokenizerSources` as the scorer: a non-Qwen model (tiny-llama, a SentencePiece-style tokenizer
 * with a BOS and its own chat template) and Qwen3 (the npm tokenizer), against real NATS + Redis.
 * Blocks are ingested from each model's own token ids; a text lookup must find them all.
 */
const TINY_MODEL = "acme/tiny-llama";
/** Tokenised by its server's POST /tokenize (model-sim with the tiny-llama tokenizer). */
const SERVED_MODEL = "acme/tiny-served";
const QWEN_MODEL = "Qwen/Qwen3-32B";
const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);
const BS = 16;
const s = subjects();
const t = useServers();

const TEXT =
  "The router sends each request to the server that already holds the longest part of its prompt " +
  "in KV cache, unless that server is saturated or would miss the latency objective.";
const CHAT = {
  messages: [
    { role: "system", content: "You answer questions about prefix caching in short sentences." },
    { role: "user", content: "Why does a shared system prompt make routing matter?" },
  ],
};

async function tokenizerOf(model: string, source: string) {
  const r = await new TokenizerLoader().resolve(model, [parseTokenizerSource(source)]);
  if (r.kind !== "local") throw new Error("expected a local tokenizer");
  return r.tokenizer;
}

let batchSeq = 0n;
/** Publishes the full blocks of `ids` as one engine's BlockStored event on INFERD_KV_EVENTS. */
async function ingest(kvi: RunningKvIndex, model: string, pod: string, ids: Uint32Array): Promise<number> {
  const blocks = Math.floor(ids.length / BS);
  const tokenIds = Array.from(ids.subarray(0, blocks * BS));
  const batch: KvEventBatch = make(KvEventBatchSchema, {
    model,
    pod,
    seq: batchSeq++,
    tsSeconds: 1,
    receivedUnixMs: BigInt(Date.now()),
    events: [
      {
        event: {
          case: "blockStored",
          value: make(BlockStoredSchema, {
            blockHashes: Array.from({ length: blocks }, (_, i) => 1_000n * (batchSeq + 1n) + BigInt(i)),
            tokenIds,
            blockSize: BS,
            tier: StorageTier.GPU,
          }),
        },
      },
    ] as never,
  });
  await jetStreamClient(kvi.nc).publish(s.kvEvents(model, pod), encodeMessage(KvEventBatchSchema, batch), {
    headers: messageHeaders(KvEventBatchSchema),
  });
  return blocks;
}

/** Generous deadline: the first text lookup of a model loads its tokenizer (seconds on a loaded machine). */
const lookupClient = () =>
  serviceClient(t.nc, s.kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema, {
    defaultTimeoutMs: 30_000,
  });

function lookup(prompt: { case: "text"; value: string } | { case: "chat"; value: unknown }, model: string) {
  return lookupClient().call(make(KvLookupRequestSchema, { model, prompt: prompt as never }));
}

function chatPrompt() {
  return {
    case: "chat" as const,
    value: {
      messages: CHAT.messages.map((m) => ({ role: m.role, content: m.content })),
      addGenerationPrompt: true,
    },
  };
}

describe("kv-index lookup - per-model tokenizers (tokenizerSources, shared with the scorer)", () => {
  let kvi: RunningKvIndex;
  beforeAll(async () => {
    kvi = await startTestKvIndex({
      natsUrl: t.nats.url,
      redisUrl: t.redis.url,
      indexBackend: "redis",
      ingest: false,
      tokenizerSources: {
        [TINY_MODEL]: [`dir:${TINY}`],
        [SERVED_MODEL]: ["server"],
        "acme/no-server": ["server"],
        "acme/no-tokenizer": ["approximate"],
        "*": ["qwen3"],
      },
    });
    t.cleanups.push(() => kvi.stop());
  });

  it("a text and a chat lookup for the non-Qwen model match the blocks ingested from its token ids", async () => {
    const tiny = await tokenizerOf(TINY_MODEL, `dir:${TINY}`);
    const textIds = tiny.encodeCompletion(TEXT);
    const chatIds = tiny.encodeChatRequest(chatRequestFromBody({ ...CHAT, add_generation_prompt: true }));
    // A BOS first, as vLLM adds it for this model: not what Qwen3 would give.
    expect(textIds[0]).toBe(1);
    const textBlocks = await ingest(kvi, TINY_MODEL, "pod-text", textIds);
    const chatBlocks = await ingest(kvi, TINY_MODEL, "pod-chat", chatIds);
    expect(textBlocks).toBeGreaterThan(3);
    expect(chatBlocks).toBeGreaterThan(3);
    await waitFor(async () => (await kvi.index!.engines(TINY_MODEL)).length === 2, {
      timeoutMs: 60_000,
      message: "kv-index never indexed the two engines",
    });

    const byText = await lookup({ case: "text", value: TEXT }, TINY_MODEL);
    expect(byText.promptTokens).toBe(textIds.length);
    expect(byText.pods.map((p) => [p.pod, p.matchedBlocks])).toEqual([["pod-text", textBlocks]]);

    const byChat = await lookup(chatPrompt(), TINY_MODEL);
    expect(byChat.promptTokens).toBe(chatIds.length);
    expect(byChat.pods.find((p) => p.pod === "pod-chat")?.matchedBlocks).toBe(chatBlocks);
  });

  it("the Qwen3 family still tokenises as Qwen3 (the second tokenizer family)", async () => {
    const qwen = await tokenizerOf(QWEN_MODEL, "qwen3");
    const ids = qwen.encodeCompletion(TEXT);
    const blocks = await ingest(kvi, QWEN_MODEL, "pod-qwen", ids);
    await waitFor(async () => (await kvi.index!.engines(QWEN_MODEL)).length === 1, {
      timeoutMs: 60_000,
      message: "kv-index never indexed the Qwen3 engine",
    });
    const r = await lookup({ case: "text", value: TEXT }, QWEN_MODEL);
    expect(r.promptTokens).toBe(ids.length);
    expect(r.pods.map((p) => [p.pod, p.matchedBlocks])).toEqual([["pod-qwen", blocks]]);
  });

  it("source server: kv-index asks the model's server in the inventory (POST /tokenize)", async () => {
    const sim = await startSim({
      pod: "sim-served",
      encoding: "map",
      extraArgs: ["--model", SERVED_MODEL, "--tokenizer", TINY],
    });
    t.cleanups.push(() => sim.stop());
    await registerEndpoint(t.nc, {
      pod: "sim-served",
      model: SERVED_MODEL,
      kvEvents: sim.kvEvents,
      address: sim.url,
    });
    const tiny = await tokenizerOf(SERVED_MODEL, `dir:${TINY}`);
    const ids = tiny.encodeChatRequest(chatRequestFromBody({ ...CHAT, add_generation_prompt: true }));
    const blocks = await ingest(kvi, SERVED_MODEL, "pod-served", ids);
    await waitFor(async () => (await kvi.index!.engines(SERVED_MODEL)).length === 1, {
      timeoutMs: 60_000,
      message: "kv-index never indexed the served model's engine",
    });
    // The inventory entry arrives asynchronously: until then the answer is an explicit no_tokenizer.
    const r = await waitFor(() => lookup(chatPrompt(), SERVED_MODEL).catch(() => undefined), {
      timeoutMs: 60_000,
      message: "chat lookup through the model server",
    });
    expect(r.promptTokens).toBe(ids.length);
    expect(r.pods.map((p) => [p.pod, p.matchedBlocks])).toEqual([["pod-served", blocks]]);
  });

  it("a model without a tokenizer here is an explicit answer: send token ids (NATS and HTTP)", async () => {
    for (const model of ["acme/no-tokenizer", "acme/no-server", "acme/unknown-model"]) {
      const err = await lookup({ case: "text", value: TEXT }, model).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceCallError);
      expect((err as ServiceCallError).code).toBe("no_tokenizer");
      expect((err as ServiceCallError).message).toMatch(/send the prompt's token ids/);
    }
    const http = await fetch(`${kvi.httpUrl}/v1/lookup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "acme/no-tokenizer", messages: CHAT.messages }),
    });
    expect(http.status).toBe(422);
    expect(((await http.json()) as { error: { code: string } }).error.code).toBe("no_tokenizer");
    // Token ids are always answered.
    const byIds = await lookupClient().call(
      make(KvLookupRequestSchema, {
        model: "acme/no-tokenizer",
        prompt: { case: "tokens", value: { ids: [1, 2, 3] } },
      }),
    );
    expect(byIds.promptTokens).toBe(3);
  });

  it("a named model whose sources all fail stops the start-up", async () => {
    await expect(
      startTestKvIndex({
        natsUrl: t.nats.url,
        indexBackend: "memory",
        ingest: false,
        indexer: false,
        tokenizerSources: { "acme/missing": ["dir:/nonexistent/model"] },
      }),
    ).rejects.toThrow(NoTokenizerError);
  });
});
