import { Indexer, InMemoryBlockIndex, type RulesFor, rulesByModel } from "@inferd/block-index";
import { encodeCanonicalCbor, requestKeys, vllmRules } from "@inferd/kv-blocks";
import {
  BlockStoredSchema,
  type KvEventBatch,
  KvEventBatchSchema,
  make,
  StorageTier,
} from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { metricValue, testObservers } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";
const BS = 4;
const tokens = (n: number, base = 0) => Array.from({ length: n }, (_, i) => base + i + 1);

type Ev = KvEventBatch["events"][number]["event"];
const stored = (
  hashes: bigint[],
  toks: number[],
  opts: {
    parent?: bigint;
    tier?: StorageTier;
    extra?: Uint8Array[];
    blockSize?: number;
    ownership?: string;
    loraName?: string;
    loraId?: bigint;
  } = {},
): Ev => ({
  case: "blockStored",
  value: make(BlockStoredSchema, {
    blockHashes: hashes,
    parentBlockHash: opts.parent,
    tokenIds: toks,
    blockSize: opts.blockSize ?? (toks.length === 0 ? 0 : BS),
    tier: opts.tier ?? StorageTier.GPU,
    extraKeys: opts.extra ?? [],
    ownership: opts.ownership ?? "",
    loraName: opts.loraName,
    loraId: opts.loraId,
  }),
});
const removed = (hashes: bigint[], tier = StorageTier.GPU, ownership = ""): Ev => ({
  case: "blockRemoved",
  value: { blockHashes: hashes, tier, ownership } as never,
});

let streamSeq = 0n;
function batch(
  seq: number,
  events: Ev[],
  opts: { pod?: string; rank?: number; ts?: number } = {},
): [KvEventBatch, bigint] {
  streamSeq++;
  return [
    make(KvEventBatchSchema, {
      model: MODEL,
      pod: opts.pod ?? "p1",
      dataParallelRank: opts.rank ?? 0,
      seq: BigInt(seq),
      tsSeconds: opts.ts ?? 1000 + seq,
      events: events.map((event) => ({ event })) as never,
      receivedUnixMs: BigInt(Date.now()),
    }),
    streamSeq,
  ];
}

function setup(rulesFor?: RulesFor) {
  const obs = testObservers();
  const index = new InMemoryBlockIndex();
  const indexer = new Indexer(index, obs, { blockSize: BS, rulesFor });
  const run = (b: [KvEventBatch, bigint]) => indexer.handle(b[0], b[1]);
  const match = async (toks: number[], lora?: string) => {
    const keys = requestKeys(MODEL, toks, { blockSize: BS, loraName: lora ?? null });
    const out: Record<string, [number, number]> = {};
    for (const m of await index.lookup(MODEL, keys)) out[m.engine] = [m.gpuBlocks, m.anyBlocks];
    return out;
  };
  return { ...obs, index, indexer, run, match };
}

describe("kv-index - indexer", () => {
  it("chains request keys across events through the engine -> request mapping", async () => {
    const t = setup();
    const prompt = tokens(16);
    await t.run(batch(0, [stored([11n, 12n], prompt.slice(0, 8))]));
    await t.run(batch(1, [stored([13n, 14n], prompt.slice(8, 16), { parent: 12n })]));
    expect(await t.match(prompt)).toEqual({ p1: [4, 4] });
    expect(await t.match([...prompt.slice(0, 8), 99, 99, 99, 99])).toEqual({ p1: [2, 2] });
  });

  it("copies: a block stored twice survives one removal", async () => {
    const t = setup();
    await t.run(batch(0, [stored([11n], tokens(4)), stored([11n], tokens(4))]));
    await t.run(batch(1, [removed([11n])]));
    expect(await t.match(tokens(4))).toEqual({ p1: [1, 1] });
    await t.run(batch(2, [removed([11n])]));
    expect(await t.match(tokens(4))).toEqual({});
  });

  it("token-less CPU offload placeholders resolve through known engine hashes", async () => {
    const t = setup();
    await t.run(batch(0, [stored([11n, 12n], tokens(8))]));
    await t.run(batch(1, [stored([11n, 12n, 77n], [], { tier: StorageTier.CPU }), removed([12n])]));
    expect(await t.match(tokens(8))).toEqual({ p1: [1, 2] });
    expect(
      await metricValue(t.registry, "inferd_kv_indexer_anomalies_total", { kind: "unresolved_placeholder" }),
    ).toBe(1);
  });

  it("an unknown parent is indexed on an orphan chain, never matched, still removable", async () => {
    const t = setup();
    await t.run(batch(0, [stored([21n], tokens(4, 4), { parent: 999n })]));
    expect(await t.match(tokens(8))).toEqual({});
    expect((await t.index.snapshot(MODEL, "p1")).copies.gpu.size).toBe(1);
    expect(
      await metricValue(t.registry, "inferd_kv_indexer_anomalies_total", { kind: "unknown_parent" }),
    ).toBe(1);
    await t.run(batch(1, [removed([21n])]));
    expect(await t.index.size()).toBe(0);
  });

  it("data-parallel ranks are separate engines; AllBlocksCleared clears only its rank", async () => {
    const t = setup();
    await t.run(batch(0, [stored([11n], tokens(4))], { rank: 0 }));
    await t.run(batch(0, [stored([11n, 12n], tokens(8))], { rank: 1 }));
    expect(await t.match(tokens(8))).toEqual({ p1: [1, 1], "p1#dp1": [2, 2] });
    await t.run(batch(1, [{ case: "allBlocksCleared", value: {} as never }], { rank: 1 }));
    expect(await t.match(tokens(8))).toEqual({ p1: [1, 1] });
  });

  it("repeated batches are applied once; a restart without PodReset clears the engine", async () => {
    const t = setup();
    const first = batch(0, [stored([11n], tokens(4))]);
    expect(await t.run(first)).toBe("applied");
    expect(await t.run(first)).toBe("redelivered");
    // Same engine batch published again (new stream message): duplicate by (seq, ts).
    expect(await t.run(batch(0, [stored([11n], tokens(4))]))).toBe("duplicate");
    expect(
      (await t.index.snapshot(MODEL, "p1")).copies.gpu.get(
        [...(await t.index.snapshot(MODEL, "p1")).copies.gpu.keys()][0]!,
      ),
    ).toBe(1);
    // seq back to 0 with a later timestamp: the engine restarted.
    expect(await t.run(batch(0, [stored([31n], tokens(4, 50))], { ts: 5000 }))).toBe("applied");
    expect(await t.match(tokens(4))).toEqual({});
    expect(await t.match(tokens(4, 50))).toEqual({ p1: [1, 1] });
  });

  it("PodReset clears the engine and accepts its sequence from 0 again", async () => {
    const t = setup();
    await t.run(batch(5, [stored([11n], tokens(4))], { ts: 100 }));
    const reset = batch(0, [{ case: "podReset", value: { reason: "engine_restarted" } as never }], {
      ts: 50,
    });
    expect(await t.run(reset)).toBe("applied");
    // Even an (odd) earlier timestamp is accepted after an explicit reset.
    expect(await t.run(batch(0, [stored([11n], tokens(4))], { ts: 60 }))).toBe("applied");
    expect(await t.match(tokens(4))).toEqual({ p1: [1, 1] });
    // A redelivered reset must not wipe what came after it.
    expect(await t.run(reset)).toBe("redelivered");
    expect((await t.index.snapshot(MODEL, "p1")).copies.gpu.size).toBe(1);
  });

  it("several messages of a pod are applied in one write, in order, ranks apart", async () => {
    const t = setup();
    const items = [
      batch(0, [stored([11n, 12n], tokens(8))]),
      batch(0, [stored([11n], tokens(4))], { rank: 1 }),
      batch(1, [stored([13n], tokens(4, 8), { parent: 12n }), removed([11n])]),
      batch(1, [stored([11n], tokens(4))]), // duplicate of nothing: a second copy
      batch(1, [stored([11n], tokens(4))]), // same seq and ts as the previous: duplicate
    ].map(([b, s]) => ({ batch: b, streamSeq: s }));
    items[4]!.batch.tsSeconds = items[3]!.batch.tsSeconds;
    items[3]!.batch.seq = 2n;
    items[4]!.batch.seq = 2n;
    const outcomes = await t.indexer.handleMany(items);
    expect(outcomes).toEqual(["applied", "applied", "applied", "applied", "duplicate"]);
    expect(await t.match([...tokens(8), ...tokens(4, 8)])).toEqual({ p1: [3, 3], "p1#dp1": [1, 1] });
    expect(await t.indexer.handleMany(items)).toEqual([
      "redelivered",
      "redelivered",
      "redelivered",
      "redelivered",
      "redelivered",
    ]);
  });

  it("left_inventory purges every rank of the pod", async () => {
    const t = setup();
    await t.run(batch(0, [stored([11n], tokens(4))], { rank: 0 }));
    await t.run(batch(0, [stored([11n], tokens(4))], { rank: 2 }));
    await t.run(batch(0, [stored([11n], tokens(4))], { pod: "p2" }));
    expect(await t.run(batch(9, [{ case: "podReset", value: { reason: "left_inventory" } as never }]))).toBe(
      "purged",
    );
    expect(await t.match(tokens(4))).toEqual({ p2: [1, 1] });
    expect(await t.index.engines(MODEL)).toEqual(["p2"]);
  });

  it("LoRA blocks match lookups for the same adapter only", async () => {
    const t = setup();
    const extra = [encodeCanonicalCbor(["sql-lora"]), encodeCanonicalCbor(["sql-lora"])];
    await t.run(batch(0, [stored([11n, 12n], tokens(8), { extra })]));
    expect(await t.match(tokens(8), "sql-lora")).toEqual({ p1: [2, 2] });
    expect(await t.match(tokens(8))).toEqual({});
  });

  it("a block owned by an offloading connector (vLLM 0.29+ ownership) is not counted as GPU-resident", async () => {
    const t = setup();
    // Even if a producer labels it GPU: ownership means the connector's tier holds it.
    await t.run(batch(0, [stored([11n, 12n], tokens(8), { ownership: "cpu-offload" })]));
    expect(await t.match(tokens(8))).toEqual({ p1: [0, 2] });
    await t.run(batch(1, [stored([11n, 12n], tokens(8))]));
    expect(await t.match(tokens(8))).toEqual({ p1: [2, 2] });
    // Removing the offloaded copy leaves the GPU copy.
    await t.run(batch(2, [removed([11n, 12n], StorageTier.GPU, "cpu-offload")]));
    expect(await t.match(tokens(8))).toEqual({ p1: [2, 2] });
  });

  it("vllmVersion per pool: a 0.11 engine (no extra_keys, LoRA by int id) is keyed by that id", async () => {
    const t = setup(rulesByModel("0.34.0", { [MODEL]: "0.11.0" }));
    await t.run(batch(0, [stored([11n, 12n], tokens(8), { loraName: "sql", loraId: 3n })]));
    const byId = requestKeys(MODEL, tokens(8), {
      blockSize: BS,
      loraName: "sql",
      loraId: 3,
      rules: vllmRules("0.11.0"),
    });
    const hits = await t.index.lookup(MODEL, byId);
    expect(hits.map((m) => [m.engine, m.gpuBlocks])).toEqual([["p1", 2]]);
    // Under current rules the same event would be keyed by the adapter name.
    expect(await t.match(tokens(8), "sql")).toEqual({});
  });

  it("events of another block size are skipped and counted", async () => {
    const t = setup();
    await t.run(batch(0, [stored([11n], tokens(8), { blockSize: 8 })]));
    expect(await t.index.size()).toBe(0);
    expect(
      await metricValue(t.registry, "inferd_kv_indexer_anomalies_total", { kind: "block_size_mismatch" }),
    ).toBe(1);
  });
});
