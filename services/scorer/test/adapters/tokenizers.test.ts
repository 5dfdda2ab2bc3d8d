import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTokenizer, NoTokenizerError, parseTokenizerSourceMap } from "@inferd/kv-blocks";
import { type ManagedProcess, waitFor } from "@inferd/testkit";
import { InlineBackend, WorkerPoolBackend } from "@inferd/tokenizers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelTokenizers } from "../../src/adapters/tokenize/model-tokenizers.ts";
import { CachedTokenAudit } from "../../src/adapters/tokenize/tokenizer-metrics.ts";
import { loadScorerConfig } from "../../src/config.ts";
import { CycleState } from "../../src/framework/cycle.ts";
import type { Prompt } from "../../src/framework/types.ts";
import { PrefixCacheProducer } from "../../src/plugins/prefix-cache/producer.ts";
import { ep, request } from "../helpers.ts";
import { quietLogger, startModelSimProcess } from "./helpers.ts";

const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);
const { families } = (
  await import("@inferd/kv-blocks/fixtures/tokenizers/family-vectors.json", { with: { type: "json" } })
).default as unknown as {
  families: {
    name: string;
    texts: { text: string; completionIds: number[] }[];
    chats: { request: Record<string, unknown>; ids: number[] }[];
  }[];
};
const tiny = families.find((f) => f.name === "tiny-llama")!;

function chatPrompt(req: Record<string, unknown>): Prompt {
  const messages = req.messages as { role: string; content: unknown }[];
  return {
    kind: "chat",
    messages: messages.map((m) => ({
      role: m.role,
      content: typeof m.content === "string" ? m.content : "",
    })),
    addGenerationPrompt: req.add_generation_prompt !== false,
    request: {
      messages,
      addGenerationPrompt: req.add_generation_prompt !== false,
      continueFinalMessage: req.continue_final_message === true,
      tools: (req.tools as unknown[]) ?? null,
      chatTemplateKwargs: (req.chat_template_kwargs as Record<string, unknown>) ?? null,
    },
  };
}

function observer() {
  const seen: string[] = [];
  return {
    seen,
    tokenized: (model: string, where: string) => seen.push(`${model}:${where}`),
    approximate: (model: string, reason: string) => seen.push(`${model}:approx:${reason}`),
  };
}

describe("scorer tokenizers - per-model sources", () => {
  it("tokenises chat requests and completions prompts in a worker thread like the server", async () => {
    const obs = observer();
    const t = new ModelTokenizers({
      sources: parseTokenizerSourceMap({ "acme/tiny": [`dir:${TINY}`] }),
      backend: new WorkerPoolBackend(1),
      addressOf: () => undefined,
      serverTimeoutMs: 1000,
      logger: quietLogger(),
      observer: obs,
    });
    try {
      await t.start();
      for (const c of tiny.chats)
        expect(Array.from((await t.tokenize("acme/tiny", chatPrompt(c.request)))!)).toEqual(c.ids);
      const x = tiny.texts[3]!;
      expect(Array.from((await t.tokenize("acme/tiny", { kind: "text", text: x.text }))!)).toEqual(
        x.completionIds,
      );
      expect(obs.seen).toContain("acme/tiny:local");
    } finally {
      await t.close();
    }
  });

  it("ids from the worker (a transferred Uint32Array) equal the inline path and uncached tokenisation, both APIs", async () => {
    const sources = parseTokenizerSourceMap({ "*": ["qwen3:any"] }).get("*")!;
    const worker = new WorkerPoolBackend(1);
    const inline = new InlineBackend();
    const reference = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 1 << 30 }); // caches nothing
    const long = `${"The prefix cache router, naïve café 東京 😀 — it's 42.\n".repeat(400)}Question: why?`;
    const jobs = [
      { kind: "text", text: long },
      {
        kind: "chat",
        chat: {
          messages: [
            { role: "system", content: long },
            { role: "user", content: "and then?" },
          ],
          addGenerationPrompt: true,
        },
      },
    ] as const;
    try {
      for (const job of jobs) {
        const fromWorker = (await worker.encode("m", sources, job)).ids;
        const fromInline = (await inline.encode("m", sources, job)).ids;
        expect(fromWorker).toBeInstanceOf(Uint32Array);
        expect(fromWorker.length).toBeGreaterThan(4000);
        expect(Array.from(fromWorker)).toEqual(Array.from(fromInline));
        const want =
          job.kind === "text" ? reference.encodeCompletion(job.text) : reference.encodeChatRequest(job.chat);
        expect(Array.from(fromWorker)).toEqual(Array.from(want));
      }
    } finally {
      await worker.close();
      await inline.close();
    }
  });

  it("a warm chat prefix is tokenised on the event loop, a new one in the worker; ids equal both ways", async () => {
    const obs = observer();
    const sources = parseTokenizerSourceMap({ "*": ["qwen3:any"] });
    // Counts the event loop's tokenisations: the warm-up primes its cache from the worker's segments
    // instead of tokenising the prompt a second time.
    const inline = new (class extends InlineBackend {
      encodes = 0;
      override encode(...args: Parameters<InlineBackend["encode"]>) {
        this.encodes++;
        return super.encode(...args);
      }
    })();
    const t = new ModelTokenizers({
      sources,
      backend: new WorkerPoolBackend(1),
      addressOf: () => undefined,
      serverTimeoutMs: 1000,
      logger: quietLogger(),
      observer: obs,
      // Generous: a cold tokenisation under a full test run on 2 cores still qualifies for the warm-up.
      inline: { backend: inline, warmupMaxMs: 60_000 },
    });
    const reference = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 1 << 30 }); // caches nothing
    const system = `${"The prefix cache router, naïve café 東京 😀 — it's 42.\n".repeat(400)}Be brief.`;
    const chat = (question: string): Prompt =>
      chatPrompt({
        messages: [
          { role: "system", content: system },
          { role: "user", content: question },
        ],
      });
    const want = (question: string): number[] =>
      Array.from(
        reference.encodeChatRequest({
          messages: [
            { role: "system", content: system },
            { role: "user", content: question },
          ],
          addGenerationPrompt: true,
        }),
      );
    try {
      expect(Array.from((await t.tokenize("m", chat("first question?")))!)).toEqual(want("first question?"));
      expect(obs.seen).toEqual(["m:local"]);
      // The event loop warms its own cache for the prefix once, after the pick.
      await waitFor(() => t.warmPrefixes > 0, { timeoutMs: 60_000, message: "prefix warmed" });
      expect(inline.encodes).toBe(0);
      expect(Array.from((await t.tokenize("m", chat("second question?")))!)).toEqual(
        want("second question?"),
      );
      expect(obs.seen).toEqual(["m:local", "m:inline"]);
      expect(inline.encodes).toBe(1);
      // Another system prompt (or a single message, or a completions prompt) is not warm: the worker.
      const other = chatPrompt({ messages: [{ role: "user", content: system }] });
      await t.tokenize("m", other);
      await t.tokenize("m", { kind: "text", text: system });
      expect(obs.seen.slice(2)).toEqual(["m:local", "m:local"]);
    } finally {
      await t.close();
    }
  });

  it("a worker that dies is replaced: later tokenisations still answer", async () => {
    const backend = new WorkerPoolBackend(1);
    const sources = parseTokenizerSourceMap({ m: [`dir:${TINY}`] }).get("m")!;
    const job = { kind: "text", text: tiny.texts[3]!.text } as const;
    try {
      expect(Array.from((await backend.encode("m", sources, job)).ids)).toEqual(tiny.texts[3]!.completionIds);
      const workers = (backend as unknown as { workers: { terminate(): Promise<number> }[] }).workers;
      const dead = workers[0]!;
      await dead.terminate();
      await waitFor(() => workers[0] !== dead, { message: "worker replaced" });
      expect(Array.from((await backend.encode("m", sources, job)).ids)).toEqual(tiny.texts[3]!.completionIds);
    } finally {
      await backend.close();
    }
  });

  it("a named model without a usable source stops the start-up; others switch to approximate, loudly", async () => {
    const bad = new ModelTokenizers({
      sources: parseTokenizerSourceMap({ "acme/none": ["dir:/nonexistent", "qwen3"] }),
      backend: new InlineBackend(),
      addressOf: () => undefined,
      serverTimeoutMs: 1000,
      logger: quietLogger(),
    });
    await expect(bad.start()).rejects.toThrow(NoTokenizerError);
    await expect(bad.start()).rejects.toThrow(/dir:\/nonexistent: no tokenizer.json.*qwen3: not applicable/);

    const obs = observer();
    const t = new ModelTokenizers({
      sources: parseTokenizerSourceMap({ "acme/approx": ["approximate"], "*": ["qwen3"] }),
      backend: new InlineBackend(),
      addressOf: () => undefined,
      serverTimeoutMs: 1000,
      logger: quietLogger(),
      observer: obs,
    });
    await t.start();
    expect(await t.tokenize("acme/approx", { kind: "text", text: "hi" })).toBeUndefined();
    expect(await t.tokenize("acme/other", { kind: "text", text: "hi" })).toBeUndefined();
    expect((await t.tokenize("Qwen/Qwen3-8B", { kind: "text", text: "hi" }))?.length).toBeGreaterThan(0);
    expect(obs.seen).toEqual([
      "acme/approx:approx:approximate",
      "acme/other:approx:unavailable",
      "Qwen/Qwen3-8B:local",
    ]);
  });

  it("without exact tokens the prefix producer does not ask kv-index (approximate routing)", async () => {
    let asked = 0;
    const p = new PrefixCacheProducer(
      {
        mode: "auto",
        blockSizeTokens: 16,
        maxPrefixBlocks: 100,
        lruCapacityPerServer: 100,
        fallbackHistory: true,
        speculativeTtlMs: 0,
      },
      {
        kvLookup: async () => {
          asked++;
          return { totalBlocks: 0, blockSize: 16, promptTokens: 0, pods: [] };
        },
        tokenizer: async () => undefined,
      },
    );
    const c = new CycleState(request({ prompt: { kind: "text", text: "x".repeat(400) } }), 0);
    await p.produce(c, [ep("a")]);
    expect(asked).toBe(0);
    expect(c.tokensApproximate).toBe(true);
    expect(c.notes.join()).toMatch(/approximate prefix/);
    const exact = new PrefixCacheProducer(
      {
        mode: "auto",
        blockSizeTokens: 16,
        maxPrefixBlocks: 100,
        lruCapacityPerServer: 100,
        fallbackHistory: true,
        speculativeTtlMs: 0,
      },
      {
        kvLookup: async () => {
          asked++;
          return { totalBlocks: 0, blockSize: 16, promptTokens: 0, pods: [] };
        },
        tokenizer: async () => Uint32Array.from({ length: 64 }, (_, i) => i),
      },
    );
    await exact.produce(new CycleState(request({ prompt: { kind: "text", text: "x" } }), 0), [ep("a")]);
    expect(asked).toBe(1);
  });

  it("config: tokenizerSources from YAML or env JSON, one line per bad source", () => {
    const env = (v: string) => ({ INFERD_SCORER_TOKENIZER_SOURCES: v });
    expect(
      loadScorerConfig([], env('{"a/b": "dir:/x,server", "*": ["approximate"]}')).tokenizerSources,
    ).toEqual({
      "a/b": ["dir:/x", "server"],
      "*": ["approximate"],
    });
    expect(loadScorerConfig([], {}).tokenizerSources).toEqual({ "*": ["hf-cache", "qwen3"] });
    expect(() => loadScorerConfig([], env('{"a/b": ["gpu"]}'))).toThrow(
      /INFERD_SCORER_TOKENIZER_SOURCES: a\/b: unknown tokenizer source "gpu"/,
    );
  });

  it("counts picks that expected no cached tokens on a server that reported some", () => {
    const missed: string[] = [];
    const audit = new CachedTokenAudit((m) => missed.push(m));
    audit.picked("r1", "m", "a", 0);
    audit.picked("r2", "m", "a", 64);
    audit.picked("r3", "m", "a", 0);
    audit.observed("r1", "a", 128, false); // expected none, server had 128: a miss
    audit.observed("r2", "a", 64, false); // as expected
    audit.observed("r3", "b", 64, true); // served elsewhere (fallback): not comparable
    audit.observed("r1", "a", 128, true); // counted once
    expect(missed).toEqual(["m"]);
  });
});

describe("scorer tokenizers - source server (vLLM POST /tokenize on model-sim)", () => {
  let sim: ManagedProcess;
  let address: string;
  beforeAll(async () => {
    ({ sim, address } = await startModelSimProcess(["--model", "acme/tiny", "--tokenizer", TINY]));
  }, 90_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("asks a ready server of the model; the ids are the server's", async () => {
    const obs = observer();
    const t = new ModelTokenizers({
      sources: parseTokenizerSourceMap({ "*": ["server"] }),
      backend: new InlineBackend(),
      addressOf: (m) => (m === "acme/tiny" ? address : undefined),
      serverTimeoutMs: 2000,
      logger: quietLogger(),
      observer: obs,
    });
    for (const c of tiny.chats)
      expect(Array.from((await t.tokenize("acme/tiny", chatPrompt(c.request)))!)).toEqual(c.ids);
    const x = tiny.texts[4]!;
    expect(Array.from((await t.tokenize("acme/tiny", { kind: "text", text: x.text }))!)).toEqual(
      x.completionIds,
    );
    // The render endpoints (vLLM GenerateRequest token_ids) give the same ids.
    const render = new ModelTokenizers({
      sources: parseTokenizerSourceMap({ "*": ["server-render"] }),
      backend: new InlineBackend(),
      addressOf: () => address,
      serverTimeoutMs: 2000,
      logger: quietLogger(),
      observer: obs,
    });
    for (const c of tiny.chats)
      expect(Array.from((await render.tokenize("acme/tiny", chatPrompt(c.request)))!)).toEqual(c.ids);
    expect(Array.from((await render.tokenize("acme/tiny", { kind: "text", text: x.text }))!)).toEqual(
      x.completionIds,
    );
    // No server of the model to ask: approximate for this pick, said once.
    expect(await t.tokenize("acme/absent", { kind: "text", text: "x" })).toBeUndefined();
    expect(obs.seen).toContain("acme/tiny:server");
    expect(obs.seen).toContain("acme/absent:approx:failed");
  });
});
