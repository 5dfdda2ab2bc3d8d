import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { qwen3PackageFiles } from "../../src/index.ts";
import { accelerateByteLevel, fastByteLevel, hfPreTokenizers } from "../../src/tokenizer/byte-level.ts";

const { ByteLevelPreTokenizer } = hfPreTokenizers;

// Any UTF-16 text, lone surrogates included (TextEncoder turns those into U+FFFD; so must we).
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc
    .array(fc.constantFrom("the", " cache", "\n", "  ", "'s", "42", "é", "中", "😀", "\uD800", "\t"), {
      maxLength: 40,
    })
    .map((p) => p.join("")),
);

let qwenJson: object;
let qwenConfig: Record<string, unknown>;
beforeAll(async () => {
  const files = await qwen3PackageFiles();
  qwenJson = files.tokenizerJson as object;
  qwenConfig = files.tokenizerConfig;
});

describe("kv-blocks byte-level step - same pre-tokens as @huggingface/tokenizers", () => {
  it("equals the library's pre_tokenize for every ByteLevel configuration, on strings and arrays", () => {
    const configs = [
      { type: "ByteLevel", add_prefix_space: false, use_regex: false, trim_offsets: false }, // Qwen2/3, Llama-3
      { type: "ByteLevel", add_prefix_space: false, use_regex: true, trim_offsets: true }, // GPT-2
      { type: "ByteLevel", add_prefix_space: true, use_regex: true, trim_offsets: true }, // RoBERTa
      { type: "ByteLevel", add_prefix_space: true, use_regex: false, trim_offsets: true },
    ];
    for (const config of configs) {
      const pre = new ByteLevelPreTokenizer(config);
      const fast = fastByteLevel(pre);
      fc.assert(
        fc.property(anyText, fc.array(anyText, { maxLength: 5 }), (text, texts) => {
          expect(fast(text)).toEqual(pre.pre_tokenize(text));
          expect(fast(texts)).toEqual(pre.pre_tokenize(texts));
        }),
        { numRuns: 300 },
      );
    }
  });

  it("maps a piece longer than its scratch buffer and the 4096-code chunking of fromCharCode", () => {
    const pre = new ByteLevelPreTokenizer({ type: "ByteLevel", use_regex: false });
    const fast = fastByteLevel(pre);
    const long = "ab😀é中 ".repeat(3000); // ~36k bytes
    expect(fast(long)).toEqual(pre.pre_tokenize(long));
  });

  it("accelerates Qwen3's tokenizer and it still gives the library's ids on random text", () => {
    const reference = new Tokenizer(qwenJson, qwenConfig);
    const fast = new Tokenizer(qwenJson, qwenConfig);
    expect(accelerateByteLevel(fast)).toBe(1);
    fc.assert(
      fc.property(anyText, (text) => {
        const want = reference.encode(text, { add_special_tokens: false }).ids;
        expect(fast.encode(text, { add_special_tokens: false }).ids).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });

  it("leaves a tokenizer without a byte-level step alone (SentencePiece-style fixture)", () => {
    const dir = new URL("../../fixtures/tokenizers/tiny-llama/", import.meta.url);
    const json = JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8")) as object;
    const config = JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8"));
    expect(accelerateByteLevel(new Tokenizer(json, config))).toBe(0);
  });
});
