/**
 * Chained block hashes over token ids for the approximate prefix index. Only this scorer compares them,
 * so they need not match vLLM's: two independent 32-bit multiplicative hashes make a 53-bit key (a JS
 * number, cheap as a Map key), chained through the previous block's key and seeded by model, adapter
 * and cache salt so that different models never share blocks.
 */
export function seedFor(model: string, lora: string | undefined, cacheSalt: string): number {
  const text = `${model}\u0000${lora ?? ""}\u0000${cacheSalt}`;
  let h1 = 0x811c9dc5;
  let h2 = 0x2545f491;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return combine(h1, h2);
}

function combine(h1: number, h2: number): number {
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 11) & 0x1fffff);
}

/** Hashes of the first `maxBlocks` full blocks of `tokens`. */
export function blockHashes(
  tokens: ArrayLike<number>,
  blockSize: number,
  seed: number,
  maxBlocks: number,
): number[] {
  const n = Math.min(Math.floor(tokens.length / blockSize), maxBlocks);
  const out = new Array<number>(n);
  let parent = seed;
  for (let b = 0; b < n; b++) {
    // Fold the parent key (53 bits) into both lanes, then every token of the block.
    const hi = Math.floor(parent / 0x200000) | 0;
    const lo = (parent % 0x200000) | 0;
    let h1 = Math.imul(hi ^ 0x9e3779b9, 0x01000193) ^ lo;
    let h2 = Math.imul(lo ^ 0x85ebca6b, 0x5bd1e995) ^ hi;
    const end = (b + 1) * blockSize;
    for (let i = b * blockSize; i < end; i++) {
      const t = tokens[i]! | 0;
      h1 = Math.imul(h1 ^ t, 0x01000193);
      h2 = Math.imul(h2 ^ t, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    h1 ^= h1 >>> 16;
    h1 = Math.imul(h1, 0x85ebca6b);
    h1 ^= h1 >>> 13;
    h2 = Math.imul(h2, 0xc2b2ae35);
    h2 ^= h2 >>> 16;
    parent = combine(h1, h2);
    out[b] = parent;
  }
  return out;
}
