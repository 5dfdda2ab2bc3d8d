import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatTokenizer, chatRequestFromBody, qwen3PackageFiles } from "../../src/index.ts";
import { stopLibraryWordCache, WordMemo, wordMemoEncoder } from "../../src/tokenizer/bpe-words.ts";

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
let spJson: Record<string, unknown>;
let spConfig: Record<string, unknown>;
beforeAll(async () => {
  const files = await qwen3PackageFiles();
  qwenJson = files.tokenizerJson as Record<string, unknown>;
  qwenConfig = files.tokenizerConfig;
  const dir = new URL("../../fixtures/tokenizers/tiny-llama/", import.meta.url);
  tinyJson = JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8"));
  tinyConfig = JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8"));
  const spDir = new URL("../../fixtures/tokenizers/tiny-sp/", import.meta.url);
  spJson = JSON.parse(readFileSync(new URL("tokenizer.json", spDir), "utf8"));
  spConfig = JSON.parse(readFileSync(new URL("tokenizer_config.json", spDir), "utf8"));
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

describe("WordMemo - eviction", () => {
  // The model: a Map and the words in the order they were first inserted; the oldest goes first.
  const op = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), word: fc.string({ maxLength: 2 }), id: fc.nat() }),
    fc.record({
      kind: fc.constant("prime" as const),
      words: fc.array(fc.tuple(fc.string({ maxLength: 2 }), fc.nat()), { maxLength: 5 }),
    }),
    fc.record({ kind: fc.constant("clear" as const) }),
  );
  it("keeps exactly the newest `capacity` words inserted (fast-check against a Map and a list)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const memo = new WordMemo(capacity);
        let model = new Map<string, number>();
        let order: string[] = [];
        const put = (word: string, id: number, ifAbsent: boolean) => {
          if (capacity === 0 || (ifAbsent && model.has(word))) return;
          if (!model.has(word)) {
            if (order.length === capacity) model.delete(order.shift()!);
            order.push(word);
          }
          model.set(word, id);
        };
        for (const o of ops) {
          if (o.kind === "set") {
            memo.set(o.word, o.id);
            put(o.word, o.id, false);
          } else if (o.kind === "prime") {
            memo.prime(o.words);
            for (const [w, id] of o.words) put(w, id, true);
          } else {
            memo.clear();
            model = new Map();
            order = [];
          }
          expect(memo.size).toBe(model.size);
          for (const w of [...order, "", "a", "ab"]) expect(memo.get(w)).toBe(model.get(w));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe.each([
  ["qwen3", () => [qwenJson, qwenConfig] as const],
  ["tiny-sp", () => [spJson, spConfig] as const],
])("ChatTokenizer (%s) with the library's word cache stopped", (_name, files) => {
  // Words no tokenizer has seen: random letters, digits and any Unicode, between whitespace runs
  // and the tokenizer's added tokens.
  const word = fc.oneof(
    fc.stringMatching(/^[a-z]{3,14}[0-9]{0,6}$/),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }),
    fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
  );
  const gap = fc.constantFrom(" ", " ", " ", "  ", "\n", "\n\n", "\t", " \u3000 ", "");
  const prompt = (added: string[]) =>
    fc
      .array(fc.tuple(fc.oneof(word, word, word, fc.constantFrom(...added)), gap), { maxLength: 40 })
      .map((parts) => parts.flat().join(""));

  it("gives the library's ids on texts of new words, and the library's cache stays empty", () => {
    const [json, config] = files();
    const reference = new Tokenizer(json, config);
    const tok = new ChatTokenizer("m", json, config);
    const model = (tok.tokenizer as unknown as { model: { cache: { cache: Map<string, unknown> } } }).model;
    const added = ((json as { added_tokens: { content: string }[] }).added_tokens ?? []).map(
      (t) => t.content,
    );
    fc.assert(
      fc.property(prompt(added), (text) => {
        expect(Array.from(tok.encodeCompletion(text))).toEqual(libraryIds(reference, text, true));
        expect(model.cache.cache.size).toBe(0);
      }),
      { numRuns: 300 },
    );
    // More new words than the library's cache holds (10,000), in one prompt and again in pieces.
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const newWord = () =>
      Array.from({ length: 4 + Math.floor(rand() * 8) }, () => letters[Math.floor(rand() * 26)]).join("") +
      Math.floor(rand() * 1e6);
    const long = Array.from({ length: 12_000 }, (_, i) => newWord() + (i % 17 === 16 ? ".\n" : " ")).join("");
    expect(Array.from(tok.encodeCompletion(long))).toEqual(libraryIds(reference, long, true));
    const half = long.slice(0, long.length >> 1);
    expect(Array.from(tok.encodeCompletion(half))).toEqual(libraryIds(reference, half, true));
    expect(model.cache.cache.size).toBe(0);
  });

  it("is stopped only on the library's BPE model", () => {
    const [json, config] = files();
    expect(stopLibraryWordCache(new Tokenizer(json, config))).toBe(true);
    const wordPiece = new Tokenizer(
      {
        ...json,
        normalizer: null,
        pre_tokenizer: { type: "Whitespace" },
        post_processor: null,
        decoder: null,
        model: {
          type: "WordPiece",
          vocab: { "[UNK]": 0, a: 1 },
          unk_token: "[UNK]",
          max_input_chars_per_word: 100,
        },
      },
      config,
    );
    expect(stopLibraryWordCache(wordPiece)).toBe(false);
  });
});
