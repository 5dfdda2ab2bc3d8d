import type { CycleState } from "../../framework/cycle.ts";
import type { Handle, KvLookupAnswer, KvLookupFn, TokenizerFn } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { DataProducer, PickObserver, SchedulingResult } from "../../framework/plugin.ts";
import { ensureTokens } from "../../framework/tokens.ts";
import type { Endpoint, PrefixInfo, PrefixMatch } from "../../framework/types.ts";
import { ApproxPrefixIndex } from "./approx-index.ts";
import { blockHashes, seedFor } from "./block-hash.ts";
import { SpeculativePrefixes } from "./speculative-prefixes.ts";

export const PREFIX_CACHE_PRODUCER = "prefix-cache-producer";
export const PRECISE_PREFIX_CACHE_PRODUCER = "precise-prefix-cache-producer";
export const APPROX_PREFIX_CACHE_PRODUCER = "approx-prefix-cache-producer";

/**
 * - `precise`: ask kv-index (fed by vLLM KV events) for every candidate;
 * - `approximate`: only the scorer's own routing history;
 * - `auto`: precise for servers that publish KV events, approximate for the others, and approximate
 *   for all when kv-index does not answer (fail open: routing continues, with less precision).
 */
export type PrefixMode = "auto" | "precise" | "approximate";

export interface PrefixProducerOptions {
  mode: PrefixMode;
  /** Block size of the approximate index, tokens. */
  blockSizeTokens: number;
  maxPrefixBlocks: number;
  lruCapacityPerServer: number;
  /**
   * Auto mode: also record picks of servers kv-index tracks, so that affinity survives a kv-index outage
   * (costs hashing and recording the prompt's blocks on every pick, ~0.2 ms for 8k tokens).
   */
  fallbackHistory: boolean;
  /**
   * Precise servers: count a prompt as cached on the server it was routed to for `speculativeTtlMs`,
   * until its KV events arrive (llm-d's `speculativeIndexing`). 0 = off.
   */
  speculativeTtlMs: number;
}

export class PrefixCacheProducer implements DataProducer, PickObserver {
  readonly type: string;
  readonly name: string;
  readonly requires = ["tokens"] as const;
  readonly provides = ["prefix"] as const;
  readonly index: ApproxPrefixIndex;
  private readonly opts: PrefixProducerOptions;
  private readonly lookup: KvLookupFn | undefined;
  private readonly tokenizer: TokenizerFn | undefined;
  private readonly inProcessKey: string;
  private readonly speculative: SpeculativePrefixes | undefined;

  constructor(
    opts: PrefixProducerOptions,
    services: { kvLookup: KvLookupFn | undefined; tokenizer: TokenizerFn | undefined },
    name: string = PREFIX_CACHE_PRODUCER,
    type: string = PREFIX_CACHE_PRODUCER,
  ) {
    this.opts = opts;
    this.lookup = services.kvLookup;
    this.tokenizer = services.tokenizer;
    this.index = new ApproxPrefixIndex(opts.lruCapacityPerServer);
    this.name = name;
    this.type = type;
    this.inProcessKey = `prefix-in-process:${name}`;
    this.speculative =
      opts.speculativeTtlMs > 0 && opts.mode !== "approximate"
        ? new SpeculativePrefixes({ ttlMs: opts.speculativeTtlMs })
        : undefined;
  }

  async produce(cycle: CycleState, endpoints: readonly Endpoint[]): Promise<void> {
    const tokens = await ensureTokens(cycle, this.tokenizer);
    if (tokens.length === 0) return;
    const { mode } = this.opts;
    // Without the model's exact tokens no kv-index block can match: route on own history instead.
    if (cycle.tokensApproximate) cycle.note("no exact tokens for this model: approximate prefix used");
    const precisePods = cycle.tokensApproximate
      ? []
      : endpoints.filter((e) => this.tracksPrecisely(e)).map((e) => e.pod);
    if (mode === "precise" && !this.lookup)
      cycle.note("precise prefix matching configured but no kv-index link");

    let answer: KvLookupAnswer | undefined;
    if (precisePods.length > 0 && this.lookup) {
      const r = cycle.request;
      try {
        answer = await this.lookup({
          model: r.baseModel,
          lora: r.lora,
          tokens,
          prompt: r.prompt,
          candidatePods: precisePods,
          cacheSalt: r.cacheSalt,
        });
      } catch (err) {
        cycle.note(
          `kv-index lookup failed (${(err as Error).message}); ${mode === "auto" ? "approximate prefix used" : "no prefix data"}`,
        );
      }
    }

    const matches = new Map<string, PrefixMatch>();
    let blockSize = this.opts.blockSizeTokens;
    let totalBlocks = 0;
    if (answer) {
      if (answer.inProcess) cycle.set(this.inProcessKey, true);
      blockSize = answer.blockSize > 0 ? answer.blockSize : blockSize;
      totalBlocks = answer.totalBlocks;
      for (const p of answer.pods) {
        if (p.matchedBlocks > 0) matches.set(p.pod, { ...p, source: "precise" });
      }
    }
    const preciseOk = new Set(answer ? precisePods : []);
    if (answer && this.speculative) {
      // Routed here moments ago and not yet in the KV events: count what the server is prefilling now.
      // Nothing live: no need to hash the prompt.
      const sent =
        this.speculative.size(cycle.nowMs) === 0
          ? new Map<string, number>()
          : this.speculative.match(this.hashes(cycle), preciseOk, cycle.nowMs);
      for (const [pod, sharedBlocks] of sent) {
        const sharedTokens = sharedBlocks * this.opts.blockSizeTokens;
        const blocks = Math.min(totalBlocks, Math.floor(sharedTokens / blockSize));
        if (blocks <= (matches.get(pod)?.matchedBlocks ?? 0)) continue;
        matches.set(pod, {
          matchedBlocks: blocks,
          gpuBlocks: blocks,
          cpuBlocks: blocks,
          source: "speculative",
        });
      }
    }
    const approxPods =
      mode === "precise" ? [] : endpoints.filter((e) => !preciseOk.has(e.pod)).map((e) => e.pod);
    if (approxPods.length > 0) {
      const hashes = this.hashes(cycle);
      const found = this.index.match(hashes, new Set(approxPods));
      const approxBs = this.opts.blockSizeTokens;
      if (!answer) totalBlocks = hashes.length;
      for (const [pod, blocks] of found) {
        const converted = Math.floor((blocks * approxBs) / blockSize);
        if (converted > 0) {
          matches.set(pod, {
            matchedBlocks: converted,
            gpuBlocks: converted,
            cpuBlocks: 0,
            source: "approximate",
          });
        }
      }
    }
    const info: PrefixInfo = { totalBlocks, blockSize, matches };
    cycle.set(`prefix:${this.name}`, info);
    if (!cycle.prefix) cycle.prefix = info;
  }

  /**
   * The chosen endpoints will now cache this prompt: remember it for approximate matching. In auto mode
   * with a kv-index link, servers kv-index tracks are recorded only with `fallbackHistory` (the default),
   * which keeps affinity through a kv-index outage at ~0.2 ms of CPU per 8k-token pick.
   */
  onPicked(cycle: CycleState, result: SchedulingResult): void {
    if (!cycle.tokens || cycle.tokens.length === 0 || result.refusal) return;
    const chosen = [result.primary.picked[0]?.endpoint, result.prefill?.picked[0]?.endpoint].filter(
      (e): e is Endpoint => e !== undefined,
    );
    if (this.speculative && !cycle.tokensApproximate) {
      for (const e of chosen)
        if (this.tracksPrecisely(e)) this.speculative.record(e.pod, this.hashes(cycle), cycle.nowMs);
    }
    if (this.opts.mode === "precise") return;
    // Servers matched approximately need the record before the next pick; the fallback history of
    // servers kv-index tracks is only read during an outage, so it is written after the reply is sent.
    const now = chosen.filter((e) => !this.tracksPrecisely(e));
    // An answer from the in-process index replica cannot fail the next time: no fallback needed
    // (it cost ~0.4 ms of CPU per 8k-token pick, more than the rest of the pick).
    const fallback = this.opts.fallbackHistory && cycle.get(this.inProcessKey) !== true;
    const later = fallback ? chosen.filter((e) => !now.includes(e)) : [];
    if (now.length > 0) {
      const hashes = this.hashes(cycle);
      for (const e of now) this.index.record(e.pod, hashes);
    }
    if (later.length > 0) {
      setImmediate(() => {
        const hashes = this.hashes(cycle);
        for (const e of later) this.index.record(e.pod, hashes);
      });
    }
  }

  /** Whether kv-index answers for this endpoint: precise mode, or auto mode and it publishes KV events. */
  private tracksPrecisely(e: Endpoint): boolean {
    if (this.opts.mode === "approximate" || this.lookup === undefined) return false;
    return this.opts.mode === "precise" || e.info.publishesKvEvents;
  }

  private hashes(cycle: CycleState): number[] {
    return cycle.memo(`approx-hashes:${this.opts.blockSizeTokens}`, () => {
      const r = cycle.request;
      const seed = seedFor(r.baseModel, r.lora, r.cacheSalt);
      return blockHashes(cycle.tokens ?? [], this.opts.blockSizeTokens, seed, this.opts.maxPrefixBlocks);
    });
  }
}

/** A Go duration as llm-d's configs write it: "2s", "500ms", "1m". */
function durationMs(params: Params, key: string, defMs: number): number {
  const raw = params.string(key, "");
  if (raw === "") return defMs;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(raw);
  if (!m) return params.error(`${key}: expected a duration like "2s" or "500ms", got ${JSON.stringify(raw)}`);
  return Number(m[1]) * (m[2] === "m" ? 60_000 : m[2] === "s" ? 1000 : 1);
}

function readOptions(params: Params, mode: PrefixMode): PrefixProducerOptions {
  const blockSizeTokens = params.int(
    "blockSizeTokens",
    params.int("blockSize", params.int("hashBlockSize", 16, { min: 1 }), { min: 1 }),
    {
      min: 1,
    },
  );
  const maxTokens = params.int("maxPrefixTokensToMatch", 131_072, { min: 1 });
  const maxPrefixBlocks = params.int("maxPrefixBlocksToMatch", Math.floor(maxTokens / blockSizeTokens), {
    min: 1,
  });
  const lruCapacityPerServer = params.int("lruCapacityPerServer", 31_250, { min: 1 });
  params.ignore("autoTune", "tokenProcessorConfig", "indexerConfig", "kvEventsConfig");
  const fallbackHistory = mode === "auto" ? params.bool("fallbackHistory", true) : false;
  // Off by default, as in llm-d: on the pick benchmark it adds 0.05-0.26 ms (hashing the prompt's blocks) per 8k-token pick.
  const speculative = mode !== "approximate" && params.bool("speculativeIndexing", false);
  const ttlMs = durationMs(params, "speculativeTTL", 2000);
  return {
    mode,
    blockSizeTokens,
    maxPrefixBlocks,
    lruCapacityPerServer,
    fallbackHistory,
    speculativeTtlMs: speculative ? ttlMs : 0,
  };
}

export function prefixCacheProducerFactory(
  name: string,
  params: Params,
  handle: Handle,
): PrefixCacheProducer {
  const mode = params.oneOf<PrefixMode>("mode", ["auto", "precise", "approximate"], "auto");
  return new PrefixCacheProducer(readOptions(params, mode), handle, name, PREFIX_CACHE_PRODUCER);
}

export function precisePrefixCacheProducerFactory(
  name: string,
  params: Params,
  handle: Handle,
): PrefixCacheProducer {
  return new PrefixCacheProducer(readOptions(params, "precise"), handle, name, PRECISE_PREFIX_CACHE_PRODUCER);
}

export function approxPrefixCacheProducerFactory(
  name: string,
  params: Params,
  handle: Handle,
): PrefixCacheProducer {
  return new PrefixCacheProducer(
    readOptions(params, "approximate"),
    handle,
    name,
    APPROX_PREFIX_CACHE_PRODUCER,
  );
}
