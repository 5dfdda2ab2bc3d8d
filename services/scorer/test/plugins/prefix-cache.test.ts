import { waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { CycleState } from "../../src/framework/cycle.ts";
import type { KvLookupFn } from "../../src/framework/handle.ts";
import type { SchedulingResult } from "../../src/framework/plugin.ts";
import { ApproxPrefixIndex } from "../../src/plugins/prefix-cache/approx-index.ts";
import { blockHashes, seedFor } from "../../src/plugins/prefix-cache/block-hash.ts";
import {
  PrefixCacheProducer,
  precisePrefixCacheProducerFactory,
  prefixCacheProducerFactory,
} from "../../src/plugins/prefix-cache/producer.ts";
import { PrefixCacheScorer } from "../../src/plugins/prefix-cache/scorer.ts";
import { cycle, ep, handle, params, request } from "../helpers.ts";

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Auto mode with the fallback routing history (the defaults), small blocks and bounds. */
const AUTO_WITH_FALLBACK = {
  mode: "auto",
  blockSizeTokens: 16,
  maxPrefixBlocks: 1000,
  lruCapacityPerServer: 1000,
  fallbackHistory: true,
  speculativeTtlMs: 0,
} as const;

describe("prefix-cache-scorer", () => {
  it("prefix-cache-scorer - matched blocks over prompt blocks", () => {
    const s = new PrefixCacheScorer({
      prefixLengthWeight: 0,
      maxModelLen: 8192,
      producerName: undefined,
    }).score(cycle({ promptTokens: 160, matches: { a: 10, b: 5 } }), [ep("a"), ep("b"), ep("c")]);
    expect(Object.fromEntries(s)).toEqual({ a: 1, b: 0.5, c: 0 });
  });
  it("prefix-cache-scorer - prefixLengthWeight adds the squared absolute length", () => {
    const s = new PrefixCacheScorer({
      prefixLengthWeight: 0.5,
      maxModelLen: 320,
      producerName: undefined,
    }).score(cycle({ promptTokens: 160, matches: { a: 10 } }), [ep("a")]);
    // 0.5 * (160/320)^2 + 0.5 * 1
    expect(s.get("a")).toBeCloseTo(0.625);
  });
  it("prefix-cache-scorer - no prefix data scores 0", () => {
    const s = new PrefixCacheScorer({
      prefixLengthWeight: 0,
      maxModelLen: 8192,
      producerName: undefined,
    }).score(cycle(), [ep("a")]);
    expect(s.get("a")).toBe(0);
  });
});

describe("approximate prefix index", () => {
  const seed = seedFor("m", undefined, "");
  it("approx-index - longest leading run per pod, candidates respected", () => {
    const idx = new ApproxPrefixIndex(1000);
    const h = blockHashes(range(160), 16, seed, 1000);
    idx.record("a", h);
    idx.record("b", h.slice(0, 4));
    expect(Object.fromEntries(idx.match(h))).toEqual({ a: 10, b: 4 });
    expect(Object.fromEntries(idx.match(h, new Set(["b"])))).toEqual({ b: 4 });
  });
  it("approx-index - chained hashes: same block after a different prefix does not match", () => {
    const idx = new ApproxPrefixIndex(1000);
    idx.record("a", blockHashes([...range(16, 1000), ...range(16)], 16, seed, 10));
    expect(idx.match(blockHashes([...range(16, 2000), ...range(16)], 16, seed, 10)).size).toBe(0);
  });
  it("approx-index - model seed separates models; LRU evicts oldest blocks", () => {
    const idx = new ApproxPrefixIndex(3);
    const h = blockHashes(range(80), 16, seed, 100);
    idx.record("a", h);
    expect(idx.size("a")).toBe(3);
    // Blocks 0 and 1 were evicted, so no leading match remains.
    expect(idx.match(h).size).toBe(0);
    expect(idx.match(blockHashes(range(80), 16, seedFor("other", undefined, ""), 100)).size).toBe(0);
  });
});

function result(pod: string, publishesKvEvents = false): SchedulingResult {
  const picked = [{ endpoint: ep(pod, { info: { publishesKvEvents } }), total: 1, scores: new Map() }];
  const primary = { profile: "default", picked, candidates: [], emptiedBy: undefined };
  return { primary, prefill: undefined, profiles: [primary], refusal: undefined };
}

describe("prefix-cache producer", () => {
  const tokens = range(320);
  const newCycle = (): CycleState =>
    new CycleState(request({ prompt: { kind: "tokens", ids: tokens } }), 0, () => 0.5);

  it("prefix-cache-producer - auto mode: precise for event publishers, approximate for the rest", async () => {
    const queried: string[][] = [];
    const lookup: KvLookupFn = async (q) => {
      queried.push([...q.candidatePods]);
      return {
        totalBlocks: 20,
        blockSize: 16,
        promptTokens: 320,
        pods: [{ pod: "evented", gpuBlocks: 12, cpuBlocks: 15, matchedBlocks: 15 }],
      };
    };
    const p = new PrefixCacheProducer(AUTO_WITH_FALLBACK, { kvLookup: lookup, tokenizer: undefined });
    const eps = [ep("evented"), ep("silent", { info: { publishesKvEvents: false } })];
    // Teach the approximate index that "silent" got this prompt.
    const first = newCycle();
    await p.produce(first, eps);
    p.onPicked(first, result("silent"));

    const c = newCycle();
    await p.produce(c, eps);
    expect(queried.at(-1)).toEqual(["evented"]);
    expect(c.prefix?.matches.get("evented")).toMatchObject({
      matchedBlocks: 15,
      gpuBlocks: 12,
      source: "precise",
    });
    expect(c.prefix?.matches.get("silent")).toMatchObject({ matchedBlocks: 20, source: "approximate" });
    expect(c.promptTokens).toBe(320);
  });

  it("prefix-cache-producer - kv-index failure falls back to approximate for all and says so", async () => {
    const p = new PrefixCacheProducer(AUTO_WITH_FALLBACK, {
      kvLookup: async () => Promise.reject(new Error("timeout")),
      tokenizer: undefined,
    });
    const eps = [ep("evented"), ep("silent", { info: { publishesKvEvents: false } })];
    const first = newCycle();
    await p.produce(first, eps);
    p.onPicked(first, result("silent"));
    const c = newCycle();
    await p.produce(c, eps);
    expect(c.prefix?.matches.get("silent")).toMatchObject({ matchedBlocks: 20, source: "approximate" });
    expect(c.prefix?.matches.has("evented")).toBe(false);
    // With fallbackHistory (default), picks of kv-index-tracked servers are remembered too.
    p.onPicked(first, result("evented", true));
    // Written after the reply (setImmediate), off the pick's latency.
    expect(p.index.size("evented")).toBe(0);
    await waitFor(() => p.index.size("evented") > 0, { message: "fallback history recorded" });
    const after = newCycle();
    await p.produce(after, eps);
    expect(after.prefix?.matches.get("evented")).toMatchObject({ matchedBlocks: 20, source: "approximate" });
    expect(c.notes.join()).toMatch(/kv-index lookup failed \(timeout\); approximate prefix used/);
  });

  it("prefix-cache-producer - with kv-index and fallbackHistory off, auto mode records only servers without KV events", async () => {
    const p = new PrefixCacheProducer(
      {
        mode: "auto",
        blockSizeTokens: 16,
        maxPrefixBlocks: 1000,
        lruCapacityPerServer: 1000,
        fallbackHistory: false,
        speculativeTtlMs: 0,
      },
      {
        kvLookup: async () => ({ totalBlocks: 20, blockSize: 16, promptTokens: 320, pods: [] }),
        tokenizer: undefined,
      },
    );
    const c = newCycle();
    await p.produce(c, [ep("evented")]);
    p.onPicked(c, result("evented", true));
    expect(p.index.size("evented")).toBe(0);
    p.onPicked(c, result("silent", false));
    expect(p.index.size("silent")).toBe(20);
  });

  it("prefix-cache-producer - an in-process (index replica) answer needs no fallback history; a remote one does", async () => {
    let inProcess = true;
    const p = new PrefixCacheProducer(AUTO_WITH_FALLBACK, {
      kvLookup: async () => ({ totalBlocks: 20, blockSize: 16, promptTokens: 320, pods: [], inProcess }),
      tokenizer: undefined,
    });
    const replicaCycle = newCycle();
    await p.produce(replicaCycle, [ep("evented")]);
    p.onPicked(replicaCycle, result("evented", true));
    // Silent servers are still recorded at once (they have no precise data at all).
    p.onPicked(replicaCycle, result("silent", false));
    expect(p.index.size("silent")).toBe(20);
    // Fallback history is written in a setImmediate; one queued after it runs after it (FIFO).
    await new Promise((r) => setImmediate(r));
    expect(p.index.size("evented")).toBe(0);
    inProcess = false;
    const remoteCycle = newCycle();
    await p.produce(remoteCycle, [ep("evented")]);
    p.onPicked(remoteCycle, result("evented", true));
    await new Promise((r) => setImmediate(r));
    expect(p.index.size("evented")).toBe(20);
  });

  it("prefix-cache-producer - speculative indexing: a prompt just routed counts as cached there until the TTL", async () => {
    let pods: { pod: string; gpuBlocks: number; cpuBlocks: number; matchedBlocks: number }[] = [];
    const p = new PrefixCacheProducer(
      { ...AUTO_WITH_FALLBACK, fallbackHistory: false, speculativeTtlMs: 2000 },
      {
        kvLookup: async () => ({ totalBlocks: 20, blockSize: 16, promptTokens: 320, pods, inProcess: true }),
        tokenizer: undefined,
      },
    );
    const at = (nowMs: number, ids = tokens) =>
      new CycleState(request({ prompt: { kind: "tokens", ids } }), nowMs, () => 0.5);
    const eps = [ep("evented"), ep("other")];
    const first = at(1000);
    await p.produce(first, eps);
    expect(first.prefix?.matches.size).toBe(0);
    p.onPicked(first, result("evented", true));

    // The same group's next prompt shares 200 tokens: 12 whole blocks, before any KV event.
    const next = at(1500, [...range(200), ...range(120, 5000)]);
    await p.produce(next, eps);
    expect(next.prefix?.matches.get("evented")).toEqual({
      matchedBlocks: 12,
      gpuBlocks: 12,
      cpuBlocks: 12,
      source: "speculative",
    });
    expect(next.prefix?.matches.has("other")).toBe(false);
    // What the KV events say wins once they say more.
    pods = [{ pod: "evented", gpuBlocks: 20, cpuBlocks: 20, matchedBlocks: 20 }];
    const confirmed = at(1600);
    await p.produce(confirmed, eps);
    expect(confirmed.prefix?.matches.get("evented")).toMatchObject({ matchedBlocks: 20, source: "precise" });
    // After the TTL only the KV events count.
    pods = [];
    const late = at(3000);
    await p.produce(late, eps);
    expect(late.prefix?.matches.size).toBe(0);
  });

  it("prefix-cache-producer - speculativeIndexing is off unless asked, in both producers; speculativeTTL is a Go duration", async () => {
    const h = handle({
      kvLookup: async () => ({
        totalBlocks: 20,
        blockSize: 16,
        promptTokens: 320,
        pods: [],
        inProcess: true,
      }),
    });
    // Whether the second of two identical prompts 100 ms apart sees the first one's pick.
    const sticks = async (p: PrefixCacheProducer) => {
      const first = new CycleState(request({ prompt: { kind: "tokens", ids: tokens } }), 0, () => 0.5);
      await p.produce(first, [ep("a")]);
      p.onPicked(first, result("a", true));
      const next = new CycleState(request({ prompt: { kind: "tokens", ids: tokens } }), 100, () => 0.5);
      await p.produce(next, [ep("a")]);
      return next.prefix?.matches.get("a")?.source === "speculative";
    };
    const producer = (f: typeof prefixCacheProducerFactory, type: string, raw: object) =>
      f(type, params(type, raw), h);
    expect(await sticks(producer(prefixCacheProducerFactory, "prefix-cache-producer", {}))).toBe(false);
    const on = { speculativeIndexing: true };
    expect(await sticks(producer(prefixCacheProducerFactory, "prefix-cache-producer", on))).toBe(true);
    expect(
      await sticks(producer(precisePrefixCacheProducerFactory, "precise-prefix-cache-producer", {})),
    ).toBe(false);
    const asked = { speculativeIndexing: true, speculativeTTL: "50ms" };
    expect(
      await sticks(producer(precisePrefixCacheProducerFactory, "precise-prefix-cache-producer", asked)),
    ).toBe(false);
    const longer = { ...asked, speculativeTTL: "1s" };
    expect(
      await sticks(producer(precisePrefixCacheProducerFactory, "precise-prefix-cache-producer", longer)),
    ).toBe(true);
    expect(() =>
      producer(prefixCacheProducerFactory, "prefix-cache-producer", { speculativeTTL: "soon" }),
    ).toThrow(/speculativeTTL: expected a duration like "2s" or "500ms", got "soon"/);
  });

  it("prefix-cache-producer - precise mode never uses the routing history", async () => {
    const p = new PrefixCacheProducer(
      {
        mode: "precise",
        blockSizeTokens: 16,
        maxPrefixBlocks: 1000,
        lruCapacityPerServer: 1000,
        fallbackHistory: true,
        speculativeTtlMs: 0,
      },
      {
        kvLookup: async () => ({ totalBlocks: 20, blockSize: 16, promptTokens: 320, pods: [] }),
        tokenizer: undefined,
      },
    );
    const first = newCycle();
    await p.produce(first, [ep("a")]);
    p.onPicked(first, result("a", false));
    expect(p.index.size("a")).toBe(0);
    const c = newCycle();
    await p.produce(c, [ep("a")]);
    expect(c.prefix?.matches.size).toBe(0);
    expect(c.prefix?.totalBlocks).toBe(20);
  });

  it("prefix-cache-producer - text prompts without a tokenizer use the 4-byte estimate", async () => {
    const p = new PrefixCacheProducer(
      {
        mode: "approximate",
        blockSizeTokens: 16,
        maxPrefixBlocks: 1000,
        lruCapacityPerServer: 1000,
        fallbackHistory: true,
        speculativeTtlMs: 0,
      },
      { kvLookup: undefined, tokenizer: undefined },
    );
    const c = new CycleState(request({ prompt: { kind: "text", text: "x".repeat(400) } }), 0);
    await p.produce(c, [ep("a")]);
    expect(c.promptTokens).toBe(100);
    expect(c.prefix?.totalBlocks).toBe(6);
  });
});
