function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A global regex matching any of `words` (non-empty literals): at the leftmost position where one
 * starts, the longest starting there (the alternatives are tried longest first), as HF tokenizers'
 * added-token split does. On UTF-16 code units (no `u` flag), as the library's trie.
 */
export function literalAlternation(words: readonly string[]): RegExp {
  return new RegExp(
    words
      .slice()
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "g",
  );
}
