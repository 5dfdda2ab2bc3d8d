import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatTokenizer, chatRequestFromBody, qwen3PackageFiles } from "../../src/index.ts";
import { WordMemo, wordMemoEncoder } from "../../src/tokenizer/bpe-words.ts";

// Any UTF-16 text (lone surrogates included), words the memo sees again and again, added tokens.
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc
    .array(
      fc.constantFrom(
        "the",
        " cache",
        " prefix",
        " antidisestablishmentarianism",
        "\n",
        "  ",
        "'s",
        "42",
        "é",
        "e\u0301", // NFC composes this
        "中",
        "😀",
        "\uD800",
        "\t",
        "<|im_start|>",
        "<|im_end|>",
        "<think>",
        "<s>",
        "</s>",
        "▁",
      ),
      { maxLength: 60 },
    )
    .map((p) => p.join("")),
);

let qwenJson: Record<string, unknown>;
let qwenConfig: Record<string, unknown>;
let tinyJson: Record<string, unknown>;
let tinyConfig: Record<string, unknown>;
beforeAll(async () => {
  const files = await qwen3PackageFiles();
  qwenJson = files.tokenizerJson as Record<string, unknown>;
  qwenConfig = files.tokenizerConfig;
  const dir = new URL("../../fixtures/tokenizers/tiny-llama/", import.meta.url);
  tinyJson = JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8"));
  tinyConfig = JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8"));
});

const libraryIds = (t: Tokenizer, text: string, special = false) =>
  t.encode(text, { add_special_tokens: special }).ids;

describe("kv-blocks word memo - the library's ids", () => {
  it("equals @huggingface/tokenizers on random text, Qwen3, with a memo small enough to evict", () => {
    const reference = new Tokenizer(qwenJson, qwenConfig);
    for (const capacity of [4, 1 << 16]) {
      const encode = wordMemoEncoder(new Tokenizer(qwenJson, qwenConfig), capacity);
      expect(encode).not.toBeNull();
      fc.assert(
        fc.property(fc.array(anyText, { minLength: 1, maxLength: 4 }), (texts) => {
          // Each text twice: the second time its words come from the memo (or were evicted).
          for (const text of [...texts, ...texts])
            expect(Array.from(encode!(text))).toEqual(libraryIds(reference, text));
        }),
        { numRuns: 300 },
      );
    }
  });

  it("equals the library with a GPT-2-style regex byte-level step and no normaliser", () => {
    const json = {
      ...qwenJson,
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, use_regex: true, trim_offsets: true },
    };
    const reference = new Tokenizer(json, qwenConfig);
    const encode = wordMemoEncoder(new Tokenizer(json, qwenConfig));
    expect(encode).not.toBeNull();
    fc.assert(
      fc.property(anyText, (text) => {
        expect(Array.from(encode!(text))).toEqual(libraryIds(reference, text));
      }),
      { numRuns: 300 },
    );
  });

  it("equals the library on the SentencePiece-style fixture (Metaspace, fuse_unk), with and without byte fallback", () => {
    // Without byte fallback, characters outside the tiny vocabulary become unknown tokens, and the
    // library fuses each run of them into one, across words too (fuse_unk).
    const noFallback = { ...tinyJson, model: { ...(tinyJson.model as object), byte_fallback: false } };
    // Words split at whitespace (not in the vocabulary either), so runs of unknowns cross words.
    const splitWords = {
      ...noFallback,
      pre_tokenizer: { type: "Split", pattern: { Regex: "\\s" }, behavior: "Isolated", invert: false },
    };
    for (const json of [tinyJson, noFallback, splitWords]) {
      const reference = new Tokenizer(json, tinyConfig);
      const encode = wordMemoEncoder(new Tokenizer(json, tinyConfig), 8);
      expect(encode).not.toBeNull();
      fc.assert(
        fc.property(fc.array(anyText, { minLength: 1, maxLength: 3 }), (texts) => {
          for (const text of [...texts, ...texts])
            expect(Array.from(encode!(text))).toEqual(libraryIds(reference, text));
        }),
        { numRuns: 300 },
      );
    }
    // "中中 中" is three words there, all unknown: the library gives one id, and so must the memo.
    const fused = libraryIds(new Tokenizer(splitWords, tinyConfig), "中中 中");
    expect(fused).toHaveLength(1);
    expect(Array.from(wordMemoEncoder(new Tokenizer(splitWords, tinyConfig))!("中中 中"))).toEqual(fused);
  });

  it("cuts at added tokens as the library's trie does: leftmost, then longest (overlapping tokens)", () => {
    const extra = ["[IN", "[INST]x", "ST]", "T]", "x[", "\uD83D"].map((content, i) => ({
      id: 900 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
    const json = { ...tinyJson, added_tokens: [...(tinyJson.added_tokens as object[]), ...extra] };
    const reference = new Tokenizer(json, tinyConfig);
    const encode = wordMemoEncoder(new Tokenizer(json, tinyConfig))!;
    expect(encode).not.toBeNull();
    const part = fc.constantFrom(
      "[",
      "I",
      "N",
      "S",
      "T",
      "]",
      "x",
      "/",
      " ",
      "a",
      "😀",
      "\uD83D",
      "[INST]",
      "[/INST]",
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(Array.from(encode(text))).toEqual(libraryIds(reference, text));
      }),
      { numRuns: 500 },
    );
  });

  it("is off where the post-processor may add tokens or the library edits the text first", () => {
    const roberta = {
      ...qwenJson,
      post_processor: {
        type: "RobertaProcessing",
        sep: ["</s>", 2],
        cls: ["<s>", 0],
        add_prefix_space: true,
      },
    };
    expect(wordMemoEncoder(new Tokenizer(roberta, qwenConfig))).toBeNull();
    expect(wordMemoEncoder(new Tokenizer(qwenJson, { ...qwenConfig, remove_space: true }))).toBeNull();
  });
});

describe.each([
  ["qwen3", () => [qwenJson, qwenConfig] as const],
  ["tiny-llama", () => [tinyJson, tinyConfig] as const],
])("ChatTokenizer (%s) against an untouched library instance", (_name, files) => {
  it("completions and chat requests give the library's ids, cold and warm", () => {
    const [json, config] = files();
    const reference = new Tokenizer(json, config);
    const tok = new ChatTokenizer("m", json, config, { minChars: 64, chunkChars: 64 });
    fc.assert(
      fc.property(anyText, anyText, fc.boolean(), (system, user, twice) => {
        for (let i = 0; i < (twice ? 2 : 1); i++) {
          expect(Array.from(tok.encodeCompletion(system + user))).toEqual(
            libraryIds(reference, system + user, true),
          );
          const request = chatRequestFromBody({
            messages: [
              { role: "system", content: system },
              { role: "user", content: user },
            ],
          });
          const rendered = tok.applyChatTemplate(request.messages, request);
          expect(Array.from(tok.encodeChatRequest(request))).toEqual(libraryIds(reference, rendered));
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("WordMemo", () => {
  it("hands on the words memoised since the last drain, once; prime keeps what it has", () => {
    const a = new WordMemo(3);
    a.set("x", 1);
    a.set("y", { ids: [2, 3], firstUnk: false, lastUnk: false });
    expect(a.drain()).toEqual([
      ["x", 1],
      ["y", { ids: [2, 3], firstUnk: false, lastUnk: false }],
    ]);
    expect(a.drain()).toEqual([]);
    a.set("z", 4);
    const b = new WordMemo(3);
    b.set("x", 9);
    b.prime([["x", 1], ...a.drain()]);
    expect([b.get("x"), b.get("z"), b.size]).toEqual([9, 4, 2]);
    // Primed words are not handed on again, and the capacity holds (oldest inserted first out).
    expect(b.drain()).toEqual([["x", 9]]);
    b.prime([
      ["p", 5],
      ["q", 6],
    ]);
    expect([b.get("x"), b.get("q"), b.size]).toEqual([undefined, 6, 3]);
  });
});
