/**
 * Gateway CPU per streamed request, measured from /proc (issue 16, lean hot path): the real
 * gateway (its main.ts, static endpoint, local picks, lifecycle events published to a real
 * nats-server with JetStream) in front of a paced SSE upstream (`sse-upstream.ts`, one network
 * write per token). `--concurrency` streams at a time, `--requests` in all, each `--tokens` long
 * and asking for usage; every stream must end with [DONE] and carry all its tokens. Prints the
 * gateway's CPU per request and per token; asserts nothing.
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
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const TOKENS = Number(args.tokens);
const MODEL = "Qwen/Qwen3-32B";

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
  let n = 0;
  const one = async (i: number) => {
    const res = await pool.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        max_tokens: TOKENS,
        messages: [{ role: "user", content: `${i} ${prompt}` }],
      }),
    });
    const text = await res.body.text();
    const tokens = text.split('"content":" tok"').length - 1;
    if (res.statusCode !== 200 || !text.endsWith("data: [DONE]\n\n") || tokens !== TOKENS)
      throw new Error(`request ${i}: status ${res.statusCode}, ${tokens} tokens: ${text.slice(0, 200)}`);
  };
  const run = async (count: number) => {
    n = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (n < count) await one(n++);
      }),
    );
  };
  await run(CONCURRENCY * 2); // warm-up: JIT, connections
  const cpu0 = cpuSeconds(gw.child.pid!);
  const t0 = performance.now();
  await run(REQUESTS);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(gw.child.pid!);
  const user = cpu1.user - cpu0.user;
  const cpu = user + cpu1.system - cpu0.system;
  await pool.close();
  process.stdout.write(
    `${REQUESTS} streams x ${TOKENS} tokens, ${CONCURRENCY} at a time, ${args["itl-ms"]} ms apart: gateway CPU ` +
      `${((1000 * cpu) / REQUESTS).toFixed(2)} ms per request (${((100 * user) / cpu).toFixed(0)} % user), ${((1e6 * cpu) / REQUESTS / TOKENS).toFixed(1)} us per token ` +
      `(${(cpu / wall).toFixed(2)} cores over ${wall.toFixed(1)} s); load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}\n`,
  );
} finally {
  await Promise.all(children.map((c) => c.stop(2_000)));
  await nats.dispose();
}
