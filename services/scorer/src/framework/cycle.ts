import type { Endpoint, PickOutcome, PrefixInfo, SchedulingRequest } from "./types.ts";

/**
 * Per-request scratch space shared by the plugins of one scheduling cycle (llm-d's CycleState).
 * Producers fill `promptTokens`, `tokens` and `prefix` before filters and scorers run; plugins may
 * memoise derived values with `memo` so that a value used by a filter and a scorer is computed once.
 */
export class CycleState {
  readonly request: SchedulingRequest;
  readonly nowMs: number;
  readonly random: () => number;
  /** Prompt length in tokens, 0 when unknown. */
  promptTokens = 0;
  /** Token ids of the prompt, when something tokenised it. */
  tokens: ArrayLike<number> | undefined;
  /**
   * True when the model's tokenizer could not give exact tokens (none configured for it on purpose,
   * or it failed): `tokens` is then the byte estimate, and precise (kv-index) prefixes are not asked.
   */
  tokensApproximate = false;
  prefix: PrefixInfo | undefined;
  /** Outcome a plugin raised while keeping the request routable (e.g. SLO_UNATTAINABLE). */
  readonly flags: { outcome: PickOutcome; message: string }[] = [];
  /** Diagnostics for the response message and logs (e.g. "kv lookup failed; approximate prefix used"). */
  readonly notes: string[] = [];
  private readonly data = new Map<string, unknown>();

  constructor(request: SchedulingRequest, nowMs: number, random: () => number = Math.random) {
    this.request = request;
    this.nowMs = nowMs;
    this.random = random;
  }

  memo<T>(key: string, compute: () => T): T {
    if (this.data.has(key)) return this.data.get(key) as T;
    const value = compute();
    this.data.set(key, value);
    return value;
  }

  set(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  get<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  note(message: string): void {
    this.notes.push(message);
  }

  flag(outcome: PickOutcome, message: string): void {
    this.flags.push({ outcome, message });
  }

  /** Prompt tokens this endpoint already holds (0 when nothing is known). */
  cachedTokens(pod: string): number {
    const match = this.prefix?.matches.get(pod);
    if (!match || !this.prefix) return 0;
    const cached = match.matchedBlocks * this.prefix.blockSize;
    return this.promptTokens > 0 ? Math.min(cached, this.promptTokens) : cached;
  }

  /** Prompt tokens the endpoint would have to prefill. */
  uncachedTokens(pod: string): number {
    return Math.max(0, this.promptTokens - this.cachedTokens(pod));
  }

  /** Fraction of the prompt's full blocks held by the endpoint, 0 when unknown. */
  prefixRatio(ep: Endpoint): number {
    const p = this.prefix;
    if (!p || p.totalBlocks === 0) return 0;
    const m = p.matches.get(ep.pod);
    return m ? Math.min(1, m.matchedBlocks / p.totalBlocks) : 0;
  }
}
