import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ChatTokenizer,
  chatRequestFromBody,
  NoTokenizerError,
  parseTokenizerSourceMap,
  sourcesFor,
  TokenizerLoader,
} from "../../src/index.ts";

interface Family {
  name: string;
  texts: { text: string; ids: number[]; completionIds: number[] }[];
  chats: { request: Record<string, unknown>; text: string; ids: number[] }[];
}
// Made by gen_family_vectors.py: HF tokenizers (Rust) + jinja2 configured like transformers, messages
// prepared as vLLM prepares them.
const { families } = (
  await import("../../fixtures/tokenizers/family-vectors.json", { with: { type: "json" } })
).default as unknown as {
  families: Family[];
};
const TINY_DIR = fileURLToPath(new URL("../../fixtures/tokenizers/tiny-llama", import.meta.url));

const loader = new TokenizerLoader();
const tokenizers = new Map<string, ChatTokenizer>();
beforeAll(async () => {
  for (const [name, sources] of [
    ["tiny-llama", [`dir:${TINY_DIR}`]],
    ["qwen3", ["qwen3"]],
  ] as const) {
    const r = await loader.resolve("Qwen/Qwen3-8B", parseTokenizerSourceMap({ m: sources }).get("m")!);
    if (r.kind !== "local") throw new Error("expected a local tokenizer");
    tokenizers.set(name, r.tokenizer);
  }
});

describe.each(families.map((f) => [f.name, f] as const))("tokenizer family %s", (name, fam) => {
  it("encodes texts as HF tokenizers does, without and with special tokens (chat vs completions)", () => {
    const tok = tokenizers.get(name)!;
    for (const t of fam.texts) {
      expect(Array.from(tok.encodeDirect(t.text)), JSON.stringify(t.text.slice(0, 60))).toEqual(t.ids);
      expect(Array.from(tok.encode(t.text))).toEqual(t.ids);
      expect(Array.from(tok.encodeCompletion(t.text))).toEqual(t.completionIds);
    }
  });

  it("renders whole chat requests (tools, tool calls, kwargs, continue_final_message) as transformers/vLLM", () => {
    const tok = tokenizers.get(name)!;
    for (const c of fam.chats) {
      const req = chatRequestFromBody(c.request);
      expect(tok.applyChatTemplate(req.messages, req), JSON.stringify(c.request).slice(0, 120)).toBe(c.text);
      expect(Array.from(tok.encodeChatRequest(req))).toEqual(c.ids);
    }
  });
});

describe("tokenizer sources", () => {
  it("reads a model from a Hugging Face hub cache layout, offline", async () => {
    const hub = mkdtempSync(join(tmpdir(), "hub-"));
    const rev = "0123456789abcdef0123456789abcdef01234567";
    const snap = join(hub, "models--acme--tiny-llama", "snapshots", rev);
    mkdirSync(snap, { recursive: true });
    cpSync(TINY_DIR, snap, { recursive: true });
    mkdirSync(join(hub, "models--acme--tiny-llama", "refs"));
    writeFileSync(join(hub, "models--acme--tiny-llama", "refs", "main"), rev);
    const fresh = new TokenizerLoader({ env: { HF_HUB_CACHE: hub } });
    const r = await fresh.resolve("acme/tiny-llama", [{ kind: "hf-cache", cacheDir: null }]);
    expect(r.kind).toBe("local");
    const fam = families.find((f) => f.name === "tiny-llama")!;
    if (r.kind === "local")
      expect(Array.from(r.tokenizer.encode(fam.texts[1]!.text))).toEqual(fam.texts[1]!.ids);
  });

  it("takes the first usable source in the configured order and names every failure otherwise", async () => {
    const map = parseTokenizerSourceMap({
      "acme/tiny-llama": ["hf-cache:/nonexistent", `dir:${TINY_DIR}`, "qwen3"],
      "acme/other": ["qwen3"],
      "*": ["hf-cache:/nonexistent", "server"],
    });
    const r = await loader.resolve("acme/tiny-llama", sourcesFor(map, "acme/tiny-llama"));
    expect(r.kind === "local" && r.source).toBe(`dir:${TINY_DIR}`);
    // The npm Qwen3 tokenizer is not used for a model that is not Qwen3 unless asked with qwen3:any.
    await expect(loader.resolve("acme/other", sourcesFor(map, "acme/other"))).rejects.toThrow(
      NoTokenizerError,
    );
    await expect(loader.resolve("acme/other", sourcesFor(map, "acme/other"))).rejects.toThrow(
      /qwen3: not applicable/,
    );
    expect((await loader.resolve("acme/other", [{ kind: "qwen3", anyModel: true }])).kind).toBe("local");
    expect((await loader.resolve("x/y", sourcesFor(map, "x/y"))).kind).toBe("server");
    expect((await loader.resolve("x/y", [{ kind: "approximate" }])).kind).toBe("approximate");
    await expect(loader.resolve("x/y", [])).rejects.toThrow(/no source configured/);
  });

  it("rejects bad source maps with the reason", () => {
    expect(() => parseTokenizerSourceMap({ m: ["gpu"] })).toThrow(/m: unknown tokenizer source "gpu"/);
    expect(() => parseTokenizerSourceMap({ m: [] })).toThrow(/non-empty/);
    expect(() => parseTokenizerSourceMap(["dir:x"])).toThrow(/must map/);
    expect(parseTokenizerSourceMap({ m: "dir:/a,server" }).get("m")).toEqual([
      { kind: "dir", path: "/a" },
      { kind: "server", render: false },
    ]);
    expect(parseTokenizerSourceMap({ m: ["server-render"] }).get("m")).toEqual([
      { kind: "server", render: true },
    ]);
  });
});

describe("prefix cache - property: prompts sharing prefixes tokenise exactly as without the cache", () => {
  const pieces = [
    "the",
    " cache",
    " prefix",
    "\n",
    "\n\n",
    "Router",
    " 42",
    "é",
    "😀",
    "  ",
    ".\n",
    "déjà",
    "[INST]",
    "</s>",
    "<|im_start|>",
    "<|im_end|>",
    "\nA",
  ];
  const text = fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 120 }).map((p) => p.join(""));
  // A base prompt, then prompts made of a prefix of it plus a new tail, tokenised in order by one
  // tokenizer whose cache is tiny-grained (every segment cached, chunks of >= 8 characters).
  const scenario = fc.tuple(text, fc.array(fc.tuple(fc.nat(), text), { minLength: 1, maxLength: 6 }));

  it.each(["tiny-llama", "qwen3"])("%s: completions and chat requests", async (name) => {
    const sources =
      name === "qwen3"
        ? ([{ kind: "qwen3", anyModel: true }] as const)
        : ([{ kind: "dir", path: TINY_DIR }] as const);
    const r = await new TokenizerLoader({ cacheOptions: { minChars: 1, chunkChars: 8 } }).resolve(
      name,
      sources,
    );
    if (r.kind !== "local") throw new Error("local tokenizer expected");
    const tok = r.tokenizer;
    fc.assert(
      fc.property(scenario, ([base, turns]) => {
        for (const [cut, tail] of [[base.length, ""] as [number, string], ...turns]) {
          const prompt = base.slice(0, cut % (base.length + 1)) + tail;
          const direct = Array.from(tok.encodeDirect(prompt));
          expect(Array.from(tok.encode(prompt))).toEqual(direct);
          const req = {
            messages: [
              { role: "system", content: base },
              { role: "user", content: prompt },
            ],
          };
          expect(Array.from(tok.encodeChatRequest(req))).toEqual(
            Array.from(tok.encodeDirect(tok.applyChatTemplate(req.messages))),
          );
        }
      }),
      { numRuns: 150, seed: 16 },
    );
    if (name === "qwen3") expect(tok.cacheStats().hits).toBeGreaterThan(0);
  });
});
