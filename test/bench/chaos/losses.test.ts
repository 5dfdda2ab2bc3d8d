import { decodeKvEventBatch, encodeKvEventBatch } from "@inferd/kv-blocks";
import { describe, expect, it } from "vitest";
import { lostDecisions } from "./decisions.ts";
import { applyBatch, type BlockSet } from "./engine-blocks.ts";
import { compareBlocks } from "./kv-convergence.ts";
import { renderLossTable } from "./loss-table.ts";

const batch = (events: Parameters<typeof encodeKvEventBatch>[0]["events"]) =>
  decodeKvEventBatch(encodeKvEventBatch({ ts: 1, events }, { encoding: "map" }));

describe("bench chaos - KV events and decisions lost", () => {
  it("an engine's block set follows its stored, removed and cleared events, copies counted", () => {
    const set: BlockSet = new Map();
    applyBatch(
      set,
      batch([
        { type: "BlockStored", blockHashes: [1n, 0xffff_ffff_ffff_ffffn], tokenIds: [], blockSize: 16 },
        { type: "BlockStored", blockHashes: [1n], tokenIds: [], blockSize: 16, medium: "CPU" },
        { type: "BlockRemoved", blockHashes: [1n] },
      ]),
    );
    expect([...set]).toEqual([
      ["0000000000000001", 1],
      ["ffffffffffffffff", 1],
    ]);
    applyBatch(set, batch([{ type: "BlockRemoved", blockHashes: [1n] }]));
    expect([...set.keys()]).toEqual(["ffffffffffffffff"]);
    applyBatch(set, batch([{ type: "AllBlocksCleared" }]));
    expect(set.size).toBe(0);
  });

  it("the index's view is compared per engine: missing and extra blocks", () => {
    const engines = new Map<string, BlockSet>([
      [
        "a",
        new Map([
          ["01", 1],
          ["02", 1],
        ]),
      ],
      ["b", new Map([["03", 2]])],
    ]);
    const index = new Map([
      ["a", new Set(["01", "09"])],
      ["b", new Set(["03"])],
    ]);
    expect(compareBlocks(engines, index)).toEqual({ engineBlocks: 3, missing: 1, extra: 1 });
    expect(compareBlocks(engines, new Map())).toEqual({ engineBlocks: 3, missing: 3, extra: 0 });
  });

  it("a decision is lost when a successful request has no ROUTED event", () => {
    expect(lostDecisions(["r1", "r2", "r3"], new Set(["r1", "r3", "r9"]))).toBe(1);
  });

  it("renders the loss figures, saying when the index did not converge", () => {
    const text = renderLossTable({
      kv: {
        engineBlocks: 10,
        missing: 2,
        extra: 0,
        convergedAfterMs: undefined,
        witnessGaps: 0,
        witnessBatches: 5,
      },
      decisions: { succeeded: 7, lost: 0 },
    });
    expect(text).toMatch(/held but missing from the index\s+\| 2/);
    expect(text).toContain("not within the wait");
    expect(text).not.toContain("scale decisions");
  });

  it("renders lifecycle and scale-decision losses when the run measured them", () => {
    const text = renderLossTable({
      kv: { engineBlocks: 1, missing: 0, extra: 0, convergedAfterMs: 200, witnessGaps: 0, witnessBatches: 1 },
      decisions: { succeeded: 7, lost: 0, completedLost: 1, storedEvents: 20, storedAfterMs: 1500 },
      scaleDecisions: { published: 3, stored: 2, dropped: 1 },
    });
    expect(text).toMatch(/no COMPLETED event in INFERD_REQUESTS\)\s+\| 1/);
    expect(text).toMatch(/lifecycle events stored \/ all stored after the load\s+\| 20 \/ 1\.5 s/);
    expect(text).toMatch(/scale decisions published \/ stored \/ dropped\s+\| 3 \/ 2 \/ 1/);
  });
});
