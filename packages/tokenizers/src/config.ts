import { parseTokenizerSourceMap, type TokenizerSourceMap } from "@inferd/kv-blocks";
import { int, json, oneOf } from "@inferd/service-kit";

/**
 * The tokenizer keys of every service that tokenises prompts (scorer, kv-index's lookup), written
 * once so `tokenizerSources` means the same in each: a model configured for the scorer is tokenised
 * the same way by kv-index.
 */
export function tokenizerFields() {
  return {
    tokenizer: oneOf(["auto", "qwen3", "estimate"], {
      default: "auto",
      doc: "auto: each model's tokenizer from tokenizerSources; qwen3: the npm Qwen3 tokenizer for every model (demo); estimate: no tokenizer at all (no precise prefixes from text)",
    }),
    tokenizerSources: json<Record<string, string[]>>({
      default: { "*": ["hf-cache", "qwen3"] },
      doc: 'per model name (or "*"), tokenizer sources in order: dir:<path>, hf-cache[:<dir>], server, server-render, qwen3, qwen3:any, approximate; a named model without a usable source stops the start-up',
      // Checked here (one line per bad key at start-up), kept as plain data (printable in --help).
      validate: (v) => {
        parseTokenizerSourceMap(v);
        const o = v as Record<string, string | string[]>;
        return Object.fromEntries(
          Object.entries(o).map(([k, x]) => [
            k,
            typeof x === "string" ? x.split(",").map((y) => y.trim()) : x,
          ]),
        );
      },
    }),
    tokenizerServerTimeoutMs: int({
      default: 1000,
      min: 1,
      doc: "deadline of a model server's /tokenize (source server)",
    }),
    tokenizerWorkers: int({
      default: 1,
      min: 0,
      max: 16,
      doc: "worker threads that tokenise (0 = on the event loop)",
    }),
  };
}

type TokenizerKeys = {
  tokenizer: "auto" | "qwen3" | "estimate";
  tokenizerSources: Record<string, string[]>;
};

/** The sources per model the keys say; undefined for `estimate` (no tokenizer is loaded at all). */
export function tokenizerSourcesOf(c: TokenizerKeys): TokenizerSourceMap | undefined {
  if (c.tokenizer === "estimate") return undefined;
  return parseTokenizerSourceMap(c.tokenizer === "qwen3" ? { "*": ["qwen3:any"] } : c.tokenizerSources);
}
