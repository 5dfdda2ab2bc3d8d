/**
 * Load generator for bench/ingest.ts: P simulated engines publishing vLLM KV events (array
 * encoding, via @inferd/kv-blocks) over ZeroMQ PUB sockets connected to kv-index's bound SUB.
 * Each batch stores B new blocks (chained from the engine's previous block) and removes the B
 * blocks stored W batches earlier, so the index stays at a steady size. The blocks are stored as a
 * decode step stores them, one BlockStored per block (B sequences each filling one block): kv-index
 * ingest flushes a BlockStored of several blocks (a prefill) at once, and merges decode steps.
 *
 *   node bench/publisher.ts <endpoint> <pods> <seconds> <blocksPerBatch> [rateBlocksPerSecond] [podPrefix] [spread]
 * With `spread` (and a rate) the engines' batches are evenly spaced in time instead of sent as one
 * burst of every engine per round: independent engines, as in a real fleet.
 * Prints one JSON line: {batches, blocksStored, blocksRemoved, seconds}.
 */
import { encodeKvEventBatch, encodeSeq, formatTopic } from "@inferd/kv-blocks";
import { Publisher } from "zeromq";

const [endpoint, podsArg, secondsArg, blocksArg, rateArg, podPrefix, spreadArg] = process.argv.slice(2);
const SPREAD = spreadArg === "spread";
const PODS = Number(podsArg ?? 8);
const SECONDS = Number(secondsArg ?? 10);
const B = Number(blocksArg ?? 16);
const RATE = Number(rateArg ?? 0); // 0 = as fast as possible
const WINDOW = 64;
const MODEL = "Qwen/Qwen3-32B";

let x = 0x9e3779b97f4a7c15n;
const next64 = () => {
  x ^= x << 13n;
  x &= (1n << 64n) - 1n;
  x ^= x >> 7n;
  x ^= x << 17n;
  x &= (1n << 64n) - 1n;
  return x;
};

interface Engine {
  pub: Publisher;
  topic: string;
  seq: bigint;
  parent: bigint | null;
  history: bigint[][];
}

const engines: Engine[] = [];
for (let p = 0; p < PODS; p++) {
  const pub = new Publisher({ sendHighWaterMark: 1_000_000, linger: 1000 });
  pub.connect(endpoint!);
  engines.push({
    pub,
    topic: formatTopic(`${podPrefix ?? "bench"}-${p}`, MODEL),
    seq: 0n,
    parent: null,
    history: [],
  });
}
// Let the connections settle (ZeroMQ slow joiner); kv-index replays anything lost anyway.
await new Promise((r) => setTimeout(r, 500));

const tokens = Array.from({ length: 16 }, (_, i) => (i * 7919) % 150_000);
let batches = 0;
let stored = 0;
let removed = 0;
const start = performance.now();
const deadline = start + SECONDS * 1000;
while (performance.now() < deadline) {
  for (const e of engines) {
    const hashes = Array.from({ length: B }, next64);
    const events: Parameters<typeof encodeKvEventBatch>[0]["events"][number][] = hashes.map((h, i) => ({
      type: "BlockStored" as const,
      blockHashes: [h],
      parentBlockHash: i === 0 ? e.parent : hashes[i - 1]!,
      tokenIds: tokens,
      blockSize: 16,
      medium: "GPU",
    }));
    e.parent = hashes[B - 1]!;
    e.history.push(hashes);
    if (e.history.length > WINDOW) {
      const old = e.history.shift()!;
      events.push({ type: "BlockRemoved", blockHashes: old, medium: "GPU" });
      removed += old.length;
    }
    const payload = encodeKvEventBatch({ ts: Date.now() / 1000, events, dataParallelRank: 0 });
    await e.pub.send([e.topic, encodeSeq(e.seq++), payload]);
    batches++;
    stored += B;
    if (SPREAD && RATE > 0) {
      const due = start + ((stored + removed) / RATE) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
  }
  if (RATE > 0) {
    const due = start + ((stored + removed) / RATE) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  } else if (batches % 256 === 0) {
    await new Promise((r) => setImmediate(r));
  }
}
const seconds = (performance.now() - start) / 1000;
for (const e of engines) e.pub.close();
process.stdout.write(
  `${JSON.stringify({ batches, blocksStored: stored, blocksRemoved: removed, seconds })}\n`,
);
