/**
 * End-to-end ingest benchmark: ZeroMQ -> kv-index ingest -> JetStream -> indexer -> Redis.
 * A separate process (bench/publisher.ts) plays P engines; kv-index runs here (ingest + indexer,
 * Redis backend, SUB bound on a local port). Prints blocks per second applied to the index
 * (stored + removed), measured from the first batch sent until the index has caught up.
 * Writes bench/results/ingest.json.
 *
 *   node services/kv-index/bench/ingest.ts [--pods 8] [--seconds 10] [--blocks 16] [--rate 0]
 *     [--warmup 5]         seconds of the same load first, not measured (other engines' names), so
 *                          the figures are a running kv-index's, not V8 compiling a fresh one
 *     [--spread]           engines send independently, evenly spaced (default: one burst of every
 *                          engine per round, which ingest can publish in one write)
 *     [--publish-linger-ms N] [--indexer-linger-ms N]   kv-index's publishLingerMs / indexerLingerMs
 *                          (printed: batchesPerMessage, engine batches merged per stream message)
 *     [--cpu-prof <dir>]   V8 CPU profile of this process over the measured window only
 *     [--heap-prof <dir>]  sampling heap profile (bytes allocated by function) over the same window
 * Also prints the CPU the nats-server and redis-server it started used per batch (Linux /proc), and
 * the nats-server's messages and bytes in and out per batch (its monitoring `/varz`, all clients).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger, loadConfig } from "@inferd/service-kit";
import { freePort, startNats, startProcess, startRedis, waitFor } from "@inferd/testkit";
import { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { KV_INDEX_CONFIG } from "../src/config.ts";
import { startKvIndex } from "../src/service.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "8" },
    seconds: { type: "string", default: "10" },
    blocks: { type: "string", default: "16" },
    rate: { type: "string", default: "0" },
    backend: { type: "string", default: "redis" },
    // Run the indexer as its own process (ingest stays here): the two stages on two cores.
    split: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    // Sampling heap profile (what allocates) over the measured window.
    "heap-prof": { type: "string" },
    warmup: { type: "string", default: "5" },
    // Engines' batches evenly spaced in time (independent engines) instead of one burst per round.
    spread: { type: "boolean", default: false },
    // kv-index's publishLingerMs and indexerLingerMs (default: the config's defaults).
    "publish-linger-ms": { type: "string" },
    "indexer-linger-ms": { type: "string" },
  },
});

async function counter(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  return m ? (await m.get()).values.reduce((s, v) => s + v.value, 0) : 0;
}

/** CPU seconds (user + system) of a process, from /proc/<pid>/stat (clock ticks of 10 ms). */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * The pid of the local server binary listening on `port` (undefined in a container): nats-server
 * keeps its arguments, redis-server shows `redis-server 127.0.0.1:<port>` as its command line.
 */
function serverPid(binary: string, port: number): number | undefined {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv[0]?.includes(binary) && argv.some((a) => a === String(port) || a.endsWith(`:${port}`)))
        return Number(d);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** CPU seconds of this process's threads by thread name (main thread "node", ZeroMQ's I/O thread, GC helpers). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8")
        .trim()
        .replace(/[0-9]+$/, "");
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** nats-server's whole-server traffic counters (`/varz`): in = what clients sent it, out = what it sent them. */
async function natsTraffic(monitorUrl: string): Promise<Record<string, number>> {
  const v = (await (await fetch(`${monitorUrl}/varz`)).json()) as Record<string, number>;
  return { inMsgs: v.in_msgs!, outMsgs: v.out_msgs!, inBytes: v.in_bytes!, outBytes: v.out_bytes! };
}

/** redis-server's counters (`INFO stats`): commands run, reads from clients (~their socket writes), bytes in. */
async function redisTraffic(url: string): Promise<Record<string, number>> {
  const r = new Redis(url, { lazyConnect: true });
  try {
    await r.connect();
    const info = await r.info("stats");
    const num = (key: string) => Number(new RegExp(`^${key}:(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN);
    return {
      commands: num("total_commands_processed"),
      reads: num("total_reads_processed"),
      inBytes: num("total_net_input_bytes"),
    };
  } finally {
    r.disconnect();
  }
}

const [nats, redis] = await Promise.all([startNats(), startRedis()]);
const serverPids = {
  nats: serverPid("nats-server", nats.port),
  redis: serverPid("redis-server", redis.port),
};
const serverCpu = () =>
  Object.fromEntries(
    Object.entries(serverPids).map(([k, pid]) => [k, pid === undefined ? Number.NaN : procCpuSeconds(pid)]),
  );
const port = await freePort();
const config = loadConfig("kv-index", KV_INDEX_CONFIG, {
  env: {},
  overrides: {
    natsUrl: nats.url,
    redisUrl: redis.url,
    indexBackend: values.backend,
    zmqMode: "bind",
    zmqBindEndpoint: `tcp://127.0.0.1:${port}`,
    useInventory: false,
    httpPort: 0,
    logLevel: "warn",
    ...(values["publish-linger-ms"] ? { publishLingerMs: Number(values["publish-linger-ms"]) } : {}),
    ...(values["indexer-linger-ms"] ? { indexerLingerMs: Number(values["indexer-linger-ms"]) } : {}),
    ...(values.split ? { indexer: false, lookup: false } : {}),
  },
});
const kvi = await startKvIndex(config, createLogger({ service: "kv-index", level: "warn" }));
let indexedBlocks = () => counter(kvi.registry, "inferd_kv_indexer_blocks_total");
let indexerProc: ReturnType<typeof startProcess> | undefined;
if (values.split) {
  const httpPort = await freePort();
  indexerProc = startProcess({
    command: process.execPath,
    args: [join(import.meta.dirname, "../src/main.ts")],
    env: {
      ...process.env,
      INFERD_KV_INDEX_NATS_URL: nats.url,
      INFERD_KV_INDEX_REDIS_URL: redis.url,
      INFERD_KV_INDEX_INDEX_BACKEND: values.backend,
      INFERD_KV_INDEX_INGEST: "false",
      INFERD_KV_INDEX_LOOKUP: "false",
      INFERD_KV_INDEX_HTTP_PORT: String(httpPort),
      INFERD_KV_INDEX_LOG_LEVEL: "warn",
      ...(values["indexer-linger-ms"]
        ? { INFERD_KV_INDEX_INDEXER_LINGER_MS: values["indexer-linger-ms"] }
        : {}),
    },
  });
  indexedBlocks = async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split("\n"))
      if (line.startsWith("inferd_kv_indexer_blocks_total{")) sum += Number(line.split(" ").pop());
    return sum;
  };
  await waitFor(async () => (await indexedBlocks()) >= 0, {
    timeoutMs: 20_000,
    message: "indexer process up",
  });
}
/** Writes a V8 profile to `dir` (for Chrome DevTools or a script) and ends its session. */
function saveProfile(session: Session, profile: unknown, dir: string, ext: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `kv-ingest-${Date.now()}.${ext}`), JSON.stringify(profile));
  session.disconnect();
}

/** The load generator (bench/publisher.ts) for `seconds`, its engines named `<podPrefix>-<i>`. */
const startPublisher = (seconds: string, podPrefix: string) =>
  startProcess({
    command: process.execPath,
    args: [
      join(import.meta.dirname, "publisher.ts"),
      `tcp://127.0.0.1:${port}`,
      values.pods!,
      seconds,
      values.blocks!,
      values.rate!,
      podPrefix,
      values.spread ? "spread" : "burst",
    ],
  });
const results: Record<string, unknown> = { workload: { ...values, encoding: "array", tokensPerBlock: 16 } };
try {
  if (Number(values.warmup) > 0) {
    const warm = startPublisher(values.warmup!, "warmup");
    if ((await warm.exited) !== 0) throw new Error(`warm-up publisher failed: ${warm.output()}`);
    const w = JSON.parse(warm.output().trim().split("\n").pop()!);
    const want = w.blocksStored + w.blocksRemoved;
    await waitFor(async () => (await indexedBlocks()) >= want, {
      timeoutMs: 600_000,
      intervalMs: 100,
      message: "indexer to apply the warm-up",
    });
  }
  // Counters are cumulative: the measured run's figures are what it adds.
  const ingested0 = await counter(kvi.registry, "inferd_kv_ingest_blocks_total");
  const indexed0 = await indexedBlocks();
  let profiler: Session | undefined;
  if (values["cpu-prof"]) {
    profiler = new Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
  }
  let heapProfiler: Session | undefined;
  if (values["heap-prof"]) {
    heapProfiler = new Session();
    heapProfiler.connect();
    await heapProfiler.post("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const t0 = performance.now();
  const servers0 = serverCpu();
  const threads0 = threadCpu();
  // kv-index runs in this process: its CPU per batch is this process's CPU over the run.
  const cpu0 = process.cpuUsage();
  // kv-index's one NATS connection: its out is the server's in, and the other way round.
  const nats0 = kvi.nc.stats();
  const traffic0 = await natsTraffic(nats.monitorUrl);
  const redis0 = await redisTraffic(redis.url);
  const pub = startPublisher(values.seconds!, "bench");
  // When ingest (ZeroMQ -> JetStream) has seen every block, to tell the two stages apart.
  let ingestDoneAt = 0;
  const watch = setInterval(async () => {
    if (ingestDoneAt === 0 && pub.child.exitCode !== null) {
      const out = pub.output().trim().split("\n").pop();
      if (!out) return;
      const want = JSON.parse(out);
      if (
        (await counter(kvi.registry, "inferd_kv_ingest_blocks_total")) - ingested0 >=
        want.blocksStored + want.blocksRemoved
      )
        ingestDoneAt = performance.now();
    }
  }, 50);
  const code = await pub.exited;
  if (code !== 0) throw new Error(`publisher failed: ${pub.output()}`);
  const sent = JSON.parse(pub.output().trim().split("\n").pop()!);
  const expected = sent.blocksStored + sent.blocksRemoved;
  await waitFor(async () => (await indexedBlocks()) - indexed0 >= expected, {
    timeoutMs: 600_000,
    intervalMs: 100,
    message: "indexer to apply every block",
  });
  clearInterval(watch);
  const cpu = process.cpuUsage(cpu0);
  const nats1 = kvi.nc.stats();
  const traffic1 = await natsTraffic(nats.monitorUrl);
  const redis1 = await redisTraffic(redis.url);
  const servers1 = serverCpu();
  const threads1 = threadCpu();
  if (profiler)
    saveProfile(profiler, (await profiler.post("Profiler.stop")).profile, values["cpu-prof"]!, "cpuprofile");
  if (heapProfiler)
    saveProfile(
      heapProfiler,
      (await heapProfiler.post("HeapProfiler.stopSampling")).profile,
      values["heap-prof"]!,
      "heapprofile",
    );
  const seconds = (performance.now() - t0) / 1000 - 0.5; // the publisher's 0.5 s connection settle
  if (ingestDoneAt > 0) {
    const ingestSeconds = (ingestDoneAt - t0) / 1000 - 0.5;
    results.ingestStageSeconds = ingestSeconds;
    results.ingestStageBlocksPerSecond = expected / ingestSeconds;
  }
  const ingested = (await counter(kvi.registry, "inferd_kv_ingest_blocks_total")) - ingested0;
  results.sent = sent;
  results.publishRateBlocksPerSecond = expected / sent.seconds;
  results.endToEndSeconds = seconds;
  results.endToEndBlocksPerSecond = expected / seconds;
  results.ingestedBlocks = ingested;
  results.gaps = await counter(kvi.registry, "inferd_kv_ingest_gaps_total");
  // Whole kv-index (ingest + indexer; the indexer too unless --split) and this bench's polling.
  results.cpuMicrosPerBatch = (cpu.user + cpu.system) / sent.batches;
  results.cpuMicrosPerBlock = (cpu.user + cpu.system) / expected;
  // Per batch on kv-index's connection (publish, PubAck, delivery to the indexer, its acks);
  // a scorer replica's delivery adds one more outside this process.
  results.natsMsgsPerBatch = {
    toServer: (nats1.outMsgs - nats0.outMsgs) / sent.batches,
    fromServer: (nats1.inMsgs - nats0.inMsgs) / sent.batches,
  };
  // The whole server's traffic per batch (every client: kv-index, the bench's metric polls are
  // HTTP, not NATS). A scorer replica would add one delivery out (and its bytes) per batch.
  results.natsServerPerBatch = Object.fromEntries(
    Object.keys(traffic0).map((k) => [k, (traffic1[k]! - traffic0[k]!) / sent.batches]),
  );
  // Redis per batch (the index writes, the bench's INFO calls are 2 in all): reads ~ socket writes by kv-index.
  results.redisServerPerBatch = Object.fromEntries(
    Object.keys(redis0).map((k) => [k, (redis1[k]! - redis0[k]!) / sent.batches]),
  );
  // The servers' CPU over the same window (also their own background work, e.g. NATS's 1 s timers).
  results.serverCpuMicrosPerBatch = Object.fromEntries(
    Object.keys(servers0).map((k) => [k, ((servers1[k]! - servers0[k]!) * 1e6) / sent.batches]),
  );
  // Which threads of kv-index the CPU went to (the main thread, ZeroMQ's I/O thread, V8's helpers).
  results.threadCpuMicrosPerBatch = Object.fromEntries(
    Object.entries(threads1).map(([k, v]) => [
      k,
      Math.round(((v - (threads0[k] ?? 0)) * 1e6) / sent.batches),
    ]),
  );
  results.userSystemMicrosPerBatch = [cpu.user / sent.batches, cpu.system / sent.batches];
  // Deliveries the indexer took from this process's ingest without decoding them (cumulative).
  const handoffs = kvi.registry.getSingleMetric("inferd_kv_indexer_handoffs_total");
  if (handoffs)
    results.indexerHandoffs = Object.fromEntries(
      (await handoffs.get()).values.map((v) => [String(v.labels.result), v.value]),
    );
  // Engine batches per stream message (publishLingerMs merges an engine's batches; cumulative).
  const perMessage = kvi.registry.getSingleMetric("inferd_kv_ingest_batches_per_message");
  if (perMessage) {
    const v = (await perMessage.get()).values;
    const of = (suffix: string) =>
      v.find((x) => (x as { metricName?: string }).metricName?.endsWith(suffix))?.value ?? Number.NaN;
    results.batchesPerMessage = of("_sum") / of("_count");
  }
  results.loadAverage = loadavg();
  if (kvi.index) results.indexEntries = await kvi.index.size();
  console.log(JSON.stringify(results, null, 2));
  const dir = join(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(
      dir,
      `ingest-${values.backend}${values.split ? "-split" : ""}${values.spread ? "-spread" : ""}-${values.rate === "0" ? "burst" : `rate${values.rate}`}.json`,
    ),
    `${JSON.stringify(results, null, 2)}\n`,
  );
} finally {
  await indexerProc?.stop();
  await kvi.stop();
  await Promise.all([nats.dispose(), redis.dispose()]);
}
