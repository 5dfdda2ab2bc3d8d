import {
  type DecodedEvent,
  decodeKvEventBatch,
  decodeSeq,
  engineBlockHashes,
  isEndSeq,
} from "@inferd/kv-blocks";
import { freePort, freePortRange, waitFor } from "@inferd/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { Dealer, Subscriber } from "zeromq";
import { Rng } from "../../src/engine/rng.ts";
import { offsetEndpointPort, parseKvEventsConfig, shouldBind } from "../../src/kv-events/config.ts";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";

/** Applies decoded events in order to an empty multiset (hash -> copies), as an indexer would. */
function apply(batches: readonly DecodedEvent[][]): Map<bigint, number> {
  const m = new Map<bigint, number>();
  for (const events of batches)
    for (const e of events) {
      if (e.type === "AllBlocksCleared") m.clear();
      else if (e.type === "BlockStored") for (const h of e.blockHashes) m.set(h, (m.get(h) ?? 0) + 1);
      else if (e.type === "BlockRemoved")
        for (const h of e.blockHashes) {
          const c = (m.get(h) ?? 0) - 1;
          if (c < 0) throw new Error(`removed unknown hash ${h}`);
          if (c === 0) m.delete(h);
          else m.set(h, c);
        }
    }
  return m;
}

/** Replays every buffered batch from `start` over a DEALER socket. */
async function replay(endpoint: string, start: bigint, withTopic: boolean) {
  const d = new Dealer({ linger: 0, receiveTimeout: 5000 });
  d.connect(endpoint);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(start);
  await d.send([Buffer.alloc(0), seq]);
  const out: { seq: bigint; topic: string | null; payload: Uint8Array }[] = [];
  for (;;) {
    const frames = await d.receive();
    const rest = frames.slice(1); // empty delimiter
    const topic = withTopic ? rest.shift()!.toString() : null;
    if (isEndSeq(rest[0]!)) {
      // vLLM >= 0.26's end marker is [b"", b"", END_SEQ, b""]: its topic frame is empty.
      expect(frames.length).toBe(withTopic ? 4 : 3);
      if (withTopic) expect(topic).toBe("");
      break;
    }
    out.push({ seq: decodeSeq(rest[0]!), topic, payload: rest[1]! });
  }
  d.close();
  return out;
}

describe.each([
  ["0.23.0", "array"],
  ["0.34.0", "map"],
] as const)("kv-events (vLLM %s, %s events)", (vllmVersion, encoding) => {
  let sim: SimServerHandle | undefined;
  let sub: Subscriber | undefined;
  afterEach(async () => {
    sub?.close();
    await sim?.close();
  });

  it(`kv-events - replayed events rebuild exactly the cached block multiset after churn (${encoding})`, async () => {
    const [pubPort, replayPort] = [await freePort(), await freePort()];
    sim = await startTestServer({
      numGpuBlocksOverride: 90,
      maxNumSeqs: 8,
      maxNumBatchedTokens: 256,
      vllmVersion,
      dataParallelRank: 0,
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({
          enable_kv_cache_events: true,
          endpoint: `tcp://*:${pubPort}`,
          replay_endpoint: `tcp://*:${replayPort}`,
          topic: "kv@{pod}@{model}",
        }),
      ),
    });
    expect(sim.kvEventsEndpoint).toBe(`tcp://127.0.0.1:${pubPort}`);
    const topic = `kv@${sim.podName}@${MODEL}`;
    expect(sim.kvEventsTopic).toBe(topic);

    // Live subscriber: collects whatever arrives after it has joined.
    sub = new Subscriber({ linger: 0 });
    sub.connect(sim.kvEventsEndpoint!);
    sub.subscribe("kv@");
    const live: { seq: bigint; topic: string; payload: Uint8Array }[] = [];
    void (async () => {
      try {
        for await (const [t, s, p] of sub!)
          live.push({ topic: t!.toString(), seq: decodeSeq(s!), payload: p! });
      } catch {
        // socket closed at the end of the test
      }
    })();

    let preemptions = 0;
    sim.engine.addObserver({ onPreemption: () => preemptions++ });
    const rng = new Rng(encoding === "array" ? 1 : 2);
    const prefixes = Array.from({ length: 10 }, (_, g) =>
      Array.from({ length: 48 + 16 * g }, (_, i) => 1000 + g * 500 + i),
    );
    const send = async (i: number) => {
      const pre = prefixes[rng.int(prefixes.length)]!;
      const tail = Array.from({ length: 1 + rng.int(40) }, () => 20_000 + rng.int(100));
      const r = await postJson(`${sim!.url}/v1/completions`, {
        model: MODEL,
        prompt: [...pre, ...tail],
        max_tokens: 80 + rng.int(120),
        ignore_eos: i % 4 !== 0,
      });
      expect(r.status).toBe(200);
    };
    for (let wave = 0; wave < 6; wave++)
      await Promise.all(Array.from({ length: 12 }, (_, i) => send(wave * 12 + i)));
    expect(preemptions).toBeGreaterThan(0);

    const cached = sim.engine.pool.cachedHashes();
    const all = await replay(sim.kvReplayEndpoint!, 0n, encoding === "map");
    // Sequence numbers count from 0 per process without gaps.
    expect(all.map((b) => b.seq)).toEqual(all.map((_, i) => BigInt(i)));
    if (encoding === "map") expect(new Set(all.map((b) => b.topic))).toEqual(new Set([topic]));
    const batches = all.map((b) => decodeKvEventBatch(b.payload));
    for (const b of batches) {
      expect(b.dataParallelRank).toBe(0);
      expect(b.eventEncoding).toBe(encoding);
    }
    const removed = batches.flatMap((b) => b.events).filter((e) => e.type === "BlockRemoved").length;
    expect(removed).toBeGreaterThan(50);
    expect(apply(batches.map((b) => b.events))).toEqual(cached);

    // The live stream carries the same batches under the topic, in order.
    await waitFor(() => live.length > 0 && live[live.length - 1]!.seq === BigInt(all.length - 1), {
      message: "live subscriber did not catch up",
    });
    const first = Number(live[0]!.seq);
    live.forEach((m, i) => {
      expect(m.topic).toBe(topic);
      expect(m.seq).toBe(BigInt(first + i));
      expect(Buffer.from(m.payload).equals(Buffer.from(all[first + i]!.payload))).toBe(true);
    });

    // Stored blocks carry their tokens and the block size; replay from the middle starts there.
    const stored = batches.flatMap((b) => b.events).find((e) => e.type === "BlockStored")!;
    if (stored.type === "BlockStored") {
      expect(stored.tokenIds.length).toBe(stored.blockHashes.length * 16);
      expect(stored.blockSize).toBe(16);
      expect(stored.medium).toBe("GPU");
    }
    const tail = await replay(sim.kvReplayEndpoint!, BigInt(all.length - 3), encoding === "map");
    expect(tail.map((b) => b.seq)).toEqual([all.length - 3, all.length - 2, all.length - 1].map(BigInt));

    // /reset_prefix_cache publishes AllBlocksCleared; the rebuilt set is empty like the pool.
    expect((await postJson(`${sim.url}/reset_prefix_cache`, {})).status).toBe(200);
    const after = (await replay(sim.kvReplayEndpoint!, 0n, encoding === "map")).map((b) =>
      decodeKvEventBatch(b.payload),
    );
    expect(after.at(-1)!.events).toEqual([{ type: "AllBlocksCleared" }]);
    expect(apply(after.map((b) => b.events))).toEqual(new Map());
    expect(sim.engine.pool.cachedHashes()).toEqual(new Map());
  });
});

describe("kv-events hashes", () => {
  let sim: SimServerHandle | undefined;
  let sub: Subscriber | undefined;
  afterEach(async () => {
    sub?.close();
    await sim?.close();
  });

  it("kv-events - block hashes are vLLM 0.34's chain (tagged LoRA name+path, cache_salt); events carry untagged keys", async () => {
    const pubPort = await freePort();
    sim = await startTestServer({
      enableLora: true,
      pythonHashSeed: "123",
      prefixCachingHashAlgo: "sha256_cbor",
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({ enable_kv_cache_events: true, endpoint: `tcp://*:${pubPort}`, buffer_steps: 100 }),
      ),
    });
    sub = new Subscriber({ linger: 0 });
    sub.connect(sim.kvEventsEndpoint!);
    sub.subscribe();
    const received: DecodedEvent[] = [];
    void (async () => {
      try {
        for await (const [, , p] of sub!) received.push(...decodeKvEventBatch(p!).events);
      } catch {
        // closed
      }
    })();
    // The subscription needs a moment to reach the PUB socket (ZeroMQ slow joiner): probe with fresh
    // prompts (each stores a new block) until events arrive.
    let probe = 0;
    await waitFor(
      async () => {
        probe++;
        const fresh = Array.from({ length: 20 }, (_, i) => 90_000 + probe * 100 + i);
        await postJson(`${sim!.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 1 });
        return received.length > 0;
      },
      { message: "no events" },
    );
    const prompt = Array.from({ length: 40 }, (_, i) => 7000 + i);
    await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    const expected = engineBlockHashes(prompt, { algo: "sha256_cbor", seed: "123", blockSize: 16 }).map(
      (h) => h.hash,
    );
    const base = await waitFor(
      () =>
        received.find(
          (e) => e.type === "BlockStored" && e.loraName === null && e.blockHashes[0] === expected[0],
        ),
      { message: "no event for the prompt" },
    );
    expect(base.type === "BlockStored" && base.blockHashes).toEqual(expected);
    expect(base.type === "BlockStored" && base.parentBlockHash).toBeNull();

    await postJson(`${sim.url}/v1/load_lora_adapter`, { lora_name: "sql", lora_path: "/a/sql" });
    await postJson(`${sim.url}/v1/completions`, { model: "sql", prompt, max_tokens: 1 });
    const lora = await waitFor(() => received.find((e) => e.type === "BlockStored" && e.loraName === "sql"), {
      message: "no LoRA event",
    });
    if (lora.type !== "BlockStored") throw new Error("unreachable");
    expect(lora.loraId).toBe(1);
    expect(lora.extraKeys).toEqual([["sql"], ["sql"]]);
    const withLora = engineBlockHashes(prompt, {
      algo: "sha256_cbor",
      seed: "123",
      blockSize: 16,
      loraName: "sql",
      loraPath: "/a/sql",
    });
    expect(lora.blockHashes).toEqual(withLora.map((h) => h.hash));

    await postJson(`${sim.url}/v1/completions`, {
      model: MODEL,
      prompt,
      max_tokens: 1,
      cache_salt: "tenant-1",
    });
    const salted = engineBlockHashes(prompt, {
      algo: "sha256_cbor",
      seed: "123",
      blockSize: 16,
      cacheSalt: "tenant-1",
    });
    const saltEvent = await waitFor(
      () => received.find((e) => e.type === "BlockStored" && e.blockHashes[0] === salted[0]!.hash),
      { message: "no salted event" },
    );
    if (saltEvent.type !== "BlockStored") throw new Error("unreachable");
    expect(saltEvent.blockHashes).toEqual(salted.map((h) => h.hash));
    expect(saltEvent.extraKeys).toEqual([["tenant-1"], null]);
  });
});

describe("kv-events config", () => {
  it("kv-events - parses vLLM's KVEventsConfig JSON with its defaults and rejects unknown keys", () => {
    const c = parseKvEventsConfig('{"enable_kv_cache_events": true}');
    expect(c).toMatchObject({
      publisher: "zmq",
      endpoint: "tcp://*:5557",
      replayEndpoint: null,
      bufferSteps: 10000,
      topic: "",
    });
    expect(parseKvEventsConfig("{}").publisher).toBe("null");
    expect(() => parseKvEventsConfig('{"endpoints": "x"}')).toThrow(/unknown key "endpoints"/);
    expect(() => parseKvEventsConfig('{"buffer_steps": -1}')).toThrow(/non-negative/);
  });
});

describe("kv-events connect mode", () => {
  let sim: SimServerHandle | undefined;
  let sub: Subscriber | undefined;
  afterEach(async () => {
    sub?.close();
    await sim?.close();
  });

  it("kv-events - a non-wildcard endpoint is connected to (centralized indexer), port offset by DP rank", async () => {
    const base = await freePortRange(3);
    // The indexer binds; vLLM with data_parallel_rank 2 connects to base + 2.
    sub = new Subscriber({ linger: 0 });
    await sub.bind(`tcp://127.0.0.1:${base + 2}`);
    sub.subscribe();
    const batches: { dp: number | null; n: number }[] = [];
    void (async () => {
      try {
        for await (const [, , p] of sub!) {
          const b = decodeKvEventBatch(p!);
          batches.push({ dp: b.dataParallelRank, n: b.events.length });
        }
      } catch {
        // closed
      }
    })();
    sim = await startTestServer({
      dataParallelRank: 2,
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({ enable_kv_cache_events: true, endpoint: `tcp://127.0.0.1:${base}` }),
      ),
    });
    expect(sim.kvEventsEndpoint).toBe(`tcp://127.0.0.1:${base + 2}`);
    let probe = 0;
    await waitFor(
      async () => {
        probe++;
        const fresh = Array.from({ length: 20 }, (_, i) => 80_000 + probe * 100 + i);
        await postJson(`${sim!.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 1 });
        return batches.length > 0;
      },
      { message: "no events reached the bound subscriber" },
    );
    expect(batches[0]!.dp).toBe(2);
  });

  it("kv-events - endpoint rules follow vLLM", () => {
    expect(shouldBind("tcp://*:5557")).toBe(true);
    expect(shouldBind("tcp://[::]:5557")).toBe(true);
    expect(shouldBind("ipc:///tmp/kv")).toBe(true);
    expect(shouldBind("tcp://indexer:5557")).toBe(false);
    expect(offsetEndpointPort("tcp://*:5557", 1)).toBe("tcp://*:5558");
    expect(offsetEndpointPort("inproc://kv", 2)).toBe("inproc://kv_dp2");
    expect(offsetEndpointPort("tcp://*:5557", 0)).toBe("tcp://*:5557");
  });
});

describe("kv-events replay buffer", () => {
  let sim: SimServerHandle | undefined;
  afterEach(async () => {
    await sim?.close();
  });

  it("kv-events - replay serves only the last buffer_steps batches", async () => {
    const [pubPort, replayPort] = [await freePort(), await freePort()];
    sim = await startTestServer({
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({
          enable_kv_cache_events: true,
          endpoint: `tcp://*:${pubPort}`,
          replay_endpoint: `tcp://*:${replayPort}`,
          buffer_steps: 3,
        }),
      ),
    });
    for (let i = 0; i < 6; i++) {
      const fresh = Array.from({ length: 40 }, (_, k) => 60_000 + i * 100 + k);
      await postJson(`${sim.url}/v1/completions`, { model: MODEL, prompt: fresh, max_tokens: 1 });
    }
    const all = await replay(sim.kvReplayEndpoint!, 0n, true);
    expect(all.length).toBe(3);
    expect(all.map((b) => b.seq)).toEqual([3n, 4n, 5n]);
  });
});
