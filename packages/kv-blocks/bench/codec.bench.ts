/**
 * KV-event codec throughput (run: node packages/kv-blocks/bench/codec.bench.ts).
 * Workload: batches of 8 BlockStored events x 4 blocks x 16 tokens (uint64 hashes) + 4 BlockRemoved,
 * in both event encodings; measures decode, decode + toProtoBatch, and encode.
 */
import { decodeKvEventBatch, type EncodableEvent, encodeKvEventBatch, toProtoBatch } from "../src/index.ts";

const rnd64 = () => BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 53)) * 2039n);
const events: EncodableEvent[] = [];
for (let e = 0; e < 8; e++) {
  events.push({
    type: "BlockStored",
    blockHashes: [rnd64(), rnd64(), rnd64(), rnd64()],
    parentBlockHash: rnd64(),
    tokenIds: Array.from({ length: 64 }, () => Math.floor(Math.random() * 151936)),
    blockSize: 16,
    medium: "GPU",
    groupIdx: 0,
    kvCacheSpecKind: "full_attention",
    extraKeys: [null, null, null, null],
  });
}
for (let e = 0; e < 4; e++) events.push({ type: "BlockRemoved", blockHashes: [rnd64()], medium: "GPU" });
const BLOCKS = 8 * 4 + 4;

function bench(name: string, fn: () => void): void {
  for (let i = 0; i < 500; i++) fn();
  const runs = 5000;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  const us = ((performance.now() - t0) * 1000) / runs;
  process.stdout.write(
    `${name.padEnd(34)} ${us.toFixed(1).padStart(7)} us/batch  ${((BLOCKS * 1e6) / us / 1000).toFixed(0).padStart(6)}k blocks/s\n`,
  );
}

for (const encoding of ["array", "map"] as const) {
  const payload = encodeKvEventBatch({ ts: Date.now() / 1000, events, dataParallelRank: 0 }, { encoding });
  process.stdout.write(`${encoding} payload: ${payload.length} bytes\n`);
  bench(`decode (${encoding})`, () => decodeKvEventBatch(payload));
  bench(`decode + toProtoBatch (${encoding})`, () =>
    toProtoBatch(decodeKvEventBatch(payload), { model: "m", pod: "p", seq: 1n }),
  );
  bench(`encode (${encoding})`, () =>
    encodeKvEventBatch({ ts: 1.5, events, dataParallelRank: 0 }, { encoding }),
  );
}
