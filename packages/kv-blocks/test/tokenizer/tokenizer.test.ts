import { readFileSync } from "node:fs";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type ChatMessage, type ChatTokenizer, loadTokenizer } from "../../src/index.ts";

interface Vectors {
  texts: { text: string; ids: number[] }[];
  chats: {
    messages: ChatMessage[];
    addGenerationPrompt: boolean;
    kwargs: Record<string, unknown>;
    text: string;
    ids: number[];
  }[];
}
// Made by gen_tokenizer_vectors.py with HF tokenizers (Rust) and jinja2 configured like transformers.
const vectors = JSON.parse(
  readFileSync(new URL("./tokenizer-vectors.json", import.meta.url), "utf8"),
) as Vectors;

let tok: ChatTokenizer;
let small: ChatTokenizer; // caches every segment, to exercise the cache on short texts
let chunky: ChatTokenizer; // also cuts segments into tiny chunks at every safe point
beforeAll(async () => {
  tok = await loadTokenizer();
  small = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 1, maxChars: 4096, chunkChars: 0 });
  chunky = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 1, chunkChars: 2 });
});

describe("kv-blocks tokenizer - matches HF tokenizers and transformers' chat template", () => {
  it("encodes every reference text to the Rust tokenizer's ids, with and without the cache", () => {
    for (const { text, ids } of vectors.texts) {
      expect(Array.from(tok.encodeDirect(text)), JSON.stringify(text.slice(0, 60))).toEqual(ids);
      expect(Array.from(tok.encode(text))).toEqual(ids);
      expect(Array.from(small.encode(text))).toEqual(ids);
      expect(Array.from(chunky.encode(text))).toEqual(ids);
    }
  });

  it("renders the Qwen3 chat template exactly as jinja2 does and tokenises it the same", () => {
    for (const c of vectors.chats) {
      const text = tok.applyChatTemplate(c.messages, {
        addGenerationPrompt: c.addGenerationPrompt,
        chatTemplateKwargs: c.kwargs,
      });
      expect(text).toBe(c.text);
      expect(
        Array.from(
          tok.encodeChat(c.messages, {
            addGenerationPrompt: c.addGenerationPrompt,
            chatTemplateKwargs: c.kwargs,
          }),
        ),
      ).toEqual(c.ids);
    }
  });

  it("decodes ids back to the text", () => {
    const text = "Hello world! 你好 😀\n\tcode();";
    expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.decode(tok.encode("<|im_start|>user\nhi<|im_end|>"), { skipSpecialTokens: true })).toBe(
      "user\nhi",
    );
  });

  it("shares one instance across model names and concurrent first calls", async () => {
    expect(await loadTokenizer("any/other-model")).toBe(tok);
    const [a, b] = await Promise.all([loadTokenizer("x"), loadTokenizer("y")]);
    expect(a).toBe(b);
  });

  it("rejects an empty conversation", () => {
    expect(() => tok.applyChatTemplate([])).toThrow(/at least one message/);
  });
});

describe("kv-blocks tokenizer - prefix cache", () => {
  const pieces = [
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<|endoftext|>",
    "\n",
    " ",
    "  ",
    "a",
    "b c",
    "Z",
    "ß",
    "日本",
    "😀",
    "12",
    "!",
    "'s",
    "\r\n",
    "\t",
  ];
  const textArb = fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((p) => p.join(""));

  it("gives identical ids to uncached tokenisation on random texts with special tokens", () => {
    fc.assert(
      fc.property(textArb, (text) => {
        expect(Array.from(small.encode(text))).toEqual(Array.from(small.encodeDirect(text)));
      }),
      { numRuns: 300 },
    );
  });

  it("gives identical ids when long segments are cut into chunks after newline + letter", () => {
    const chunkPieces = [
      ...pieces,
      "\n",
      "\nA",
      "\nb",
      "\n日",
      "\nß",
      "\n\n",
      " \n",
      "!\n",
      "\r\n",
      "\nė",
      "e\u0301",
      "\n\u0301",
      "\u1100\u1161",
      "\n\u1161",
      "'s",
      "\n's",
      "1\n",
      "\t\n",
    ];
    const arb = fc.array(fc.constantFrom(...chunkPieces), { maxLength: 80 }).map((p) => p.join(""));
    fc.assert(
      fc.property(arb, (text) => {
        expect(Array.from(chunky.encode(text))).toEqual(Array.from(chunky.encodeDirect(text)));
      }),
      { numRuns: 400 },
    );
  });

  it("shares cached chunks between raw texts that only share a prefix", async () => {
    const raw = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 64, chunkChars: 256 });
    const shared = Array.from({ length: 200 }, (_, i) => `Line ${i}: the cache keeps prefix blocks.\n`).join(
      "",
    );
    for (let i = 0; i < 10; i++) {
      const text = `${shared}Question ${i}: ${"why? ".repeat(i * 10)}`;
      expect(Array.from(raw.encode(text))).toEqual(Array.from(raw.encodeDirect(text)));
    }
    const stats = raw.cacheStats();
    expect(stats.hitChars).toBeGreaterThan(9 * (shared.length - 512));
  });

  it("gives identical ids on many chats sharing long system prompts, and hits the cache", async () => {
    const cached = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 256 });
    const rnd = fc.sample(fc.tuple(fc.nat(4), textArb, fc.boolean()), { numRuns: 60, seed: 42 });
    const systems = Array.from({ length: 5 }, (_, i) =>
      `${vectors.texts[10 + i]!.text}\nRules v${i}: be brief.`.repeat(3),
    );
    for (const [sys, question, thinking] of rnd) {
      const messages: ChatMessage[] = [
        { role: "system", content: systems[sys]! },
        { role: "user", content: `Question: ${question}` },
      ];
      const opts = { chatTemplateKwargs: { enable_thinking: thinking } };
      const text = cached.applyChatTemplate(messages, opts);
      expect(Array.from(cached.encodeChat(messages, opts))).toEqual(Array.from(cached.encodeDirect(text)));
    }
    const stats = cached.cacheStats();
    expect(stats.misses).toBeLessThanOrEqual(5 + 60); // each system prompt once, long questions at most once each
    expect(stats.hits).toBeGreaterThanOrEqual(55);
    expect(stats.entries).toBeGreaterThan(0);
  });

  it("primes another instance from what one encoding used: same ids, prefix from the cache", async () => {
    const worker = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 256 });
    const loop = await loadTokenizer("Qwen/Qwen3-32B", { minChars: 256 });
    const system = `${vectors.texts[11]!.text}\nRules: be brief, naïve café 東京 😀.\n`.repeat(40);
    const chat = (q: string) => ({
      messages: [
        { role: "system", content: system },
        { role: "user", content: q },
      ],
      addGenerationPrompt: true,
    });
    // A first encoding fills the worker's cache; the second one's segments are cache hits, still all recorded.
    worker.encodeChatRequest(chat("first?"));
    const { result, warmth } = worker.withWarmth(() => worker.encodeChatRequest(chat("second?")));
    expect(Array.from(result)).toEqual(Array.from(worker.encodeChatRequest(chat("second?"))));
    expect(warmth.segments.reduce((n, [s]) => n + s.length, 0)).toBeGreaterThan(system.length - 1024);
    // The words the worker memoised since the last hand-over (all of the first encoding's): once.
    expect(warmth.words.length).toBeGreaterThan(20);
    expect(worker.withWarmth(() => worker.encodeChatRequest(chat("second?"))).warmth.words).toEqual([]);
    loop.prime(warmth);
    const before = loop.cacheStats();
    const ids = loop.encodeChatRequest(chat("third question, new to both?"));
    const text = loop.applyChatTemplate(chat("third question, new to both?").messages);
    expect(Array.from(ids)).toEqual(Array.from(loop.encodeDirect(text)));
    const after = loop.cacheStats();
    expect(after.hitChars - before.hitChars).toBeGreaterThan(system.length - 1024);
    // Outside withWarmth nothing is recorded.
    expect(worker.withWarmth(() => 0).warmth).toEqual({ segments: [], words: [] });
  });

  it("stays within its character bound", () => {
    const bounded = small;
    bounded.clearCache();
    for (let i = 0; i < 200; i++) bounded.encode(`segment number ${i} `.repeat(10));
    expect(bounded.cacheStats().cachedChars).toBeLessThanOrEqual(4096);
    expect(bounded.cacheStats().entries).toBeLessThan(200);
  });
});
