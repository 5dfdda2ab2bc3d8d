import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChatTokenizer, chatRequestFromBody } from "../../src/index.ts";
import { wordMemoEncoder } from "../../src/tokenizer/bpe-words.ts";
import { spaceCutRule } from "../../src/tokenizer/space-cuts.ts";

type Json = Record<string, unknown> & { model: Record<string, unknown> & { merges: string[][] } };
const S = "\u2581";
const load = (name: string): [Json, Record<string, unknown>] => {
  const dir = new URL(`../../fixtures/tokenizers/${name}/`, import.meta.url);
  return [
    JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8")),
    JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8")),
  ];
};
// tiny-sp: trained the SentencePiece way (no merge joins across "▁"); tiny-llama: trained across words.
const [spJson, spConfig] = load("tiny-sp");
const [llamaJson, llamaConfig] = load("tiny-llama");

/** The same edits as gen_sp_vectors.py's `variant`. */
function spVariant(name: string, base: Json = spJson): Json {
  const j = structuredClone(base);
  if (name === "metaspace-no-fallback") j.model.byte_fallback = false;
  else if (name === "prepend") {
    j.normalizer = {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: S },
        { type: "Replace", pattern: { String: " " }, content: S },
      ],
    };
    j.pre_tokenizer = null;
  } else if (name === "crossing") {
    const vocab = j.model.vocab as Record<string, number>;
    vocab[`e${S}`] = Object.keys(vocab).length + (j.added_tokens as unknown[]).length;
    j.model.merges.unshift(["e", S]);
  }
  return j;
}

function withoutSpaceToken(json: Json): Json {
  delete (json.model.vocab as Record<string, number>)[S];
  return json;
}

const { texts, variants } = (
  await import("../../fixtures/tokenizers/sp-vectors.json", { with: { type: "json" } })
).default as unknown as {
  texts: string[];
  variants: { name: string; ids: number[][]; completionIds: number[][] }[];
};

// Text with spaces, runs of spaces, newlines, added tokens, characters outside the vocabulary
// (byte fallback or <unk>), "▁" itself, and words the vocabulary knows.
const piece = fc.constantFrom(
  "the",
  " cache",
  " prefix",
  " router",
  " latency",
  "kalo",
  " brichasto",
  " ",
  "  ",
  "   ",
  "\n",
  "\n ",
  "\t",
  ".",
  "e",
  "e ",
  "😀",
  "é",
  "Ω",
  "\u0000",
  "\uD800",
  "中",
  S,
  `${S}${S}`,
  "[INST]",
  "[/INST]",
  "</s>",
  "<s>",
);
const text = fc.oneof(
  { arbitrary: fc.array(piece, { maxLength: 120 }).map((p) => p.join("")), weight: 4 },
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
);

const libraryIds = (t: Tokenizer, s: string, special = false): number[] =>
  t.encode(s, { add_special_tokens: special }).ids;
/** Every cut the rule finds in `word`. */
const cutsOf = (rule: (w: string, from: number) => number, word: string): number[] => {
  const out: number[] = [];
  for (let p = rule(word, 1); p !== -1; p = rule(word, p + 1)) out.push(p);
  return out;
};

describe("kv-blocks SentencePiece-style cuts: the rule, from the tokenizer's own merges", () => {
  it("cuts before each '▁' after another character when no merge joins across '▁' (tiny-sp)", () => {
    const rule = spaceCutRule(new Tokenizer(spJson, spConfig))!;
    expect(rule).not.toBeNull();
    expect(cutsOf(rule, `${S}the${S}cache${S}${S}prefix😀${S}x`)).toEqual([4, 10, 11, 20]);
    expect(cutsOf(rule, `${S}${S}${S}`)).toEqual([1, 2]); // no merge joins "▁" with "▁" there either
  });

  it("blocks the cut after a character that ends a merge into '▁' (a crossing merge, tiny-llama)", () => {
    const crossing = spaceCutRule(new Tokenizer(spVariant("crossing"), spConfig))!;
    expect(cutsOf(crossing, `${S}the${S}router${S}prefix`)).toEqual([11]); // not after "the"
    // tiny-llama's merges join "er", "t", "l", "e", "n", "y", ... with "▁": never cut after those.
    const llama = spaceCutRule(new Tokenizer(llamaJson, llamaConfig))!;
    const blocked = new Set(
      llamaJson.model.merges.filter(([, b]) => b!.startsWith(S)).map(([a]) => Array.from(a!).at(-1)),
    );
    fc.assert(
      fc.property(text, (t) => {
        const word = t.replaceAll(" ", S);
        for (const p of cutsOf(llama, word)) {
          expect(word[p]).toBe(S);
          expect(blocked.has(Array.from(word.slice(0, p)).at(-1))).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("gives no cut where merges join every character with '▁' (the old path) or the argument fails", () => {
    const all = structuredClone(spJson);
    const chars = new Set(Object.keys(all.model.vocab as object).flatMap((t) => Array.from(t)));
    for (const c of chars) all.model.merges.push([c, S]);
    const rule = spaceCutRule(new Tokenizer(all, spConfig))!;
    fc.assert(
      fc.property(text, (t) => {
        const word = t.replaceAll(" ", S);
        expect(cutsOf(rule, word).filter((p) => chars.has(Array.from(word.slice(0, p)).at(-1)!))).toEqual([]);
      }),
      { numRuns: 100 },
    );
    const withModel = (model: Record<string, unknown>) =>
      new Tokenizer({ ...spJson, model: { ...spJson.model, ...model } }, spConfig);
    expect(spaceCutRule(withModel({ ignore_merges: true }))).toBeNull();
    expect(spaceCutRule(withModel({ end_of_word_suffix: "</w>" }))).toBeNull();
    expect(spaceCutRule(withModel({ dropout: 0.1 }))).toBeNull();
    expect(spaceCutRule(withModel({}))).not.toBeNull();
  });
});

describe("kv-blocks SentencePiece-style cuts: ids against HF tokenizers (Rust, sp-vectors.json)", () => {
  it.each(variants.map((v) => [v.name, v] as const))("%s", (name, v) => {
    for (const options of [{}, { minChars: 16, chunkChars: 16 }]) {
      const tok = new ChatTokenizer("m", spVariant(name), spConfig, options);
      for (
        let round = 0;
        round < 2;
        round++ // cold, then warm (memo and chunk cache)
      )
        texts.forEach((t, i) => {
          expect(Array.from(tok.encode(t)), JSON.stringify(t.slice(0, 60))).toEqual(v.ids[i]);
          expect(Array.from(tok.encodeCompletion(t))).toEqual(v.completionIds[i]);
        });
      if (name !== "crossing" && "chunkChars" in options) expect(tok.cacheStats().hits).toBeGreaterThan(0);
    }
  });
});

const fixtures: [string, () => [Json, Record<string, unknown>]][] = [
  ["tiny-sp (Metaspace split: false)", () => [spVariant("metaspace"), spConfig]],
  ["tiny-sp without byte fallback", () => [spVariant("metaspace-no-fallback"), spConfig]],
  ["tiny-sp Prepend + Replace normaliser", () => [spVariant("prepend"), spConfig]],
  ["tiny-sp with a crossing merge", () => [spVariant("crossing"), spConfig]],
  // "▁" itself unknown: runs of <unk> then cross the cuts, and fuse_unk must join them.
  [
    "tiny-sp without byte fallback or '▁'",
    () => [withoutSpaceToken(spVariant("metaspace-no-fallback")), spConfig],
  ],
  ["tiny-llama", () => [llamaJson, llamaConfig]],
  ["tiny-llama without byte fallback", () => [spVariant("metaspace-no-fallback", llamaJson), llamaConfig]],
];

describe.each(fixtures)(
  "kv-blocks SentencePiece-style cuts (%s) against an untouched library instance",
  (_n, files) => {
    it("the word encoder, every word cut and chunked, cold and warm", () => {
      const [json, config] = files();
      const reference = new Tokenizer(json, config);
      const chunks = new Map();
      const encode = wordMemoEncoder(new Tokenizer(json, config), 6, {
        chunkChars: 8,
        get: (k) => chunks.get(k),
        set: (k, v) => chunks.set(k, v),
      })!;
      expect(encode).not.toBeNull();
      fc.assert(
        fc.property(fc.array(text, { minLength: 1, maxLength: 3 }), (ts) => {
          for (const t of [...ts, ...ts]) expect(Array.from(encode(t))).toEqual(libraryIds(reference, t));
        }),
        { numRuns: 200 },
      );
      // The cut path ran (chunks exist only where it did): the construction probes did not turn it off.
      expect(chunks.size).toBeGreaterThan(0);
    });

    it("chat and completions, prompts sharing prefixes (the prefix cache), cold and warm", () => {
      const [json, config] = files();
      const reference = new Tokenizer(json, config);
      const tok = new ChatTokenizer("m", json, config, { minChars: 16, chunkChars: 16 });
      fc.assert(
        fc.property(text, fc.array(text, { minLength: 1, maxLength: 3 }), (shared, tails) => {
          for (const tail of [...tails, ...tails]) {
            expect(Array.from(tok.encodeCompletion(shared + tail))).toEqual(
              libraryIds(reference, shared + tail, true),
            );
            const request = chatRequestFromBody({
              messages: [
                { role: "system", content: shared },
                { role: "user", content: tail },
              ],
            });
            const rendered = tok.applyChatTemplate(request.messages, request);
            expect(Array.from(tok.encodeChatRequest(request))).toEqual(libraryIds(reference, rendered));
          }
        }),
        { numRuns: 100 },
      );
    });
  },
);
