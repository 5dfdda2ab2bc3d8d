import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChatTokenizer, qwen3PackageFiles, TokenizerLoader } from "../../src/index.ts";
import { warmUpTexts } from "../../src/tokenizer/warm-up.ts";

const SP_DIR = new URL("../../fixtures/tokenizers/tiny-sp/", import.meta.url);
const spFiles = () => ({
  tokenizerJson: JSON.parse(readFileSync(new URL("tokenizer.json", SP_DIR), "utf8")) as unknown,
  tokenizerConfig: JSON.parse(readFileSync(new URL("tokenizer_config.json", SP_DIR), "utf8")) as Record<
    string,
    unknown
  >,
});

/** Prompt-like text: words of the fixture's alphabet and a few others, long enough for the caches. */
const promptText = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z]{1,12}$/), fc.constantFrom("é", "\n", "42", ".", "日本")), {
    minLength: 80,
    maxLength: 400,
  })
  .map((words) => words.join(" "));

describe.each([
  ["tiny-sp (SentencePiece-style)", async () => spFiles()],
  ["Qwen3 (byte-level)", () => qwen3PackageFiles()],
])("kv-blocks - tokenizer warm-up: %s", (_name, files) => {
  it("leaves the caches as a fresh instance has them, and the ids unchanged", async () => {
    const { tokenizerJson, tokenizerConfig } = await files();
    const fresh = new ChatTokenizer("fresh", tokenizerJson, tokenizerConfig);
    const warmed = new ChatTokenizer("warmed", tokenizerJson, tokenizerConfig);
    // It did encode (the texts are real and long), then forgot all of it.
    expect(warmUpTexts(warmed.tokenizer, 1, 3000)[0]!.length).toBeGreaterThan(10_000);
    expect(warmed.warmUp()).toBeGreaterThan(0);
    expect(warmed.cacheStats()).toEqual(fresh.cacheStats());
    expect(warmed.cacheStats()).toMatchObject({ hits: 0, misses: 0, entries: 0, cachedChars: 0 });
    // No warm-up word is handed on to another thread's tokenizer with the first real prompt: only
    // the prompt's own (a fresh instance also hands on its construction probes' words).
    const first = warmed.withWarmth(() => warmed.encodeCompletion("one two three"));
    const freshFirst = fresh.withWarmth(() => fresh.encodeCompletion("one two three"));
    expect(first.warmth.words.length).toBeGreaterThan(0);
    expect(first.warmth.words.length).toBeLessThanOrEqual(3);
    const freshWords = new Set(freshFirst.warmth.words.map(([w]) => w));
    for (const [w] of first.warmth.words) expect(freshWords).toContain(w);
    fc.assert(
      fc.property(promptText, (text) => {
        expect([...warmed.encodeCompletion(text)]).toEqual([...fresh.encodeCompletion(text)]);
      }),
      { numRuns: 40, seed: 16 },
    );
  });

  it("runs once per instance when the loader builds it, never on an instance already serving", async () => {
    const loader = new TokenizerLoader({ warmUp: true });
    const source = _name.startsWith("tiny-sp")
      ? ({ kind: "dir", path: SP_DIR.pathname } as const)
      : ({ kind: "qwen3", anyModel: true } as const);
    const a = await loader.resolve("model-a", [source]);
    if (a.kind !== "local") throw new Error("expected a local tokenizer");
    const text = "routing tokens to the server that holds the prefix ".repeat(40);
    a.tokenizer.encodeCompletion(text);
    // A second model on the same source shares the instance, and no second warm-up empties what it
    // learnt (the words it memoised are still there to hand on).
    const b = await loader.resolve("model-b", [source]);
    if (b.kind !== "local") throw new Error("expected a local tokenizer");
    expect(b.tokenizer).toBe(a.tokenizer);
    expect(b.tokenizer.withWarmth(() => 0).warmth.words.length).toBeGreaterThan(0);
  });
});
