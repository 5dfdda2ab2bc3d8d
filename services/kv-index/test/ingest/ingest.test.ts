import { type EncodableEvent, type EventEncoding, encodeKvEventBatch, encodeSeq } from "@inferd/kv-blocks";
import type { KvEventBatch } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { Ingest, type RawKvMessage, type ReplayedFrame } from "../../src/ingest/ingest.ts";
import { metricValue, testObservers } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";
const enc = new TextEncoder();

function stored(hash: bigint): EncodableEvent {
  return {
    type: "BlockStored",
    blockHashes: [hash],
    parentBlockHash: null,
    tokenIds: Array(16).fill(1),
    blockSize: 16,
    medium: "GPU",
  };
}

function message(
  pod: string,
  seq: number,
  opts: { rank?: number; ts?: number; encoding?: EventEncoding; topic?: string } = {},
): RawKvMessage {
  return {
    topic: enc.encode(opts.topic ?? `kv@${pod}@${MODEL}`),
    seq: encodeSeq(BigInt(seq)),
    payload: encodeKvEventBatch(
      { ts: opts.ts ?? 1000 + seq, events: [stored(BigInt(seq) + 100n)], dataParallelRank: opts.rank ?? 0 },
      { encoding: opts.encoding ?? "array" },
    ),
  };
}

function setup(replayFrames?: (pod: string, rank: number, from: bigint) => Promise<ReplayedFrame[] | null>) {
  const obs = testObservers();
  const published: { batch: KvEventBatch; msgId: string }[] = [];
  const replays: { pod: string; rank: number; from: bigint }[] = [];
  const ingest = new Ingest(
    {
      publish: (batch, msgId) => published.push({ batch, msgId }),
      replay: async (_model, pod, rank, from) => {
        replays.push({ pod, rank, from });
        return replayFrames ? replayFrames(pod, rank, from) : null;
      },
      logger: obs.logger,
      metrics: obs.metrics,
    },
    { onUnrepairedGap: "keep" },
  );
  const seqs = () =>
    published.map(
      (p) =>
        `${p.batch.pod}:${p.batch.dataParallelRank}:${p.batch.seq}${p.batch.replayed ? "r" : ""}${p.batch.events[0]?.event.case === "podReset" ? "!" : ""}`,
    );
  return { ...obs, ingest, published, replays, seqs };
}

describe("kv-index - ingest", () => {
  for (const encoding of ["array", "map"] as const) {
    it(`normalises ${encoding}-encoded batches in sequence order`, async () => {
      const t = setup();
      for (let s = 0; s < 3; s++) t.ingest.handle(message("p1", s, { encoding }));
      expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:2"]);
      const first = t.published[0]!;
      expect(first.batch.model).toBe(MODEL);
      expect(first.batch.events[0]?.event.case).toBe("blockStored");
      expect(first.msgId).toBe(`${encodeURIComponent(MODEL)}|p1|0|0|1000`);
      expect(await metricValue(t.registry, "inferd_kv_ingest_blocks_total", { type: "stored" })).toBe(3);
    });
  }

  it("replay after gap: replayed batches come before the held live ones", async () => {
    const frames = (from: bigint) =>
      [3, 4, 5, 6]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from);
    const t = setup(async (_pod, _rank, from) => frames(from));
    t.ingest.handle(message("p1", 0));
    t.ingest.handle(message("p1", 1));
    t.ingest.handle(message("p1", 5)); // 2..4 lost
    t.ingest.handle(message("p1", 6)); // arrives while the replay runs: held
    await t.ingest.settled();
    expect(t.replays).toEqual([{ pod: "p1", rank: 0, from: 1n }]);
    // 2 is not in the engine's buffer any more: partial repair, the rest in order.
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:3r", "p1:0:4r", "p1:0:5", "p1:0:6"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_gaps_total")).toBe(1);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "partial" })).toBe(1);
  });

  it("a fully repaired gap counts as repaired", async () => {
    const t = setup(async (_pod, _rank, from) =>
      [0, 1, 2, 3]
        .filter((s) => BigInt(s) >= from)
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload })),
    );
    t.ingest.handle(message("p1", 0));
    t.ingest.handle(message("p1", 3));
    await t.ingest.settled();
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1r", "p1:0:2r", "p1:0:3"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "repaired" })).toBe(1);
  });

  it("first sight above seq 0 replays from 0 to learn earlier blocks", async () => {
    const t = setup(async () => [0, 1].map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload })));
    t.ingest.handle(message("p1", 2));
    await t.ingest.settled();
    expect(t.replays).toEqual([{ pod: "p1", rank: 0, from: 0n }]);
    expect(t.seqs()).toEqual(["p1:0:0r", "p1:0:1r", "p1:0:2"]);
  });

  it("a failed or unavailable replay keeps the live batches flowing", async () => {
    const t = setup(async () => {
      throw new Error("replay socket timed out");
    });
    t.ingest.handle(message("p1", 0));
    t.ingest.handle(message("p1", 4));
    t.ingest.handle(message("p1", 5));
    await t.ingest.settled();
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:4", "p1:0:5"]);
    // The gap's replay and three re-checks (a failed check proves nothing), then it gives up.
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "failed" })).toBe(4);
    expect(t.lines.some((l) => l.msg === "kv event gap not fully repaired by replay")).toBe(true);
  });

  // A reply lost to a stalled engine or a starved process (the pipeline e2e's rare "first events
  // indexed" timeout): the batches before the first one seen could only come from this replay.
  it("a first-sight replay left without a reply is asked again: nothing stored before is lost", async () => {
    let failures = 1;
    const t = setup(async () => {
      if (failures-- > 0) throw new Error("replay from tcp://127.0.0.1:1: no reply within 2000 ms");
      return [0, 1, 2].map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }));
    });
    t.ingest.handle(message("p1", 2));
    t.ingest.handle(message("p1", 3)); // held meanwhile
    await t.ingest.settled();
    expect(t.replays).toEqual([
      { pod: "p1", rank: 0, from: 0n },
      { pod: "p1", rank: 0, from: 0n },
    ]);
    expect(t.seqs()).toEqual(["p1:0:0r", "p1:0:1r", "p1:0:2", "p1:0:3"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "repaired" })).toBe(1);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "failed" })).toBe(0);
    expect(t.lines.some((l) => l.msg === "kv event replay failed; asking again")).toBe(true);
  });

  it("a gap replay left without a reply is asked again from the same point", async () => {
    let failures = 2;
    const t = setup(async (_pod, _rank, from) => {
      if (failures-- > 0) throw new Error("no reply");
      return [1, 2, 3, 4]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from);
    });
    t.ingest.handle(message("p1", 0));
    t.ingest.handle(message("p1", 1));
    t.ingest.handle(message("p1", 4)); // 2..3 lost
    await t.ingest.settled();
    expect(t.replays.map((r) => r.from)).toEqual([1n, 1n, 1n]);
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:2r", "p1:0:3r", "p1:0:4"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "repaired" })).toBe(1);
  });

  it("a first-sight replay is given up after replayAttempts requests; live batches flow on", async () => {
    const obs = testObservers();
    const published: string[] = [];
    let asked = 0;
    const ingest = new Ingest(
      {
        publish: (batch) => published.push(String(batch.seq)),
        replay: async () => {
          asked++;
          throw new Error("no reply");
        },
        logger: obs.logger,
        metrics: obs.metrics,
      },
      { replayAttempts: 2 },
    );
    ingest.handle(message("p1", 2));
    ingest.handle(message("p1", 3));
    await ingest.settled();
    expect(asked).toBe(2);
    expect(published).toEqual(["2", "3"]);
    expect(await metricValue(obs.registry, "inferd_kv_ingest_replays_total", { result: "failed" })).toBe(1);
    expect(
      obs.lines.some((l) => String(l.msg).startsWith("kv events published before the engine was first seen")),
    ).toBe(true);
  });

  it("a backwards sequence means the engine restarted: PodReset first", async () => {
    const t = setup();
    for (const s of [0, 1, 2]) t.ingest.handle(message("p1", s));
    t.ingest.handle(message("p1", 0, { ts: 5000 }));
    t.ingest.handle(message("p1", 1, { ts: 5001 }));
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:2", "p1:0:0!", "p1:0:0", "p1:0:1"]);
    const reset = t.published[3]!;
    expect(reset.batch.events[0]?.event).toEqual(expect.objectContaining({ case: "podReset" }));
    expect(reset.msgId).not.toBe(t.published[4]!.msgId);
    // The new seq 0 is a different batch from the old seq 0.
    expect(t.published[4]!.msgId).not.toBe(t.published[0]!.msgId);
    expect(await metricValue(t.registry, "inferd_kv_ingest_engine_restarts_total")).toBe(1);
  });

  it("a restarted engine that jumped past the old sequence is told from a gap by the replayed timestamp", async () => {
    // New life: seqs 0..9 with later timestamps; the engine buffer holds only the new life.
    const newLife = (from: bigint) =>
      Array.from({ length: 10 }, (_, s) => ({
        seq: BigInt(s),
        payload: message("p1", s, { ts: 5000 + s }).payload,
      })).filter((f) => f.seq >= from);
    const t = setup(async (_pod, _rank, from) => newLife(from));
    for (const s of [0, 1, 2]) t.ingest.handle(message("p1", s));
    t.ingest.handle(message("p1", 9, { ts: 5009 }));
    await t.ingest.settled();
    expect(t.replays.map((r) => r.from)).toEqual([2n, 0n]);
    expect(t.seqs()).toEqual([
      "p1:0:0",
      "p1:0:1",
      "p1:0:2",
      "p1:0:9!",
      ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((s) => `p1:0:${s}r`),
      "p1:0:9",
    ]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_engine_restarts_total")).toBe(1);
  });

  it("after a reconnection the next batch is checked: a restart hidden behind seq + 1 is found", async () => {
    const newLife = (from: bigint) =>
      [0, 1, 2, 3]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s, { ts: 7000 + s }).payload }))
        .filter((f) => f.seq >= from);
    const t = setup(async (_pod, _rank, from) => newLife(from));
    for (const s of [0, 1, 2]) t.ingest.handle(message("p1", s));
    t.ingest.suspect(MODEL, "p1");
    t.ingest.handle(message("p1", 3, { ts: 7003 }));
    await t.ingest.settled();
    expect(t.seqs()).toEqual([
      "p1:0:0",
      "p1:0:1",
      "p1:0:2",
      "p1:0:3!",
      "p1:0:0r",
      "p1:0:1r",
      "p1:0:2r",
      "p1:0:3",
    ]);
    // Same engine after a reconnection: verified, nothing else happens.
    const same = setup(async (_pod, _rank, from) =>
      [0, 1, 2]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from),
    );
    for (const s of [0, 1]) same.ingest.handle(message("p1", s));
    same.ingest.suspect();
    same.ingest.handle(message("p1", 2));
    await same.ingest.settled();
    expect(same.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:2"]);
    expect(await metricValue(same.registry, "inferd_kv_ingest_replays_total", { result: "verified" })).toBe(
      1,
    );
  });

  it("bind mode: a reconnection anywhere checks each engine at most once per period", async () => {
    const t = setup(async (_pod, _rank, from) =>
      [0, 1, 2, 3, 4]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from),
    );
    t.ingest.handle(message("p1", 0));
    t.ingest.suspect();
    t.ingest.handle(message("p1", 1));
    await t.ingest.settled();
    t.ingest.suspect(); // within the period: no second check
    t.ingest.handle(message("p1", 2));
    await t.ingest.settled();
    t.ingest.suspect(MODEL, "p1"); // a known engine's own socket: always checked
    t.ingest.handle(message("p1", 3));
    await t.ingest.settled();
    expect(t.replays.map((r) => r.from)).toEqual([0n, 2n]);
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1", "p1:0:2", "p1:0:3"]);
  });

  it("duplicates are skipped; data-parallel ranks are sequenced apart", async () => {
    const t = setup();
    t.ingest.handle(message("p1", 0, { rank: 0 }));
    t.ingest.handle(message("p1", 0, { rank: 1 }));
    t.ingest.handle(message("p1", 0, { rank: 0 }));
    t.ingest.handle(message("p1", 1, { rank: 1 }));
    expect(t.seqs()).toEqual(["p1:0:0", "p1:1:0", "p1:1:1"]);
    expect(t.replays).toEqual([]);
  });

  it("malformed payloads are counted, logged once per pod per minute, and skipped", async () => {
    const t = setup();
    t.ingest.handle(message("p1", 0));
    t.ingest.handle({ ...message("p1", 1), payload: Uint8Array.from([0xc1]) });
    t.ingest.handle({ ...message("p1", 1), seq: Uint8Array.from([1, 2]) });
    t.ingest.handle({ ...message("p1", 1), topic: enc.encode("garbage") });
    t.ingest.handle(message("p1", 1));
    expect(t.seqs()).toEqual(["p1:0:0", "p1:0:1"]);
    expect(await metricValue(t.registry, "inferd_kv_malformed_payloads_total")).toBe(3);
    const logged = t.lines.filter((l) => String(l.msg).startsWith("malformed kv event"));
    expect(logged.map((l) => l.pod)).toEqual(["p1", "garbage"]);
  });

  it("garbage from many distinct topics is counted but logs at most 1024 senders per interval", async () => {
    const t = setup();
    for (let i = 0; i < 3000; i++)
      t.ingest.handle({ ...message(`p${i}`, 0), payload: Uint8Array.from([0xc1]) });
    expect(await metricValue(t.registry, "inferd_kv_malformed_payloads_total")).toBe(3000);
    expect(t.lines.filter((l) => String(l.msg).startsWith("malformed kv event"))).toHaveLength(1024);
  });

  it("an empty topic takes pod and model from the inventory endpoint", async () => {
    const t = setup();
    t.ingest.handle({
      ...message("ignored", 0, { topic: "" }),
      source: { model: "m2", pod: "from-inventory" },
    });
    expect(t.published[0]?.batch.pod).toBe("from-inventory");
    expect(t.published[0]?.batch.model).toBe("m2");
  });
});

describe("kv-index - ingest catch-up", () => {
  it("publishes what an idle engine stored before, and holds live batches until it is done", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const t = setup(async (_pod, _rank, from) => {
      await gate;
      return [0, 1, 2]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from);
    });
    const done = t.ingest.catchUp(MODEL, "p1");
    t.ingest.handle(message("p1", 3)); // arrives while the catch-up replay is under way
    expect(t.seqs()).toEqual([]);
    release();
    await done;
    expect(t.seqs()).toEqual(["p1:0:0r", "p1:0:1r", "p1:0:2r", "p1:0:3"]);
    await t.ingest.catchUp(MODEL, "p1"); // already known: nothing asked, nothing published
    expect(t.replays).toHaveLength(1);
    expect(t.seqs()).toHaveLength(4);
  });

  it("live batches the catch-up replay already covered are duplicates, not an engine restart", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const t = setup(async (_pod, _rank, from) => {
      await gate;
      return [0, 1, 2]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from);
    });
    const done = t.ingest.catchUp(MODEL, "p1");
    // The SUB connected before the replay answered: live 1 and 2 are also in the replay.
    t.ingest.handle(message("p1", 1));
    t.ingest.handle(message("p1", 2));
    t.ingest.handle(message("p1", 3));
    release();
    await done;
    expect(t.seqs()).toEqual(["p1:0:0r", "p1:0:1r", "p1:0:2r", "p1:0:3"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_engine_restarts_total")).toBe(0);
  });

  it("a failed catch-up counts as failed, and the next batch replays from 0", async () => {
    let failures = 1;
    const t = setup(async (_pod, _rank, from) => {
      if (failures-- > 0) throw new Error("no reply");
      return [0, 1]
        .map((s) => ({ seq: BigInt(s), payload: message("p1", s).payload }))
        .filter((f) => f.seq >= from);
    });
    await t.ingest.catchUp(MODEL, "p1");
    t.ingest.handle(message("p1", 2));
    await t.ingest.settled();
    expect(t.seqs()).toEqual(["p1:0:0r", "p1:0:1r", "p1:0:2"]);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "failed" })).toBe(1);
    expect(await metricValue(t.registry, "inferd_kv_ingest_replays_total", { result: "caught_up" })).toBe(0);
  });

  it("an engine without a replay socket is learnt from its next batch as before", async () => {
    const t = setup(async () => null);
    await t.ingest.catchUp(MODEL, "p2");
    t.ingest.handle(message("p2", 0));
    await t.ingest.settled();
    expect(t.seqs()).toEqual(["p2:0:0"]);
  });
});
