/**
 * Records a latency trace for the scorer's learned latency model: one model-sim engine
 * (Qwen3-32B on 2×H100 profile, step-based vLLM-V1 scheduler, its own latency jitter), driven
 * on a virtual clock by a Poisson workload whose rate ramps 0.3 → 3.5 → 0.3 req/s, with shared
 * system prompts (prefix hits and misses) and a KV cache small enough to evict. For each request
 * it writes what a router knows when it routes (in-flight requests and their prompt tokens,
 * uncached prefill queued ahead, KV use, waiting requests, prompt and uncached tokens) and what
 * happened (TTFT, mean time per output token). Deterministic for a seed.
 *
 *   node test/bench/latency-trace/record.ts [--requests 3000] [--seed 7] > services/scorer/test/fixtures/latency-trace.jsonl
 */
import { createHash } from "node:crypto";
import { Engine, PROFILES, VirtualClock } from "@inferd/model-sim";

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const REQUESTS = Number(arg("requests", "3000"));
let seed = Number(arg("seed", "7"));
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const hasher = (parent: Uint8Array | null, tokens: readonly number[], extra: unknown) => {
  const h = createHash("sha256");
  h.update(parent ?? new Uint8Array(32));
  h.update(JSON.stringify([tokens, extra]));
  const digest = new Uint8Array(h.digest());
  return { digest, ext: Buffer.from(digest).readBigUInt64BE(24) };
};

const clock = new VirtualClock();
const engine = new Engine(
  {
    blockSize: 16,
    numGpuBlocks: 4000,
    maxNumSeqs: 64,
    maxNumBatchedTokens: 8192,
    maxModelLen: 32768,
    maxLoras: 0,
    profile: PROFILES["qwen3-32b-h100-tp2"]!,
    seed: 1,
  },
  clock,
  hasher as never,
);

const GROUPS = 24;
const systems = Array.from({ length: GROUPS }, (_, g) =>
  Array.from({ length: 800 + Math.floor(random() * 5200) }, (_, i) => 100_000 * (g + 1) + i),
);

interface Live {
  prompt: number;
  uncached: number;
  firstToken: boolean;
}
const live = new Map<string, Live>();
let t = 0;
let done = 0;
for (let i = 0; i < REQUESTS; i++) {
  const phase = i / REQUESTS;
  const rate = 0.3 + 3.2 * Math.sin(Math.PI * phase); // req/s
  t += (-Math.log(1 - random()) / rate) * 1000;
  clock.advanceTo(t);
  const g = Math.floor(random() ** 1.5 * GROUPS);
  const suffix = Array.from({ length: 50 + Math.floor(random() * 750) }, (_, k) => 1_000 * i + k + 7);
  const promptTokens = [...systems[g]!, ...suffix];
  const output = 20 + Math.floor(random() * 280);
  // The uncached part as a precise prefix index predicts it: the blocks of the system prompt
  // still in this server's cache (probed without touching the LRU), plus the suffix.
  let inflightTokens = 0;
  let queued = 0;
  for (const r of live.values()) {
    inflightTokens += r.prompt;
    if (!r.firstToken) queued += r.uncached;
  }
  const features = {
    inflightRequests: live.size,
    inflightTokens,
    queuedPrefillTokens: queued,
    kvUsage: engine.pool.usage(),
    waiting: engine.numWaiting,
    promptTokens: promptTokens.length,
  };
  const id = `r${i}`;
  const start = clock.now();
  let first = 0;
  let last = 0;
  let tokens = 0;
  const entry: Live = { prompt: promptTokens.length, uncached: promptTokens.length, firstToken: false };
  live.set(id, entry);
  const req = engine.add({
    id,
    promptTokens,
    outputTokens: Array.from({ length: output }, (_, k) => k + 1),
    finishReason: "length",
    listener: {
      onToken: (_tok, index, timeMs) => {
        if (index === 0) {
          first = timeMs;
          entry.firstToken = true;
        }
        last = timeMs;
        tokens++;
      },
      onFinish: () => {
        live.delete(id);
        const cached = Math.max(0, req.cachedTokens);
        process.stdout.write(
          `${JSON.stringify({
            ...features,
            uncachedTokens: promptTokens.length - cached,
            ttftMs: +(first - start).toFixed(2),
            tpotMs: tokens > 1 ? +((last - first) / (tokens - 1)).toFixed(3) : null,
          })}\n`,
        );
        done++;
      },
    },
  });
  // The router's view of the uncached part becomes exact once the engine has scheduled it.
  entry.uncached = promptTokens.length - Math.max(0, req.cachedTokens);
}
while (done < REQUESTS) {
  t += 1000;
  clock.advanceTo(t);
}
engine.stop();
