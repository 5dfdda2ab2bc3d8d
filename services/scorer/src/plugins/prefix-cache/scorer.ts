import type { CycleState } from "../../framework/cycle.ts";
import type { Handle } from "../../framework/handle.ts";
import type { Params } from "../../framework/params.ts";
import type { Scorer } from "../../framework/plugin.ts";
import type { Endpoint, PrefixInfo } from "../../framework/types.ts";

export const PREFIX_CACHE_SCORER = "prefix-cache-scorer";
/** llm-d v0.3's self-contained precise scorer; now a prefix-cache-scorer fed by the default producer. */
export const PRECISE_PREFIX_CACHE_SCORER = "precise-prefix-cache-scorer";

export interface PrefixScorerOptions {
  /** Weight of the absolute matched length in the score, 0..1. */
  prefixLengthWeight: number;
  maxModelLen: number;
  /** Producer instance whose result to read; default: the first prefix producer's. */
  producerName: string | undefined;
}

/**
 * `score = w * min(1, matchedTokens / maxModelLen)^2 + (1 - w) * matchedBlocks / totalBlocks`
 * (llm-d; w defaults to 0, the plain match ratio). No prefix data, or an empty prompt: score 0.
 */
export class PrefixCacheScorer implements Scorer {
  readonly type: string;
  readonly name: string;
  readonly requires = ["prefix"] as const;
  private readonly opts: PrefixScorerOptions;

  constructor(
    opts: PrefixScorerOptions,
    name: string = PREFIX_CACHE_SCORER,
    type: string = PREFIX_CACHE_SCORER,
  ) {
    this.opts = opts;
    this.name = name;
    this.type = type;
  }

  score(cycle: CycleState, endpoints: readonly Endpoint[]): Map<string, number> {
    const out = new Map<string, number>();
    const info = this.opts.producerName
      ? cycle.get<PrefixInfo>(`prefix:${this.opts.producerName}`)
      : cycle.prefix;
    const w = this.opts.prefixLengthWeight;
    for (const e of endpoints) {
      const m = info?.matches.get(e.pod);
      if (!info || !m || info.totalBlocks === 0) {
        out.set(e.pod, 0);
        continue;
      }
      const ratio = Math.min(1, m.matchedBlocks / info.totalBlocks);
      const length = Math.min(1, (m.matchedBlocks * info.blockSize) / this.opts.maxModelLen);
      out.set(e.pod, w * length * length + (1 - w) * ratio);
    }
    return out;
  }
}

function readOptions(params: Params): PrefixScorerOptions {
  const prefixLengthWeight = params.number(
    "prefixLengthWeight",
    params.number("matchLengthWeight", 0, { min: 0, max: 1 }),
    {
      min: 0,
      max: 1,
    },
  );
  const maxModelLen = params.int("maxModelLen", params.int("matchLengthScaleTokens", 8192, { min: 1 }), {
    min: 1,
  });
  const producer = params.string("prefixMatchInfoProducerName", "");
  // Older configs configured hashing on the scorer itself; inferd's producer owns those settings.
  params.ignore(
    "hashBlockSize",
    "blockSize",
    "maxPrefixBlocksToMatch",
    "lruCapacityPerServer",
    "mode",
    "kvCacheRedisAddr",
    "indexerConfig",
    "kvEventsConfig",
    "tokenProcessorConfig",
  );
  return { prefixLengthWeight, maxModelLen, producerName: producer || undefined };
}

export function prefixCacheScorerFactory(name: string, params: Params, handle: Handle): PrefixCacheScorer {
  const opts = readOptions(params);
  if (opts.producerName) {
    const p = handle.plugin(opts.producerName);
    if (!p)
      params.error(`prefixMatchInfoProducerName "${opts.producerName}" names no plugin listed before it`);
    if (!p.provides?.includes("prefix"))
      params.error(`"${opts.producerName}" does not produce prefix matches`);
  }
  return new PrefixCacheScorer(opts, name);
}

export function precisePrefixCacheScorerFactory(
  name: string,
  params: Params,
  _handle: Handle,
): PrefixCacheScorer {
  return new PrefixCacheScorer(readOptions(params), name, PRECISE_PREFIX_CACHE_SCORER);
}
