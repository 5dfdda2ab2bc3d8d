import { InMemoryBlockIndex } from "@inferd/block-index";
import { loadTokenizer, requestKeys } from "@inferd/kv-blocks";
import { KvLookupRequestSchema, make } from "@inferd/protocol";
import { runJob } from "@inferd/tokenizers";
import { describe, expect, it } from "vitest";
import { parseLookupBody } from "../../src/lookup/http.ts";
import { LookupInputError, PrefixLookup } from "../../src/lookup/lookup.ts";

const M = "Qwen/Qwen3-32B";
const toks = (n: number) => Array.from({ length: n }, (_, i) => i + 10);

async function setup() {
  const index = new InMemoryBlockIndex();
  const lookup = new PrefixLookup(index, {
    blockSize: 16,
    tokenize: async (m, job) => runJob(await loadTokenizer(m), job),
  });
  return { index, lookup };
}

describe("kv-index - lookup", () => {
  it("answers per pod, folds data-parallel ranks, honours candidates", async () => {
    const { index, lookup } = await setup();
    const keys = requestKeys(M, toks(80), { blockSize: 16 });
    await index.add(M, "a", "gpu", null, keys.slice(0, 2));
    await index.add(M, "a#dp1", "gpu", null, keys.slice(0, 4));
    await index.add(M, "b", "cpu", null, keys.slice(0, 5));
    const req = make(KvLookupRequestSchema, {
      model: M,
      prompt: { case: "tokens", value: { ids: toks(85) } },
    });
    const { response } = await lookup.lookup(req);
    expect(response.totalBlocks).toBe(5);
    expect(response.promptTokens).toBe(85);
    expect(response.pods.map((p) => [p.pod, p.gpuBlocks, p.cpuBlocks, p.matchedBlocks])).toEqual([
      ["b", 0, 5, 5],
      ["a", 4, 4, 4],
    ]);
    const only = await lookup.lookup(
      parseLookupBody({ model: M, tokens: toks(85), candidate_pods: ["a", "zz"] }),
    );
    expect(only.response.pods.map((p) => p.pod)).toEqual(["a"]);
  });

  it("LoRA and cache salt change the keys", async () => {
    const { index, lookup } = await setup();
    await index.add(M, "a", "gpu", null, requestKeys(M, toks(32), { blockSize: 16, loraName: "sql" }));
    const plain = await lookup.lookup(parseLookupBody({ model: M, tokens: toks(32) }));
    expect(plain.response.pods).toEqual([]);
    const lora = await lookup.lookup(parseLookupBody({ model: M, tokens: toks(32), lora: "sql" }));
    expect(lora.response.pods.map((p) => p.matchedBlocks)).toEqual([2]);
    const salted = await lookup.lookup(
      parseLookupBody({ model: M, tokens: toks(32), lora: "sql", cache_salt: "s" }),
    );
    expect(salted.response.pods).toEqual([]);
  });

  it("tokenises text and chat prompts like the engine", async () => {
    const { index, lookup } = await setup();
    const tokenizer = await loadTokenizer(M);
    const messages = [
      { role: "user", content: "Tell me about prefix caching in vLLM, in detail please. ".repeat(4) },
    ];
    const ids = tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    await index.add(M, "a", "gpu", null, requestKeys(M, ids, { blockSize: 16 }));
    const chat = await lookup.lookup(parseLookupBody({ model: M, messages }));
    expect(chat.response.pods[0]?.matchedBlocks).toBe(Math.floor(ids.length / 16));
    expect(chat.timings.tokenizeKind).toBe("chat");
    const text = await lookup.lookup(
      parseLookupBody({
        model: M,
        text: tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }),
      }),
    );
    expect(text.response.pods[0]?.matchedBlocks).toBe(Math.floor(ids.length / 16));
  });

  it("bad requests are rejected with a clear error", async () => {
    const { lookup } = await setup();
    await expect(lookup.lookup(parseLookupBody({ model: M }))).rejects.toThrow(LookupInputError);
    await expect(lookup.lookup(parseLookupBody({ tokens: [1] }))).rejects.toThrow(/model is required/);
    expect(() => parseLookupBody({ model: M, tokenz: [1] })).toThrow(LookupInputError);
    expect(() => parseLookupBody([1])).toThrow(/JSON object/);
  });
});
