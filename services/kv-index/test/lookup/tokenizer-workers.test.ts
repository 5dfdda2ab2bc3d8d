import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseTokenizerSourceMap, TokenizerLoader } from "@inferd/kv-blocks";
import { InlineBackend, NoLocalTokenizerError, runJob, WorkerPoolBackend } from "@inferd/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { LookupTokenizers } from "../../src/lookup/tokenizers.ts";

/**
 * kv-index's text and chat lookups tokenise in worker threads (the scorer's pool, from
 * @inferd/tokenizers): same ids as tokenising here, and the event loop keeps turning meanwhile.
 */
const TINY_MODEL = "acme/tiny-llama";
const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);
const sources = parseTokenizerSourceMap({ [TINY_MODEL]: [`dir:${TINY}`], "*": ["approximate"] });
const workers = new LookupTokenizers(sources, { serverTimeoutMs: 1_000, backend: new WorkerPoolBackend(1) });
const inline = new LookupTokenizers(sources, { serverTimeoutMs: 1_000, backend: new InlineBackend() });
afterAll(async () => {
  await workers.close();
  await inline.close();
});

const TEXT = "Prefix caching keeps the KV blocks of a shared system prompt on the server that saw it. ";
const CHAT = {
  messages: [
    { role: "system", content: "You answer questions about prefix caching in short sentences." },
    { role: "user", content: "Why does a shared system prompt make routing matter?" },
  ],
  addGenerationPrompt: true,
};

/** How many times the event loop turned while `work` ran (setImmediate chain). */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  const pending = work();
  setImmediate(spin);
  const value = await pending;
  done = true;
  return { value, turns };
}

describe("kv-index lookup - tokenisation in worker threads", () => {
  it("text and chat jobs give the ids the tokenizer gives in this thread", async () => {
    const r = await new TokenizerLoader().resolve(TINY_MODEL, sources.get(TINY_MODEL)!);
    if (r.kind !== "local") throw new Error("expected a local tokenizer");
    for (const job of [{ kind: "text", text: TEXT } as const, { kind: "chat", chat: CHAT } as const]) {
      const expected = Array.from(runJob(r.tokenizer, job));
      expect(Array.from(await workers.tokenize(TINY_MODEL, job))).toEqual(expected);
      expect(Array.from(await inline.tokenize(TINY_MODEL, job))).toEqual(expected);
    }
  });

  it("a model without a tokenizer here is still NoLocalTokenizerError through the workers", async () => {
    await expect(workers.tokenize("other/model", { kind: "text", text: TEXT })).rejects.toThrow(
      NoLocalTokenizerError,
    );
  });

  it("a long prompt tokenises while the event loop keeps turning (inline: it does not)", async () => {
    // Load the tokenizer in both first, so only the encoding is left.
    await workers.tokenize(TINY_MODEL, { kind: "text", text: "warm" });
    await inline.tokenize(TINY_MODEL, { kind: "text", text: "warm" });
    // Distinct long texts: neither backend's prefix cache has seen them.
    const long = (tag: string) => Array.from({ length: 1_500 }, (_, i) => `${tag} ${i}: ${TEXT}`).join("");
    const off = await turnsDuring(() => workers.tokenize(TINY_MODEL, { kind: "text", text: long("w") }));
    const on = await turnsDuring(() => inline.tokenize(TINY_MODEL, { kind: "text", text: long("i") }));
    expect(off.value.length).toBeGreaterThan(20_000);
    expect(on.value.length).toBeGreaterThan(20_000);
    expect(off.turns).toBeGreaterThan(0);
    expect(on.turns).toBe(0);
  });
});
