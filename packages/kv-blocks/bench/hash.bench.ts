/**
 * Micro-benchmark of block hashing (run: node packages/kv-blocks/bench/hash.bench.ts).
 * Workload: 8192-token prompt = 512 blocks of 16 tokens, random token ids < 151936.
 */
import { ENGINE_HASH_ALGOS, EngineBlockHasher, RequestKeyHasher } from "../src/index.ts";

const BLOCK = 16;
const tokens = Uint32Array.from({ length: 512 * BLOCK }, () => Math.floor(Math.random() * 151936));

function bench(name: string, blocksPerRun: number, run: () => void): void {
  for (let i = 0; i < 20; i++) run();
  const runs = 200;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) run();
  const ns = Number(process.hrtime.bigint() - t0) / runs;
  const perBlock = ns / blocksPerRun;
  process.stdout.write(
    `${name.padEnd(40)} ${(ns / 1000).toFixed(1).padStart(8)} us / 512 blocks  ${perBlock.toFixed(0).padStart(5)} ns/block  ${(1e9 / perBlock / 1000).toFixed(0).padStart(6)}k blocks/s\n`,
  );
}

const rk = new RequestKeyHasher("Qwen/Qwen3-32B");
bench("request keys (plain)", 512, () => rk.keys(tokens, { blockSize: BLOCK }));
bench("request keys (LoRA)", 512, () => rk.keys(tokens, { blockSize: BLOCK, loraName: "sql-lora" }));
bench("request keys (number[] input)", 512, () =>
  rk.keys(Array.from(tokens.subarray(0, 512 * BLOCK)), { blockSize: BLOCK }),
);
for (const algo of ENGINE_HASH_ALGOS) {
  const h = new EngineBlockHasher({ algo, seed: "0" });
  bench(`engine ${algo}`, 512, () => h.blockHashes(tokens, { blockSize: BLOCK }));
}
