import { loadTokenizer } from "@inferd/kv-blocks";
import { describe, expect, test } from "vitest";
import { Prng } from "../../lib/prng.ts";
import { selectWords, wordText } from "../../lib/text.ts";

describe("bench exact-length text", () => {
  test("bench exact-length text - Qwen3 tokenizer: n words are n tokens, and concatenations add up", async () => {
    const tok = await loadTokenizer();
    const words = selectWords(
      { vocab: () => tok.tokenizer.get_vocab(false), encode: (t) => tok.encodeDirect(t) },
      2048,
    );
    expect(words.length).toBe(2048);
    const r = new Prng(12);
    for (const n of [1, 17, 300, 1000]) {
      const a = wordText(r, words, n);
      const b = wordText(r, words, 37);
      expect(tok.encodeDirect(a).length).toBe(n);
      expect(tok.encodeDirect(a + b).length).toBe(n + 37);
    }
    // Loading the real tokenizer and scanning its vocabulary takes 4-9 s on the shared 2-core box.
  }, 30_000);

  test("bench exact-length text - word selection keeps only single-token round trips", () => {
    const vocab: Array<[string, number]> = [
      ["Ġalpha", 5],
      ["Ġbeta", 6],
      ["Ġgam", 7],
      ["Ġx", 8],
      ["delta", 9],
    ];
    // " gam" encodes to two tokens here, " x" is too short, "delta" has no leading space.
    const encode = (t: string) => (t === " gam" ? [1, 2] : t === " alpha" ? [5] : t === " beta" ? [6] : [0]);
    expect(selectWords({ vocab: () => vocab, encode }, 10, 1)).toEqual([" alpha", " beta"]);
    expect(() => selectWords({ vocab: () => vocab, encode }, 10, 3)).toThrow(/only 2/);
  });
});
