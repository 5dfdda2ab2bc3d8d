import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTokenizerSource, parseTokenizerSource, TokenizerLoader } from "@inferd/kv-blocks";
import { loadConfig } from "@inferd/service-kit";
import { describe, expect, it } from "vitest";
import { ModelResolver, NoLocalTokenizerError, tokenizerFields, tokenizerSourcesOf } from "../src/mod.ts";

const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);
const { families } = (
  await import("@inferd/kv-blocks/fixtures/tokenizers/family-vectors.json", { with: { type: "json" } })
).default as unknown as {
  families: { name: string; texts: { text: string; completionIds: number[] }[] }[];
};
const SPEC = tokenizerFields();
const load = (env: Record<string, string>) => loadConfig("svc", SPEC, { env });
const show = (m: ReturnType<typeof tokenizerSourcesOf>) =>
  m && Object.fromEntries([...m].map(([k, v]) => [k, v.map(formatTokenizerSource)]));

describe("tokenizers - config keys shared by the scorer and kv-index", () => {
  it("tokenizerSources from env JSON (lists or comma strings); tokenizer qwen3 / estimate", () => {
    const c = load({ INFERD_SVC_TOKENIZER_SOURCES: '{"a/b": "dir:/x, server", "*": ["approximate"]}' });
    expect(c.tokenizerSources).toEqual({ "a/b": ["dir:/x", "server"], "*": ["approximate"] });
    expect(show(tokenizerSourcesOf(c))).toEqual({ "a/b": ["dir:/x", "server"], "*": ["approximate"] });
    expect(show(tokenizerSourcesOf(load({})))).toEqual({ "*": ["hf-cache", "qwen3"] });
    expect(show(tokenizerSourcesOf(load({ INFERD_SVC_TOKENIZER: "qwen3" })))).toEqual({ "*": ["qwen3:any"] });
    expect(tokenizerSourcesOf(load({ INFERD_SVC_TOKENIZER: "estimate" }))).toBeUndefined();
  });

  it("one line per bad source, naming the model", () => {
    expect(() => load({ INFERD_SVC_TOKENIZER_SOURCES: '{"a/b": ["gpu"]}' })).toThrow(
      /INFERD_SVC_TOKENIZER_SOURCES: a\/b: unknown tokenizer source "gpu"/,
    );
  });
});

describe("tokenizers - ModelResolver, two tokenizer families", () => {
  const resolver = new ModelResolver(new TokenizerLoader());
  for (const [family, model, source] of [
    ["tiny-llama", "acme/tiny-llama", `dir:${TINY}`],
    ["qwen3", "Qwen/Qwen3-8B", "qwen3"],
  ] as const) {
    it(`${family}: completions ids equal the family's golden vectors`, async () => {
      const vectors = families.find((f) => f.name === family);
      if (!vectors) throw new Error(`no vectors for ${family}`);
      const sources = [parseTokenizerSource(source)];
      const tok = await resolver.local(model, sources);
      for (const v of vectors.texts)
        expect(Array.from(tok.encodeCompletion(v.text))).toEqual(v.completionIds);
      expect(await resolver.resolution(model, sources)).toEqual({
        kind: "local",
        source: expect.any(String),
      });
    });
  }

  it("no local tokenizer (approximate, server, nothing usable) is NoLocalTokenizerError saying why", async () => {
    const r = new ModelResolver(new TokenizerLoader());
    await expect(r.local("a", [parseTokenizerSource("approximate")])).rejects.toThrow(NoLocalTokenizerError);
    await expect(r.local("b", [parseTokenizerSource("server")])).rejects.toThrow(/source is server/);
    // "qwen3" applies only to Qwen3 models: another name is not silently tokenised as Qwen3.
    await expect(r.local("acme/llama", [parseTokenizerSource("qwen3")])).rejects.toThrow(/not applicable/);
  });
});
