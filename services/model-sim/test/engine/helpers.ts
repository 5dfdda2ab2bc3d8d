import { createHash } from "node:crypto";
import type { Clock } from "../../src/engine/clock.ts";
import { VirtualClock } from "../../src/engine/clock.ts";
import { Engine, type EngineConfig } from "../../src/engine/engine.ts";
import { PROFILES } from "../../src/engine/latency.ts";
import type { FinishInfo } from "../../src/engine/request.ts";
import type { BlockHash, BlockHasher, KvCacheEvent } from "../../src/engine/types.ts";

/** A chained sha256 hasher with the engine's contract (tests of the engine do not need vLLM's CBOR). */
export const testHasher: BlockHasher = (parent, tokens, keys): BlockHash => {
  const h = createHash("sha256");
  h.update(parent ?? new Uint8Array(32));
  const extra = keys.lora ? [keys.lora.name] : null;
  h.update(JSON.stringify([tokens, extra]));
  const digest = new Uint8Array(h.digest());
  return { digest, ext: Buffer.from(digest).readBigUInt64BE(24), extraKeys: extra };
};

export function makeEngine(over: Partial<EngineConfig> = {}, clock: Clock = new VirtualClock()) {
  const config: EngineConfig = {
    blockSize: 16,
    numGpuBlocks: 1001,
    maxNumSeqs: 256,
    maxNumBatchedTokens: 8192,
    maxModelLen: 32768,
    maxLoras: 0,
    profile: { ...PROFILES["qwen3-32b-h100-tp2"]!, sigma: 0 },
    seed: 1,
    ...over,
  };
  const engine = new Engine(config, clock, testHasher);
  const events: KvCacheEvent[] = [];
  engine.addObserver({ onKvEvents: (ev) => events.push(...ev) });
  return { engine, clock: clock as VirtualClock, events };
}

export interface Outcome {
  tokens: number[];
  tokenTimes: number[];
  info: FinishInfo | null;
}

let seq = 0;
export function submit(
  engine: Engine,
  prompt: readonly number[],
  outputLen: number,
  extra: { lora?: { name: string; id: number }; transferMs?: number; id?: string } = {},
): Outcome {
  const out: Outcome = { tokens: [], tokenTimes: [], info: null };
  engine.add({
    id: extra.id ?? `r${seq++}`,
    promptTokens: prompt,
    outputTokens: Array.from({ length: outputLen }, (_, i) => 1000 + i),
    finishReason: "length",
    lora: extra.lora ?? null,
    remotePrefill: extra.transferMs !== undefined ? { transferMs: extra.transferMs } : null,
    listener: {
      onToken: (t, _i, time) => {
        out.tokens.push(t);
        out.tokenTimes.push(time);
      },
      onFinish: (info) => {
        out.info = info;
      },
    },
  });
  return out;
}

/** Deterministic distinct prompt: `base` makes different prompts share nothing. */
export function prompt(len: number, base: number): number[] {
  return Array.from({ length: len }, (_, i) => base * 100_000 + i);
}

export function ttft(o: Outcome): number {
  return o.info!.firstTokenMs! - o.info!.arrivalMs;
}

/** Applies events in order to an empty multiset (hash -> copies). */
export function applyEvents(events: readonly KvCacheEvent[]): Map<bigint, number> {
  const m = new Map<bigint, number>();
  for (const e of events) {
    if (e.type === "AllBlocksCleared") m.clear();
    else if (e.type === "BlockStored") for (const { ext: h } of e.blockHashes) m.set(h, (m.get(h) ?? 0) + 1);
    else
      for (const { ext: h } of e.blockHashes) {
        const c = (m.get(h) ?? 0) - 1;
        if (c < 0) throw new Error(`BlockRemoved for unknown hash ${h}`);
        if (c === 0) m.delete(h);
        else m.set(h, c);
      }
  }
  return m;
}
