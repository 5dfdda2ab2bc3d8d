import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../repo.ts";

/**
 * `inferd bench <name> [flags]`: each benchmark lives beside what it measures and runs as its own
 * process (the CLI never imports services); this table is the one list of them.
 */
export const BENCHMARKS: Record<string, { entry: string; what: string }> = {
  routing: {
    entry: "test/bench/routing/main.ts",
    what: "routing policies compared on one trace: SLO capacity, TTFT/ITL, cache hits",
  },
  autoscale: {
    entry: "test/bench/autoscale/main.ts",
    what: "autoscaling policies on a simulated fleet in virtual time: SLO attainment vs replica-hours",
  },
  sim: {
    entry: "services/model-sim/bench/sim-bench.ts",
    what: "simulator: engine CPU per step, concurrent streams, fleet CPU",
  },
  gateway: {
    entry: "services/gateway/bench/gateway-bench.ts",
    what: "gateway: added latency, max req/s, 500 concurrent streams",
  },
  scorer: {
    entry: "services/scorer/bench/pick-latency.ts",
    what: "scorer: pick latency and CPU with 100 endpoints, index replica or kv-index (memory/Redis) lookups",
  },
  "kv-ingest": {
    entry: "services/kv-index/bench/ingest.ts",
    what: "kv-index: ZeroMQ -> NATS -> Redis ingest, blocks/s",
  },
  "kv-lookup": {
    entry: "services/kv-index/bench/lookup.ts",
    what: "kv-index: lookup latency for an 8k-token prompt over 64 pods",
  },
  tokenizer: {
    entry: "packages/kv-blocks/bench/tokenizer.bench.ts",
    what: "tokenizer: 8k-token prompt with and without the prefix cache",
  },
  "scorer-tokenize": {
    entry: "services/scorer/bench/tokenize.bench.ts",
    what: "scorer: tokenisation per pick (worker thread vs inline), warm 6000-token prefix and cold",
  },
  "scorer-lifecycle": {
    entry: "services/scorer/bench/lifecycle-consume.bench.ts",
    what: "scorer: CPU per request lifecycle event consumed from <PREFIX>_REQUESTS (real nats-server)",
  },
  "scorer-replica": {
    entry: "services/scorer/bench/replica-consume.bench.ts",
    what: "scorer: CPU per KV event batch applied by the index replica from INFERD_KV_EVENTS (real nats-server)",
  },
  idle: {
    entry: "test/bench/routing/idle-cpu.ts",
    what: "CPU per second of every process of an idle inferd up stack (the per-second, not per-request, cost)",
  },
  "gateway-stream": {
    entry: "services/gateway/bench/stream-observe.bench.ts",
    what: "gateway: CPU per streamed chunk of SSE framing, first-token/ITL/usage observation",
  },
  "gateway-cpu": {
    entry: "services/gateway/bench/stream-cpu.bench.ts",
    what: "gateway: CPU per streamed request and per token (real gateway, paced SSE upstream, events on NATS)",
  },
  hash: {
    entry: "packages/kv-blocks/bench/hash.bench.ts",
    what: "block hashing: vLLM engine hashes and inferd request keys",
  },
  codec: { entry: "packages/kv-blocks/bench/codec.bench.ts", what: "KV-event msgpack decode/encode" },
  chaos: {
    entry: "test/bench/chaos/main.ts",
    what: "kill -9 each part under load through inferd up: failed requests, recovery times; --cluster: NATS cluster + Redis Cluster, KV events and decisions lost",
  },
  fuzz: {
    entry: "test/bench/fuzz/main.ts",
    what: "fuzz suites, long form: ZeroMQ, HTTP, NATS subjects, config files (inputs x --scale)",
  },
};

export function benchHelp(): string {
  const width = Math.max(...Object.keys(BENCHMARKS).map((n) => n.length));
  const rows = Object.entries(BENCHMARKS).map(([n, b]) => `  bench ${n.padEnd(width)}  ${b.what}`);
  return `inferd bench <name> [flags]   (flags go to the benchmark; --help for its own)\n\n${rows.join("\n")}\n`;
}

export function runBench(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    process.stderr.write(`${name ? `inferd bench: unknown benchmark "${name}"\n\n` : ""}${benchHelp()}`);
    return Promise.resolve(2);
  }
  const entry = join(repoRoot(), bench.entry);
  if (!existsSync(entry)) {
    process.stderr.write(`inferd bench: ${bench.entry} is missing from this checkout\n`);
    return Promise.resolve(1);
  }
  const child = spawn(process.execPath, [entry, ...rest], { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  return new Promise((resolve) => {
    child.once("exit", (code) => {
      process.off("SIGINT", forward);
      resolve(code ?? 1);
    });
  });
}
