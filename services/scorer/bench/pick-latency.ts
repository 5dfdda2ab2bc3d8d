/**
 * Scorer pick latency with 100 endpoints and precise prefix lookups for ~8k-token prompts.
 *
 *   node services/scorer/bench/pick-latency.ts [--picks 2000] [--endpoints 100] [--mode replica|precise|approx]
 *     [--tokenize inline|ahead]
 *     [--index memory|redis] [--out report.json]
 *
 * Starts a real nats-server (JetStream) and a real kv-index process (in-memory index, no ZeroMQ
 * ingest), fills the index with KV events for 100 pods (20 shared 7k-token documents, each cached on
 * 5 pods), then runs the scorer's default policy in this process with its real NATS lookup client and
 * the Qwen3 tokenizer from @inferd/kv-blocks. Prompts are a document plus a unique ~1k-token question
 * (text), so every pick tokenises ~8k tokens (the document part from the tokenizer's prefix cache).
 *
 * Reports p50/p99 of: the whole pick; the pick without tokenisation; tokenisation; the kv-index round
 * trip; scheduling proper (filters + scorers + picker); the process's CPU time per pick with and
 * without tokenisation (process.cpuUsage around each pick and each tokenisation: on a busy shared
 * machine wall time includes waiting for a core, CPU time does not; process.threadCpuUsage is
 * tick-granular on Linux, too coarse per pick); and CPU time per pick of the whole run (the kv-index
 * process's CPU is reported separately from /proc).
 * `--index redis` gives kv-index a real redis-server and times direct lookups against it as well.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { createIndex } from "@inferd/block-index";
import { connectNats, ensureStream, jetstream, publishMessage } from "@inferd/bus";
import { loadTokenizer, requestKeyHasher } from "@inferd/kv-blocks";
import { encode, KvEventBatchSchema, make, PickResponseSchema, STREAMS, subjects } from "@inferd/protocol";
import { createLogger } from "@inferd/service-kit";
import { type RedisServerHandle, startNats, startProcess, startRedis, waitFor } from "@inferd/testkit";
import { Registry } from "prom-client";
import { pickResponseToMsg } from "../src/adapters/convert.ts";
import { startIndexReplica } from "../src/adapters/index-replica.ts";
import { natsKvLookup } from "../src/adapters/kv-lookup.ts";
import { createScorerCore } from "../src/core.ts";
import type { Plugin } from "../src/framework/plugin.ts";
import type { ExtensionPoint } from "../src/framework/scheduler.ts";
import type { Prompt } from "../src/framework/types.ts";

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const PICKS = Number(arg("picks", "2000"));
const ENDPOINTS = Number(arg("endpoints", "100"));
const OUT = arg("out", "");
/**
 * replica (default): the scorer's in-process index replica, fed from the stream (no network hop per pick);
 * precise: kv-index lookups over NATS; approx: no index, the scorer's own routing history.
 */
const MODE = arg("mode", "replica");
if (MODE !== "precise" && MODE !== "approx" && MODE !== "replica")
  throw new Error("--mode must be replica, precise or approx");
/** kv-index's index backend (precise mode): in memory, or a real redis-server. */
const INDEX = arg("index", "memory");
if (INDEX !== "memory" && INDEX !== "redis") throw new Error("--index must be memory or redis");
/**
 * inline: each pick tokenises its prompt in this thread (its garbage is collected during picks);
 * ahead: every prompt is tokenised before the picks (timed there) and the pick's tokenizer hands the
 * ids over, as the scorer's tokenizer worker thread does (its own heap): the pick then pays only for
 * its own work and garbage.
 */
const TOKENIZE = arg("tokenize", "inline");
if (TOKENIZE !== "inline" && TOKENIZE !== "ahead") throw new Error("--tokenize must be inline or ahead");
const WARMUP = Math.min(200, Math.floor(PICKS / 5));
const MODEL = "Qwen/Qwen3-32B";
const DOCS = 20;
const BLOCK = 16;

function words(seed: number, n: number): string {
  // Deterministic varied English-like text (tokenises at roughly 1 token per word).
  const vocab =
    "the of and to in is that for it as with was on be by this are from at or an which have not they but can one all were there more been has when would will who its their into also than other some what time only about these".split(
      " ",
    );
  let x = seed * 2654435761;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(i % 17 === 16 ? `${vocab[x % vocab.length]}.` : (vocab[x % vocab.length] ?? "x"));
  }
  return out.join(" ");
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** Pid of the running process whose command line has `name` and `arg` (e.g. redis-server and its port). */
function pidOf(name: string, arg: string): number | undefined {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes(name) && cmd.includes(arg)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function procCpuSeconds(pid: number): number {
  // utime + stime in clock ticks (fields 14, 15 of /proc/<pid>/stat), 100 ticks per second on Linux.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const loadAtStart = loadavg();
const nats = await startNats({ jetstream: true });
const redis: RedisServerHandle | undefined = INDEX === "redis" ? await startRedis() : undefined;
const kvIndex = startProcess({
  command: process.execPath,
  args: ["services/kv-index/src/main.ts"],
  env: {
    ...process.env,
    INFERD_KV_INDEX_NATS_URL: nats.url,
    INFERD_KV_INDEX_INGEST: "false",
    INFERD_KV_INDEX_INDEX_BACKEND: INDEX,
    ...(redis ? { INFERD_KV_INDEX_REDIS_URL: redis.url } : {}),
    INFERD_KV_INDEX_HTTP_PORT: "0",
    INFERD_KV_INDEX_USE_INVENTORY: "false",
    INFERD_KV_INDEX_LOG_LEVEL: "warn",
  },
});
const nc = await connectNats({ servers: nats.url, name: "bench" });
try {
  const tok = await loadTokenizer();
  const docs = Array.from({ length: DOCS }, (_, d) => words(d + 1, 7000));
  const docTokens = docs.map((d) => tok.encode(d));
  process.stdout.write(`documents: ${DOCS} x ~${docTokens[0]!.length} tokens\n`);

  // KV events: pod p caches document p % DOCS (full blocks), as vLLM would after serving it.
  await waitFor(() => kvIndex.child.exitCode === null, { message: "kv-index running" });
  const s = subjects();
  await waitFor(
    async () => {
      await ensureStream(nc, { name: STREAMS.kvEvents, subjects: [s.kvEventsAll()] });
      return true;
    },
    { timeoutMs: 20_000, message: "kv events stream" },
  );
  const js = jetstream(nc);
  const pods = Array.from({ length: ENDPOINTS }, (_, i) => `sim-${String(i).padStart(3, "0")}`);
  let engineHash = 1n;
  for (const [i, pod] of pods.entries()) {
    const tokens = docTokens[i % DOCS]!;
    const blocks = Math.floor(tokens.length / BLOCK);
    const hashes = Array.from({ length: blocks }, () => engineHash++);
    const batch = make(KvEventBatchSchema, {
      model: MODEL,
      pod,
      seq: 0n,
      tsSeconds: Date.now() / 1000,
      events: [
        {
          event: {
            case: "blockStored",
            value: {
              blockHashes: hashes,
              tokenIds: Array.from(tokens.subarray(0, blocks * BLOCK)),
              blockSize: BLOCK,
              tier: 1,
              medium: "GPU",
            },
          },
        },
      ],
    });
    await publishMessage(js, s.kvEvents(MODEL, pod), KvEventBatchSchema, batch);
  }

  (globalThis as { gc?: () => void }).gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const replica =
    MODE === "replica"
      ? startIndexReplica(nc, {
          prefix: "inferd",
          blockSize: BLOCK,
          maxBlocksPerEngine: 0,
          bootstrapFrom: undefined,
          logger: createLogger({ service: "bench", level: "warn" }),
          registry: new Registry(),
        })
      : undefined;
  const overNats = natsKvLookup(nc, { prefix: "inferd", timeoutMs: 2000 });
  const lookup: typeof overNats = replica
    ? async (q) => replica.lookup({ ...q, tokens: q.tokens ?? [] })
    : overNats;
  await waitFor(
    async () => {
      const a = await lookup({
        model: MODEL,
        lora: undefined,
        tokens: docTokens[DOCS - 1],
        prompt: { kind: "none" },
        candidatePods: pods,
        cacheSalt: "",
      });
      return a.pods.length >= Math.floor(ENDPOINTS / DOCS);
    },
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      message: `kv-index indexed the events (output: ${kvIndex.output().slice(-500)})`,
    },
  );

  let replicaMemory: { entries: number; bytesPerEntry: number } | undefined;
  if (replica) {
    await waitFor(() => replica.ready, { timeoutMs: 60_000, message: "index replica caught up" });
    (globalThis as { gc?: () => void }).gc?.();
    const entries = await replica.index.size();
    replicaMemory = {
      entries,
      bytesPerEntry: Math.round((process.memoryUsage().heapUsed - heapBefore) / entries),
    };
    process.stdout.write(
      `index replica: ${entries} (engine, block) entries, ~${replicaMemory.bytesPerEntry} bytes of heap per entry${(globalThis as { gc?: unknown }).gc ? "" : " (run with --expose-gc for a tighter figure)"}\n`,
    );
  }

  // Per-extension-point timings of the current pick.
  let tokenizeMs = 0;
  let lookupMs = 0;
  let scheduleMs = 0;
  const timer = (point: ExtensionPoint, plugin: Plugin, seconds: number) => {
    if (point === "producer" && plugin.type === "token-producer") tokenizeMs += seconds * 1000;
    else if (point === "producer") lookupMs += seconds * 1000;
    else if (point !== "observer") scheduleMs += seconds * 1000;
  };
  let lookupRttMs = 0;
  let tokenizeCpuMs = 0;
  const ahead = new Map<string, Uint32Array>();
  const core = createScorerCore({
    policy: { kind: "builtin", name: "default" },
    tokenizer: (_m, p: Prompt) => {
      if (p.kind !== "text") return undefined;
      const ready = ahead.get(p.text);
      if (ready) return ready;
      const c0 = cpuMs();
      const ids = tok.encode(p.text);
      tokenizeCpuMs += cpuMs() - c0;
      return ids;
    },
    ...(MODE !== "approx"
      ? {
          kvLookup: async (q: Parameters<typeof lookup>[0]) => {
            const t0 = performance.now();
            try {
              return await lookup(q);
            } finally {
              lookupRttMs += performance.now() - t0;
            }
          },
        }
      : {}),
    timer,
  });
  for (const pod of pods) {
    core.endpoints.upsert({
      model: MODEL,
      pod,
      address: `http://127.0.0.1:${8000 + pods.indexOf(pod)}`,
      role: "both",
      loraAdapters: [],
      ready: true,
      labels: {},
      blockSize: BLOCK,
      publishesKvEvents: true,
      maxLoras: 0,
    });
  }

  const prompts = Array.from(
    { length: PICKS + WARMUP },
    (_, i) => `${docs[i % DOCS]}\n\nQuestion ${i}: ${words(10_000 + i, 1000)}`,
  );
  const tokenizeAheadCpu: number[] = [];
  if (TOKENIZE === "ahead") {
    for (const [i, text] of prompts.entries()) {
      const c0 = cpuMs();
      ahead.set(text, tok.encode(text));
      if (i >= WARMUP) tokenizeAheadCpu.push(cpuMs() - c0);
    }
    (globalThis as { gc?: () => void }).gc?.();
  }
  const total: number[] = [];
  const noTok: number[] = [];
  const tokenize: number[] = [];
  const rtt: number[] = [];
  const sched: number[] = [];
  const own: number[] = [];
  const cpuPick: number[] = [];
  const cpuNoTok: number[] = [];
  const encodeFull: number[] = [];
  const encodeLean: number[] = [];
  let hits = 0;
  let promptTokens = 0;
  let cpu0 = process.cpuUsage();
  let kvCpu0 = procCpuSeconds(kvIndex.child.pid!);
  let wall0 = performance.now();
  for (let i = 0; i < prompts.length; i++) {
    if (i === WARMUP) {
      cpu0 = process.cpuUsage();
      kvCpu0 = procCpuSeconds(kvIndex.child.pid!);
      wall0 = performance.now();
    }
    tokenizeMs = lookupMs = scheduleMs = lookupRttMs = tokenizeCpuMs = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = await core.picks.pick({
      requestId: `b${i}`,
      model: MODEL,
      prompt: { kind: "text", text: prompts[i]! },
      sessionId: "",
      priority: 0,
      sloTtftMs: undefined,
      sloTpotMs: undefined,
      maxTokens: 0,
      excludePods: [],
      cacheSalt: "",
    });
    const ms = performance.now() - t0;
    const pickCpu = cpuMs() - c0;
    // Completed immediately so load does not build up across the run (we measure the picker, not a queue).
    core.applyEvent({
      requestId: `b${i}`,
      phase: "completed",
      baseModel: MODEL,
      endpoint: "",
      prefillEndpoint: "",
      sessionId: "",
      promptTokens: 0,
      cachedTokens: 0,
      ttftSeconds: 0,
      queueSeconds: 0,
    });
    if (i < WARMUP) continue;
    if (r.outcome !== "OK") throw new Error(`pick ${i}: ${r.outcome} ${r.message}`);
    total.push(ms);
    tokenize.push(tokenizeMs);
    noTok.push(ms - tokenizeMs);
    rtt.push(lookupRttMs);
    sched.push(scheduleMs);
    own.push(ms - tokenizeMs - lookupRttMs);
    cpuPick.push(pickCpu);
    // What the pick server adds: the PickResponse, with every candidate's scores (other callers)
    // and without them (the gateway sets omit_candidates).
    const e0 = cpuMs();
    encode(PickResponseSchema, pickResponseToMsg(r));
    const e1 = cpuMs();
    encode(PickResponseSchema, pickResponseToMsg(r, { omitCandidates: true }));
    encodeFull.push(e1 - e0);
    encodeLean.push(cpuMs() - e1);
    cpuNoTok.push(pickCpu - tokenizeCpuMs);
    promptTokens += r.promptTokens;
    if ((r.prefixHitRatio ?? 0) > 0.5) hits++;
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - wall0) / 1000;
  const kvCpu = procCpuSeconds(kvIndex.child.pid!) - kvCpu0;
  const row = (name: string, v: number[]) => ({
    name,
    p50_ms: +pct(v, 50).toFixed(3),
    p99_ms: +pct(v, 99).toFixed(3),
    mean_ms: +(v.reduce((a, b) => a + b, 0) / v.length).toFixed(3),
  });
  const report = {
    workload: {
      picks: PICKS,
      endpoints: ENDPOINTS,
      documents: DOCS,
      tokenize: TOKENIZE,
      meanPromptTokens: Math.round(promptTokens / PICKS),
      policy: "default (sticky until saturated)",
      lookup:
        MODE === "precise"
          ? `kv-index over NATS, ${INDEX === "redis" ? "Redis" : "in-memory"} index`
          : MODE === "replica"
            ? "in-process index replica (fed from INFERD_KV_EVENTS)"
            : "none: approximate (own routing history)",
    },
    latency: [
      row("pick (total)", total),
      row("pick without tokenisation", noTok),
      TOKENIZE === "ahead"
        ? row("tokenisation CPU, ahead of the picks (kv-blocks Qwen3, prefix cache)", tokenizeAheadCpu)
        : row("tokenisation (kv-blocks Qwen3, prefix cache)", tokenize),
      row(MODE === "replica" ? "prefix match (in-process replica)" : "kv-index lookup round trip", rtt),
      row("scheduling (filters+scorers+picker)", sched),
      row("scorer's own time (pick - tokenisation - lookup)", own),
      row("CPU per pick (process)", cpuPick),
      row("CPU per pick without tokenisation", cpuNoTok),
      row("CPU of PickResponse build+encode, all candidates", encodeFull),
      row("CPU of PickResponse build+encode, omit_candidates", encodeLean),
    ],
    loadAverage: { start: loadAtStart.map((x) => +x.toFixed(1)), end: loadavg().map((x) => +x.toFixed(1)) },
    cpu: {
      scorerMsPerPick: +((cpu.user + cpu.system) / 1000 / PICKS).toFixed(3),
      kvIndexMsPerPick: +((kvCpu * 1000) / PICKS).toFixed(3),
      picksPerSecondSequential: +(PICKS / wall).toFixed(1),
    },
    ...(replicaMemory ? { replicaMemory } : {}),
    picksOnHolder: `${((100 * hits) / PICKS).toFixed(1)}% of picks went to a pod holding >50% of the prompt`,
  };
  let redisLookup: ReturnType<typeof row> | undefined;
  if (redis) {
    // The Redis backend alone (what kv-index's lookup spends in Redis), from this process: each
    // prompt's request keys looked up directly, one after another.
    const index = createIndex({ backend: "redis", redisUrl: redis.url }, "read", 2000);
    const rk = requestKeyHasher(MODEL);
    // The read role queues nothing while connecting: wait until a lookup goes through.
    await waitFor(
      async () => {
        await index.lookup(MODEL, [1n]);
        return true;
      },
      { timeoutMs: 10_000, message: "Redis index reachable" },
    );
    const times: number[] = [];
    const redisPid = pidOf("redis-server", String(redis.port));
    const redisCpu0 = redisPid ? procCpuSeconds(redisPid) : Number.NaN;
    const lookups = Math.min(PICKS, 1000);
    for (let i = 0; i < lookups; i++) {
      const keys = rk.keys(tok.encode(prompts[i]!), { blockSize: BLOCK });
      const t0 = performance.now();
      await index.lookup(MODEL, keys);
      times.push(performance.now() - t0);
    }
    await index.close();
    redisLookup = row("Redis index lookup, direct (block-index RedisBlockIndex)", times);
    report.latency.push(redisLookup);
    // The server's own CPU per lookup: when it is far below the p99, the tail is time spent waiting
    // for a core (this process, redis-server), not Redis work.
    const redisCpuMs = redisPid ? ((procCpuSeconds(redisPid) - redisCpu0) * 1000) / lookups : Number.NaN;
    process.stdout.write(`redis-server CPU per direct lookup: ${redisCpuMs.toFixed(3)} ms\n`);
  }
  process.stdout.write(`${JSON.stringify(report.workload)}\n`);
  for (const r of report.latency)
    process.stdout.write(
      `${r.name.padEnd(48)} p50 ${r.p50_ms.toFixed(3)} ms  p99 ${r.p99_ms.toFixed(3)} ms  mean ${r.mean_ms.toFixed(3)} ms\n`,
    );
  process.stdout.write(
    `load average ${report.loadAverage.start.join(" ")} -> ${report.loadAverage.end.join(" ")}\n`,
  );
  process.stdout.write(
    `CPU per pick: scorer ${report.cpu.scorerMsPerPick} ms, kv-index ${report.cpu.kvIndexMsPerPick} ms; ${report.cpu.picksPerSecondSequential} picks/s sequential\n${report.picksOnHolder}\n`,
  );
  if (OUT) writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await nc.drain();
  await kvIndex.stop();
  await redis?.stop();
  await nats.stop();
}
