/**
 * The routing tier's CPU with no requests (issue 16: the scorer's per-second cost): a fresh
 * `inferd up --ports auto` stack with N simulated servers, left idle, each process's CPU read
 * from /proc over a window (after a settle time for start-up work). Prints CPU ms per second per
 * process (the scorer's includes its tokenizer worker thread) and the load average; asserts nothing.
 * Extra service keys go in as environment variables (e.g. INFERD_SCORER_SCRAPE_QUIET_INTERVAL_MS=0).
 *
 *   node test/bench/routing/idle-cpu.ts [--sims 4] [--settle 15] [--seconds 30] [--scorer-mode nats|embedded]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { CpuMeter } from "./driver/cpu.ts";
import { Stack } from "./driver/stack.ts";

const { values: args } = parseArgs({
  options: {
    sims: { type: "string", default: "4" },
    settle: { type: "string", default: "15" },
    seconds: { type: "string", default: "30" },
    // embedded: the scorer runs inside the gateway (inferd up --scorer-mode embedded).
    "scorer-mode": { type: "string", default: "nats" },
  },
});
const scorerMode = args["scorer-mode"];
if (scorerMode !== "nats" && scorerMode !== "embedded")
  throw new Error(`--scorer-mode: nats or embedded, got "${scorerMode}"`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

const loadAtStart = load();
const stack = await Stack.start({
  sims: Number(args.sims),
  profile: "qwen3-32b-h100-tp2",
  model: "Qwen/Qwen3-32B",
  scorerProfile: null,
  scorerMode,
  readyTimeoutMs: 180_000,
});
try {
  await sleep(Number(args.settle));
  const meter = new CpuMeter(stack.info.pids ?? {});
  const a = meter.snapshot();
  await sleep(Number(args.seconds));
  const use = CpuMeter.between(a, meter.snapshot());
  const rows = Object.entries(use.componentSeconds ?? {})
    .filter(([name]) => name !== "load generator")
    .sort((x, y) => y[1] - x[1])
    .map(
      ([name, s]) =>
        `  ${name.padEnd(14)} ${((1000 * s) / Number(args.seconds)).toFixed(1).padStart(6)} ms/s`,
    );
  process.stdout.write(
    `idle stack (scorer ${scorerMode}), ${args.sims} simulated servers, CPU over ${args.seconds} s after ${args.settle} s ` +
      `(/proc, 10 ms ticks; load average at start ${loadAtStart}, at end ${load()}):\n${rows.join("\n")}\n`,
  );
} finally {
  await stack.stop();
}
