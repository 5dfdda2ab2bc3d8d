/**
 * Gateway benchmark (127.0.0.1 only). Starts model-sim, the gateway (its real main.ts, static
 * endpoint list, no NATS unless --nats) and, for the ceiling figure, a canned "null" upstream,
 * each as its own process, then measures:
 *   1. added latency: short non-streaming chat requests at --rate req/s sent in pairs, one
 *      straight to model-sim and one through the gateway at the same instant; p50/p99 of each
 *      and the difference;
 *   2. maximum non-streaming req/s through the gateway (closed loop, --concurrency clients),
 *      against model-sim and against the null upstream, with the direct figures beside them;
 *   3. --streams concurrent streams through the gateway; every stream must deliver exactly
 *      max_tokens token chunks, the usage chunk and [DONE] (no lost chunks).
 * Usage: node services/gateway/bench/gateway-bench.ts [--rate 200] [--latency-seconds 15]
 *        [--throughput-seconds 8] [--concurrency 64] [--streams 500] [--stream-tokens 32]
 *        [--nats] [--out bench-results/gateway-<time>.json]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { envName } from "@inferd/service-kit";
import { freePort, type ManagedProcess, startNats, startProcess, waitFor } from "@inferd/testkit";
import { Pool } from "undici";

const { values: args } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    "latency-seconds": { type: "string", default: "15" },
    "throughput-seconds": { type: "string", default: "8" },
    concurrency: { type: "string", default: "64" },
    streams: { type: "string", default: "500" },
    "stream-tokens": { type: "string", default: "32" },
    nats: { type: "boolean", default: false },
    // bench-results/ is git-ignored; curated reports are copied to bench/results/.
    out: {
      type: "string",
      default: join(
        import.meta.dirname,
        "..",
        "..",
        "..",
        "bench-results",
        `gateway-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
      ),
    },
  },
});
const RATE = Number(args.rate);
const LATENCY_S = Number(args["latency-seconds"]);
const THROUGHPUT_S = Number(args["throughput-seconds"]);
const CONCURRENCY = Number(args.concurrency);
const STREAMS = Number(args.streams);
const STREAM_TOKENS = Number(args["stream-tokens"]);
const MODEL = "Qwen/Qwen3-32B";
const ROOT = join(import.meta.dirname, "..", "..", "..");

const children: ManagedProcess[] = [];
let stopNats: (() => Promise<void>) | undefined;
async function cleanup(): Promise<void> {
  await Promise.all(children.map((c) => c.stop(2_000)));
  await stopNats?.();
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  healthUrl: string,
): Promise<void> {
  const proc = startProcess({ command: process.execPath, args, env: { ...process.env, ...env } });
  children.push(proc);
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.output()}`);
      return (await fetch(healthUrl)).ok;
    },
    { timeoutMs: 30_000, message: `${name} ready` },
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: +percentile(s, 50).toFixed(3),
    p90: +percentile(s, 90).toFixed(3),
    p99: +percentile(s, 99).toFixed(3),
    mean: +(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)).toFixed(3),
  };
}

const chatBody = (maxTokens: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Hello! What is a prefix cache, in one sentence?" }],
    max_tokens: maxTokens,
    ...extra,
  });

/** One non-streaming request; latency in ms, or throws on a non-200. */
async function timed(pool: Pool, body: string): Promise<number> {
  const t0 = performance.now();
  const res = await pool.request({
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

/**
 * `RATE` req/s straight to the upstream and `RATE` req/s through the gateway, interleaved (the
 * gateway request half an interval after the direct one, so the two do not compete for the
 * CPU at the same instant), for `LATENCY_S` seconds.
 */
async function addedLatency(direct: Pool, gateway: Pool, upstream: string) {
  const body = chatBody(4);
  // Warm both paths (connections, JIT).
  for (let i = 0; i < 200; i++) await Promise.all([timed(direct, body), timed(gateway, body)]);
  const d: number[] = [];
  const g: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const interval = 1000 / RATE;
  const start = performance.now();
  const total = Math.round(RATE * LATENCY_S);
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    let wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      timed(direct, body).then(
        (ms) => void d.push(ms),
        () => void errors++,
      ),
    );
    wait = due + interval / 2 - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      timed(gateway, body).then(
        (ms) => void g.push(ms),
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  const ds = summary(d);
  const gs = summary(g);
  return {
    workload: `chat, ~12-token prompt, max_tokens 4, non-streaming, upstream ${upstream}; ${RATE} req/s through the gateway and ${RATE} req/s direct, interleaved, ${LATENCY_S} s`,
    achievedRatePerPath: +(g.length / elapsed).toFixed(1),
    errors,
    directMs: ds,
    gatewayMs: gs,
    addedMs: {
      p50: +(gs.p50 - ds.p50).toFixed(3),
      p90: +(gs.p90 - ds.p90).toFixed(3),
      p99: +(gs.p99 - ds.p99).toFixed(3),
    },
  };
}

/** Mean and bucketed p50/p99 of the gateway's own pre-dispatch time, from its /metrics. */
async function internalOverhead(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets: [number, number][] = [];
  let sum = 0;
  let count = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("inferd_gateway_added_latency_seconds")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (line.includes("_bucket") && le !== undefined)
      buckets.push([le === "+Inf" ? Infinity : Number(le), value]);
    else if (line.includes("_sum")) sum += value;
    else if (line.includes("_count")) count += value;
  }
  const upper = (q: number) => buckets.find(([, c]) => c >= q * count)?.[0] ?? Number.NaN;
  return {
    requests: count,
    meanMs: +((sum / count) * 1000).toFixed(4),
    p50UpperBoundMs: upper(0.5) * 1000,
    p99UpperBoundMs: upper(0.99) * 1000,
  };
}

/** Closed loop: `CONCURRENCY` clients, each sending its next request when the last returns. */
async function maxRate(pool: Pool, body: string, seconds: number) {
  for (let i = 0; i < 200; i++) await timed(pool, body);
  let done = 0;
  let errors = 0;
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        lat.push(await timed(pool, body));
        done++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { reqPerSec: Math.round(done / elapsed), errors, latencyMs: summary(lat) };
}

/** `STREAMS` concurrent streams; checks every token chunk, the usage chunk and [DONE] arrived. */
async function concurrentStreams(gateway: Pool) {
  const body = chatBody(STREAM_TOKENS, { stream: true, stream_options: { include_usage: true } });
  let complete = 0;
  let lost = 0;
  let chunks = 0;
  const problems: string[] = [];
  const one = async (i: number) => {
    const res = await gateway.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    let text = "";
    for await (const c of res.body) text += (c as Buffer).toString("utf8");
    if (res.statusCode !== 200) {
      problems.push(`stream ${i}: status ${res.statusCode}`);
      return;
    }
    const events = text.split("\n\n").filter((e) => e.startsWith("data: "));
    let tokens = 0;
    let usageTokens = -1;
    for (const e of events) {
      const data = e.slice(6);
      if (data === "[DONE]") continue;
      const o = JSON.parse(data) as {
        choices: { delta?: { content?: string } }[];
        usage?: { completion_tokens: number } | null;
      };
      if (o.usage) usageTokens = o.usage.completion_tokens;
      if (o.choices[0]?.delta?.content) tokens++;
    }
    chunks += events.length;
    const done = events.at(-1) === "data: [DONE]";
    if (done && tokens === STREAM_TOKENS && usageTokens === STREAM_TOKENS) complete++;
    else {
      lost += Math.max(0, STREAM_TOKENS - tokens);
      if (problems.length < 5)
        problems.push(`stream ${i}: ${tokens} token chunks, usage ${usageTokens}, done ${done}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: STREAMS }, (_, i) => one(i)));
  return {
    workload: `${STREAMS} concurrent chat streams, max_tokens ${STREAM_TOKENS}, include_usage`,
    streams: STREAMS,
    complete,
    lostTokenChunks: lost,
    eventsReceived: chunks,
    wallSeconds: +((performance.now() - t0) / 1000).toFixed(2),
    problems,
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((l) => +l.toFixed(2));
  const simPort = await freePort();
  const nullPort = await freePort();
  const gwPort = await freePort();
  const gwNullPort = await freePort();
  let natsUrl = "";
  if (args.nats) {
    const nats = await startNats({ jetstream: true });
    natsUrl = nats.url;
    stopNats = () => nats.dispose();
  }
  log(
    `model-sim :${simPort}, null upstream :${nullPort}, gateway :${gwPort} (-> sim), gateway :${gwNullPort} (-> null)${natsUrl ? `, nats ${natsUrl}` : ""}`,
  );
  await startChild(
    "model-sim",
    [
      join(ROOT, "services/model-sim/src/main.ts"),
      "--port",
      String(simPort),
      "--profile",
      "tiny-fast",
      "--log-level",
      "warn",
    ],
    { PYTHONHASHSEED: "0" },
    `http://127.0.0.1:${simPort}/health`,
  );
  const nullUp = startProcess({
    command: process.execPath,
    args: [join(import.meta.dirname, "null-upstream.ts"), String(nullPort)],
  });
  children.push(nullUp);
  await waitFor(() => nullUp.output().includes("listening"), { message: "null upstream listening" });
  const gatewayEnv = (port: number, upstream: number) => ({
    [envName("gateway", "host")]: "127.0.0.1",
    [envName("gateway", "port")]: String(port),
    [envName("gateway", "logLevel")]: "warn",
    [envName("gateway", "natsUrl")]: natsUrl,
    [envName("gateway", "useScorer")]: "false",
    [envName("gateway", "endpoints")]: JSON.stringify([
      { model: MODEL, pod: `up-${upstream}`, address: `http://127.0.0.1:${upstream}` },
    ]),
  });
  const gwMain = join(ROOT, "services/gateway/src/main.ts");
  await startChild("gateway", [gwMain], gatewayEnv(gwPort, simPort), `http://127.0.0.1:${gwPort}/readyz`);
  await startChild(
    "gateway-null",
    [gwMain],
    gatewayEnv(gwNullPort, nullPort),
    `http://127.0.0.1:${gwNullPort}/readyz`,
  );

  const pool = (port: number) => new Pool(`http://127.0.0.1:${port}`, { connections: 1024, pipelining: 1 });
  const direct = pool(simPort);
  const gateway = pool(gwPort);
  const nullDirect = pool(nullPort);
  const gatewayNull = pool(gwNullPort);

  log(`\n1. added latency (${RATE} req/s, ${LATENCY_S} s), over model-sim, then over the null upstream...`);
  const latency = await addedLatency(direct, gateway, "model-sim (tiny-fast profile)");
  log(JSON.stringify(latency, null, 2));
  const latencyNull = await addedLatency(nullDirect, gatewayNull, "null (canned answer, no engine)");
  log(JSON.stringify(latencyNull, null, 2));

  const internal = await internalOverhead(gwPort);
  log(
    `gateway-side time before the upstream request is sent (inferd_gateway_added_latency_seconds): ${JSON.stringify(internal)}`,
  );

  log(`\n2. max non-streaming req/s (${CONCURRENCY} clients, ${THROUGHPUT_S} s each)...`);
  const body = chatBody(1);
  const throughput = {
    workload: `chat, max_tokens 1, non-streaming, closed loop with ${CONCURRENCY} concurrent clients, ${THROUGHPUT_S} s per figure`,
    viaGatewayToModelSim: await maxRate(gateway, body, THROUGHPUT_S),
    directToModelSim: await maxRate(direct, body, THROUGHPUT_S),
    viaGatewayToNullUpstream: await maxRate(gatewayNull, body, THROUGHPUT_S),
    directToNullUpstream: await maxRate(nullDirect, body, THROUGHPUT_S),
  };
  log(JSON.stringify(throughput, null, 2));

  log(`\n3. ${STREAMS} concurrent streams...`);
  const streams = await concurrentStreams(gateway);
  log(JSON.stringify(streams, null, 2));

  const report = {
    date: new Date().toISOString(),
    machine: `${cpus().length} CPUs (${cpus()[0]?.model}), node ${process.version}; shared with other work`,
    loadAverage: { before: loadBefore, after: loadavg().map((l) => +l.toFixed(2)), cpus: cpus().length },
    gatewayEvents: natsUrl ? "RequestEvents published to NATS" : "no NATS (static endpoints, no events)",
    latency,
    latencyNull,
    gatewayPreDispatchMs: internal,
    throughput,
    streams,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  log(`\nreport written to ${args.out}`);
  await Promise.all([direct, gateway, nullDirect, gatewayNull].map((p) => p.close()));
}

try {
  await main();
} finally {
  await cleanup();
}
