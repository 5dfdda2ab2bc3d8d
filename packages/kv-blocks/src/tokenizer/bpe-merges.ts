import * as hf from "@huggingface/tokenizers";

/**
 * A faster merge-rank lookup for @huggingface/tokenizers' BPE model, giving the same merges.
 *
 * Why: a word the model has not seen is merged pair by pair, and for every candidate pair the
 * library's `add_node` builds `JSON.stringify([left, right])` (an array and an escaped string) to
 * look the rank up in a Map keyed by those strings: in a profile of the SentencePiece-style fixture
 * (whose model sees each piece between added tokens as one long word) it was the largest single cost,
 * and it is most of what a Qwen3 prompt full of new words costs. Here the same ranks sit in a Map of
 * Maps (left token, then right token), built from the model's own `merges` in the same order, so a
 * merge listed twice keeps its last rank, as the library's `new Map(...)` does. `add_node` itself is
 * the library's, line for line, with only the lookup changed.
 */

interface MergeNode {
  token: string;
  bias: number;
  score?: number;
  next: MergeNode | null;
}
/** What we use of the library's BPE model (fields as in its .d.ts, which NodeNext cannot follow). */
interface BpeMerges {
  readonly merges: readonly (readonly string[])[];
  add_node: (queue: { push(node: MergeNode): void }, node: MergeNode) => void;
}
const hfBpe = (hf as unknown as { BPE: abstract new () => BpeMerges }).BPE;

/** Puts the faster lookup on `tokenizer`'s model when it is the library's BPE; answers whether it did. */
export function accelerateBpeMerges(tokenizer: hf.Tokenizer): boolean {
  const model = (tokenizer as unknown as { model: unknown }).model;
  if (!(model instanceof hfBpe)) return false;
  const ranks = new Map<string, Map<string, number>>();
  model.merges.forEach((merge, i) => {
    // The library's key is JSON.stringify(merge): only two-token merges can match a pair.
    if (merge.length !== 2) return;
    const [left, right] = merge as [string, string];
    let byRight = ranks.get(left);
    if (byRight === undefined) {
      byRight = new Map();
      ranks.set(left, byRight);
    }
    byRight.set(right, i);
  });
  // An own property shadows the prototype method.
  model.add_node = (queue, node) => {
    const rank = ranks.get(node.token)?.get(node.next!.token);
    if (rank !== undefined) {
      node.score = rank + node.bias;
      queue.push(node);
    }
  };
  return true;
}
