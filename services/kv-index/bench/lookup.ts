/**
 * Lookup benchmark: an 8k-token prompt (512 blocks of 16) against P pods x B blocks each
 * (default 64 x 50 000), on the Redis and the in-memory backends. Prints p50/p99 lookup latency
 * (request-key hashing + index, tokenization excluded), tokenization time of the prompt with and
 * without the prefix cache, and Redis memory per indexed block. Writes bench/results/lookup.json.
 *
 * Then splits the Redis lookup's tail into its parts (lookup-tail.ts).
 *
 *   node --expose-gc services/kv-index/bench/lookup.ts [--pods 64] [--blocks 50000] [--lookups 2000]
 *     [--only all|redis] [--socket tcp|unix] [--out lookup.json (relative to bench/results, or an absolute path)]
 *
 * `--only redis` skips the in-memory index, the NATS round trip and tokenization (a quicker A/B of
 * the Redis lookup); `--socket unix` connects to redis-server over a unix socket instead of loopback TCP.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BlockIndex, InMemoryBlockIndex, RedisBlockIndex } from "@inferd/block-index";
import { connectNats, serviceClient } from "@inferd/bus";
import { loadTokenizer, requestKeys } from "@inferd/kv-blocks";
import { KvLookupRequestSchema, KvLookupResponseSchema, make, subjects } from "@inferd/protocol";
import { createLogger } from "@inferd/service-kit";
import { startNats, startRedis } from "@inferd/testkit";
import { tokenizerSourcesOf } from "@inferd/tokenizers";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { PrefixLookup } from "../src/lookup/lookup.ts";
import { serveLookup } from "../src/lookup/nats-service.ts";
import { LookupTokenizers } from "../src/lookup/tokenizers.ts";
import { KvIndexMetrics } from "../src/metrics.ts";
import { lookupTail } from "./lookup-tail.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "64" },
    blocks: { type: "string", default: "50000" },
    lookups: { type: "string", default: "2000" },
    only: { type: "string", default: "all" },
    socket: { type: "string", default: "tcp" },
    out: { type: "string", default: "lookup.json" },
  },
});
const ONLY_REDIS = values.only === "redis";
const UNIX = values.socket === "unix";
const PODS = Number(values.pods);
const BLOCKS = Number(values.blocks);
const LOOKUPS = Number(values.lookups);
const MODEL = "Qwen/Qwen3-32B";
const BS = 16;
const PROMPT_BLOCKS = 512;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(42);
const rand64 = () => (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));

const promptTokens = Array.from({ length: PROMPT_BLOCKS * BS }, () => 1 + Math.floor(rand() * 150_000));
const promptKeys = requestKeys(MODEL, promptTokens, { blockSize: BS });
// kv-index's default tokenizer (the lookups below send token ids, so it is never asked).
const qwen3 = new LookupTokenizers(tokenizerSourcesOf({ tokenizer: "qwen3", tokenizerSources: {} }), {
  serverTimeoutMs: 1_000,
});

/** Pod i holds the first (i * 8) % 513 prompt blocks, the rest of its B blocks are unrelated. */
async function fill(index: BlockIndex) {
  const t0 = performance.now();
  const chunk = 5_000;
  for (let p = 0; p < PODS; p++) {
    const pod = `pod-${p}`;
    const held = (p * 8) % (PROMPT_BLOCKS + 1);
    const keys: bigint[] = promptKeys.slice(0, held);
    while (keys.length < BLOCKS) keys.push(rand64());
    for (let i = 0; i < keys.length; i += chunk) {
      const rks = keys.slice(i, i + chunk);
      const eks = rks.map(() => rand64());
      await index.apply(MODEL, pod, [{ kind: "add", tier: "gpu", engineKeys: eks, requestKeys: rks }]);
    }
  }
  return (performance.now() - t0) / 1000;
}

function pct(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Collects the fill's garbage first when run with --expose-gc, so it does not land in the tail. */
function settle() {
  (globalThis as { gc?: () => void }).gc?.();
}

async function measure(index: BlockIndex) {
  settle();
  const lookup = new PrefixLookup(index, { blockSize: BS, tokenize: qwen3.tokenize });
  const req = make(KvLookupRequestSchema, {
    model: MODEL,
    prompt: { case: "tokens", value: { ids: promptTokens } },
  });
  for (let i = 0; i < 200; i++) await lookup.lookup(req); // warm-up
  const times: number[] = [];
  let matched = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const t = performance.now();
    const { response } = await lookup.lookup(req);
    times.push(performance.now() - t);
    matched = response.pods.length;
  }
  times.sort((a, b) => a - b);
  // The two halves apart: request-key hashing of the prompt, and the index query.
  const u32 = Uint32Array.from(promptTokens);
  const hashing: number[] = [];
  const query: number[] = [];
  for (let i = 0; i < Math.min(LOOKUPS, 1000); i++) {
    let t = performance.now();
    const keys = requestKeys(MODEL, u32, { blockSize: BS });
    hashing.push(performance.now() - t);
    t = performance.now();
    await index.lookup(MODEL, keys);
    query.push(performance.now() - t);
  }
  hashing.sort((a, b) => a - b);
  query.sort((a, b) => a - b);
  return {
    p50Ms: pct(times, 0.5),
    p90Ms: pct(times, 0.9),
    p99Ms: pct(times, 0.99),
    podsMatched: matched,
    hashingP50Ms: pct(hashing, 0.5),
    hashingP99Ms: pct(hashing, 0.99),
    indexP50Ms: pct(query, 0.5),
    indexP99Ms: pct(query, 0.99),
  };
}

/** The scorer's path: inferd.v1.kv.lookup over NATS (protobuf), token ids given. */
async function overNats(index: BlockIndex) {
  const nats = await startNats({ jetstream: false });
  const server = await connectNats({ servers: nats.url, name: "bench-server" });
  const client = await connectNats({ servers: nats.url, name: "bench-client" });
  try {
    const registry = new Registry();
    const lookup = new PrefixLookup(index, { blockSize: BS, tokenize: qwen3.tokenize });
    const logger = createLogger({ service: "bench", level: "silent" });
    await serveLookup(server, lookup, {
      logger,
      metrics: new KvIndexMetrics(registry),
      subjects: subjects(),
      parts: ["lookup"],
    });
    const call = serviceClient(client, subjects().kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
    const req = make(KvLookupRequestSchema, {
      model: MODEL,
      prompt: { case: "tokens", value: { ids: promptTokens } },
    });
    for (let i = 0; i < 200; i++) await call.call(req);
    const times: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const t = performance.now();
      await call.call(req);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { p50Ms: pct(times, 0.5), p90Ms: pct(times, 0.9), p99Ms: pct(times, 0.99) };
  } finally {
    await client.close();
    await server.close();
    await nats.dispose();
  }
}

async function tokenization() {
  const tokenizer = await loadTokenizer(MODEL, {});
  // A ~8k-token chat: a long shared system prompt and a short user turn, as a scorer sees it.
  const words = Array.from({ length: 1700 }, (_, i) => `word${(i * 7919) % 3001}`).join(" ");
  const system = `You are a helpful assistant. Reference material follows.\n${words}`;
  const messages = (q: number) => [
    { role: "system", content: system },
    { role: "user", content: `Question ${q}: summarise section ${q % 17}.` },
  ];
  const direct: number[] = [];
  const cached: number[] = [];
  let tokens = 0;
  for (let i = 0; i < 12; i++) {
    const text = tokenizer.applyChatTemplate(messages(i), { addGenerationPrompt: true });
    let t = performance.now();
    tokens = tokenizer.encodeDirect(text).length;
    direct.push(performance.now() - t);
    t = performance.now();
    tokenizer.encode(text);
    cached.push(performance.now() - t);
  }
  // Call 0 of the cached path filled the cache; later ones hit it.
  direct.sort((a, b) => a - b);
  const warm = cached.slice(1).sort((a, b) => a - b);
  return {
    promptTokens: tokens,
    withoutCacheP50Ms: pct(direct, 0.5),
    withCacheFirstMs: cached[0]!,
    withCacheP50Ms: pct(warm, 0.5),
  };
}

const results: Record<string, unknown> = {
  workload: {
    pods: PODS,
    blocksPerPod: BLOCKS,
    promptBlocks: PROMPT_BLOCKS,
    blockSize: BS,
    lookups: LOOKUPS,
  },
};

results.loadavgStart = loadavg();
if (!ONLY_REDIS) {
  const mem = new InMemoryBlockIndex();
  settle();
  const heapBefore = process.memoryUsage().heapUsed;
  results.memoryFillSeconds = await fill(mem);
  settle();
  // Meaningful with --expose-gc only (garbage of the fill otherwise counts too).
  results.memoryHeapBytesPerBlock = (process.memoryUsage().heapUsed - heapBefore) / (PODS * BLOCKS);
  results.memory = await measure(mem);
  await mem.reset();
  settle();
  console.log("in-memory", results.memory);
}

const socketPath = join(mkdtempSync(join(tmpdir(), "inferd-lookup-")), "redis.sock");
// Extra arguments also make the testkit run the local binary, whose pid the tail split reads.
const server = await startRedis({ extraArgs: ["--unixsocket", socketPath, "--unixsocketperm", "700"] });
const target = UNIX ? socketPath : server.url;
const redis = new Redis(target);
try {
  const before = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);
  const client = new Redis(target, { connectionName: "bench-lookup" });
  const index = new RedisBlockIndex(client);
  results.redisFillSeconds = await fill(index);
  const after = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);
  results.redisBytesPerBlock = (after - before) / (PODS * BLOCKS);
  results.redisSocket = UNIX ? "unix" : "tcp";
  results.redis = await measure(index);
  console.log("redis", results.redis, "bytes/block", results.redisBytesPerBlock);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))![1]);
  const keys = requestKeys(MODEL, Uint32Array.from(promptTokens), { blockSize: BS });
  results.redisTail = await lookupTail({
    n: LOOKUPS,
    lookup: () => index.lookup(MODEL, keys),
    client,
    admin: redis,
    redisPid,
  });
  console.log("redis tail", results.redisTail);
  if (!ONLY_REDIS) {
    results.redisViaNats = await overNats(index);
    console.log("redis via NATS service", results.redisViaNats);
  }
  await index.close();
} finally {
  redis.disconnect();
  await server.dispose();
}
if (!ONLY_REDIS) {
  results.tokenization = await tokenization();
  console.log("tokenization", results.tokenization);
}
results.loadavgEnd = loadavg();
const dir = join(import.meta.dirname, "results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, values.out), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
