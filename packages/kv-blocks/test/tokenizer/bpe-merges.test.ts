import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { qwen3PackageFiles } from "../../src/index.ts";
import { accelerateBpeMerges } from "../../src/tokenizer/bpe-merges.ts";

// Mostly words the model has not merged before (the library caches merged words, so each property
// run brings new ones), in any script, lone surrogates included.
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc
    .array(fc.constantFrom("ka", "lo", "mi", "nu", "bri", "cha", "é", "中", "😀", " ", "'s", "42"), {
      maxLength: 50,
    })
    .map((p) => p.join("")),
);

let files: [object, Record<string, unknown>][];
beforeAll(async () => {
  const qwen = await qwen3PackageFiles();
  const dir = new URL("../../fixtures/tokenizers/tiny-llama/", import.meta.url);
  files = [
    [qwen.tokenizerJson as object, qwen.tokenizerConfig],
    [
      JSON.parse(readFileSync(new URL("tokenizer.json", dir), "utf8")),
      JSON.parse(readFileSync(new URL("tokenizer_config.json", dir), "utf8")),
    ],
  ];
});

const ids = (t: Tokenizer, text: string) => t.encode(text, { add_special_tokens: false }).ids;

describe("kv-blocks BPE merge ranks - the library's merges", () => {
  it("gives the library's ids on random text, byte-level BPE (Qwen3) and SentencePiece-style (tiny-llama)", () => {
    for (const [json, config] of files) {
      const reference = new Tokenizer(json, config);
      const fast = new Tokenizer(json, config);
      expect(accelerateBpeMerges(fast)).toBe(true);
      fc.assert(
        fc.property(anyText, (text) => {
          expect(ids(fast, text)).toEqual(ids(reference, text));
        }),
        { numRuns: 400 },
      );
    }
  });

  it("keeps the last rank of a merge listed twice, in both merge formats", () => {
    const vocab = { a: 0, b: 1, c: 2, ab: 3, bc: 4, abc: 5 };
    for (const merges of [
      ["a b", "b c", "ab c", "a b"], // (a, b) ends up ranked after (b, c): "abc" -> a + bc
      [
        ["a", "b"],
        ["b", "c"],
        ["ab", "c"],
      ], // (a, b) first: "abc" -> ab + c -> abc
    ]) {
      const json = {
        model: { type: "BPE", vocab, merges, unk_token: null },
        pre_tokenizer: null,
        normalizer: null,
        post_processor: null,
        decoder: null,
        added_tokens: [],
      };
      const reference = new Tokenizer(json, {});
      const fast = new Tokenizer(json, {});
      expect(accelerateBpeMerges(fast)).toBe(true);
      for (const text of ["abc", "cab", "abcabc", "bca"])
        expect(ids(fast, text)).toEqual(ids(reference, text));
    }
    const dup = new Tokenizer(
      {
        model: { type: "BPE", vocab, merges: ["a b", "b c", "ab c", "a b"], unk_token: null },
        pre_tokenizer: null,
        normalizer: null,
        post_processor: null,
        decoder: null,
        added_tokens: [],
      },
      {},
    );
    accelerateBpeMerges(dup);
    expect(ids(dup, "abc")).toEqual([0, 4]); // the test above compares something that can differ
  });
});
