/**
 * Gateway CPU per streamed request, measured from /proc (issue 16, lean hot path): the real
 * gateway (its main.ts, static endpoint, local picks, lifecycle events published to a real
 * nats-server with JetStream) in front of a paced SSE upstream (`sse-upstream.ts`, one network
 * write per token). `--concurrency` streams at a time, `--requests` in all, each `--tokens` long
 * and asking for usage; every stream must end with [DONE] and carry all its tokens. Prints the
 * gateway's CPU per request and per token; then, one request at a time (60 through the gateway
 * and 60 straight to the upstream, alternated, 4 tokens each), the p50 and p90 latency the gateway adds
 * from the client to the upstream (the request fully arrived there) and to the first byte back.
 * Asserts nothing.
 *
 *   node services/gateway/bench/stream-cpu.bench.ts [--requests 400] [--concurrency 32]
 *        [--tokens 256] [--itl-ms 20] [--prompt-chars 24000] [--cpu-prof DIR]
 *
 * `--gateway FILE` runs another copy of the gateway's main.ts (a before/after comparison from the
 * same benchmark command). `--cpu-prof DIR` runs the gateway under `node --cpu-prof` and leaves its .cpuprofile in DIR
 * (`bench/profile-summary.ts` sums self time per function).
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { envName } from "@inferd/service-kit";
import { freePort, type ManagedProcess, startNats, startProcess, waitFor } from "@inferd/testkit";
import { Pool } from "undici";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "400" },
    concurrency: { type: "string", default: "32" },
    tokens: { type: "string", default: "256" },
    "itl-ms": { type: "string", default: "20" },
    "prompt-chars": { type: "string", default: "24000" },
    "cpu-prof": { type: "string" },
    gateway: { type: "string" },
    "latency-samples": { type: "string", default: "60" },
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const TOKENS = Number(args.tokens);
const MODEL = "Qwen/Qwen3-32B";
const LATENCY_SAMPLES = Number(args["latency-samples"]);

/** User and system CPU of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
}

const children: ManagedProcess[] = [];
const nats = await startNats();
try {
  const [upPort, gwPort] = [await freePort(), await freePort()];
  const up = startProcess({
    command: process.execPath,
    args: [join(import.meta.dirname, "sse-upstream.ts"), String(upPort), args["itl-ms"]!],
  });
  children.push(up);
  await waitFor(() => up.output().includes("listening"), { message: "upstream listening" });
  const gw = startProcess({
    command: process.execPath,
    args: [
      ...(args["cpu-prof"] !== undefined ? ["--cpu-prof", "--cpu-prof-dir", args["cpu-prof"]] : []),
      args.gateway ?? join(import.meta.dirname, "..", "src", "main.ts"),
    ],
    env: {
      ...process.env,
      [envName("gateway", "host")]: "127.0.0.1",
      [envName("gateway", "port")]: String(gwPort),
      [envName("gateway", "logLevel")]: "warn",
      [envName("gateway", "natsUrl")]: nats.url,
      [envName("gateway", "useScorer")]: "false",
      [envName("gateway", "endpoints")]: JSON.stringify([
        { model: MODEL, pod: "up-1", address: `http://127.0.0.1:${upPort}` },
      ]),
    },
  });
  children.push(gw);
  await waitFor(
    async () => {
      if (gw.child.exitCode !== null) throw new Error(`gateway exited: ${gw.output()}`);
      return (await fetch(`http://127.0.0.1:${gwPort}/readyz`)).ok;
    },
    { timeoutMs: 30_000, message: "gateway ready" },
  );
  const pool = new Pool(`http://127.0.0.1:${gwPort}`, { connections: CONCURRENCY * 2 });
  const prompt = "lorem ipsum ".repeat(Math.ceil(Number(args["prompt-chars"]) / 12));
  const direct = new Pool(`http://127.0.0.1:${upPort}`, { connections: CONCURRENCY * 2 });
  let n = 0;
  /** Per measured request: client send, arrival at the upstream, first byte back (epoch ms). */
  const timings = new Map<string, { sentAt: number; firstByteAt: number }>();
  const epochNow = () => performance.timeOrigin + performance.now();
  const one = async (to: Pool, id: string, i: number, tokens = TOKENS) => {
    const sentAt = epochNow();
    const res = await to.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json", "x-bench-id": id },
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        max_tokens: tokens,
        messages: [{ role: "user", content: `${i} ${prompt}` }],
      }),
    });
    let firstByteAt = 0;
    const chunks: Buffer[] = [];
    for await (const c of res.body) {
      if (firstByteAt === 0) firstByteAt = epochNow();
      chunks.push(c as Buffer);
    }
    timings.set(id, { sentAt, firstByteAt });
    const text = Buffer.concat(chunks).toString("utf8");
    const got = text.split('"content":" tok"').length - 1;
    if (res.statusCode !== 200 || !text.endsWith("data: [DONE]\n\n") || got !== tokens)
      throw new Error(`request ${i}: status ${res.statusCode}, ${got} tokens: ${text.slice(0, 200)}`);
  };
  const run = async (count: number, to = pool, tag = "w") => {
    n = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (n < count) {
          const i = n++;
          await one(to, `${tag}${i}`, i);
        }
      }),
    );
  };
  await run(CONCURRENCY * 2); // warm-up: JIT, connections
  const cpu0 = cpuSeconds(gw.child.pid!);
  const t0 = performance.now();
  await run(REQUESTS, pool, "m");
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(gw.child.pid!);
  // Latency the gateway adds, one request at a time (what a request meets at a low rate, no
  // queueing behind other requests): the same 4-token request through the gateway and straight
  // to the upstream, alternated, LATENCY_SAMPLES of each.
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    await one(pool, `g${i}`, REQUESTS + i, 4);
    await one(direct, `d${i}`, REQUESTS + i, 4);
  }
  await direct.close();
  const user = cpu1.user - cpu0.user;
  const cpu = user + cpu1.system - cpu0.system;
  await pool.close();
  const added = addedLatency(up.output(), timings);
  process.stdout.write(
    `${REQUESTS} streams x ${TOKENS} tokens, ${CONCURRENCY} at a time, ${args["itl-ms"]} ms apart: gateway CPU ` +
      `${((1000 * cpu) / REQUESTS).toFixed(2)} ms per request (${((100 * user) / cpu).toFixed(0)} % user), ${((1e6 * cpu) / REQUESTS / TOKENS).toFixed(1)} us per token ` +
      `(${(cpu / wall).toFixed(2)} cores over ${wall.toFixed(1)} s); load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}\n` +
      (["p50", "p90"] as const)
        .map(
          (q) =>
            `one at a time, ${q} client -> upstream (request fully arrived): ${added.via[q].toUp.toFixed(2)} ms via the gateway, ${added.direct[q].toUp.toFixed(2)} ms direct ` +
            `(added ${(added.via[q].toUp - added.direct[q].toUp).toFixed(2)} ms); ${q} to the first byte back: ${added.via[q].firstByte.toFixed(2)} ms via, ` +
            `${added.direct[q].firstByte.toFixed(2)} ms direct (added ${(added.via[q].firstByte - added.direct[q].firstByte).toFixed(2)} ms)\n`,
        )
        .join(""),
  );
} finally {
  await Promise.all(children.map((c) => c.stop(2_000)));
  await nats.dispose();
}

/** p50s and p90s of send -> arrival at the upstream and send -> first byte, via the gateway ("g") and direct ("d"). */
function addedLatency(
  upstreamOutput: string,
  timings: ReadonlyMap<string, { sentAt: number; firstByteAt: number }>,
) {
  const arrived = new Map<string, number>();
  for (const m of upstreamOutput.matchAll(/^recv (\S+) ([\d.]+)$/gm)) arrived.set(m[1]!, Number(m[2]));
  const at = (xs: number[], q: number) => xs.sort((a, b) => a - b)[Math.floor(xs.length * q)] ?? Number.NaN;
  const of = (tag: string) => {
    const toUp: number[] = [];
    const firstByte: number[] = [];
    for (const [id, t] of timings) {
      if (!id.startsWith(tag)) continue;
      const at = arrived.get(id);
      if (at !== undefined) toUp.push(at - t.sentAt);
      firstByte.push(t.firstByteAt - t.sentAt);
    }
    return {
      p50: { toUp: at(toUp, 0.5), firstByte: at(firstByte, 0.5) },
      p90: { toUp: at(toUp, 0.9), firstByte: at(firstByte, 0.9) },
    };
  };
  return { via: of("g"), direct: of("d") };
}
