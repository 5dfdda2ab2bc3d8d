import { parseArgs } from "node:util";
import { POLICY_NAMES, type PolicyName } from "./policies.ts";
import { TRACE_NAMES, type TraceName } from "./traces.ts";

export const HELP = `inferd bench autoscale [options]   autoscaling policies on a simulated fleet, in virtual time

  --quick              small fleet (peak 16 req/s), traces scaled to a fifth: about a minute of CPU per trace
  --traces LIST        ${TRACE_NAMES.join(",")} (default all)
  --policies LIST      ${POLICY_NAMES.join(",")} (default all)
  --startup S          replica start-up delay, s (default 60)
  --sweep LIST         also run the burst trace at these start-up delays (default 10,30,120,300 in a
                       full run, none with --quick; "none" to skip)
  --peak RPS           peak arrival rate (default 40, 16 with --quick)
  --profile NAME       model-sim latency profile (default qwen3-32b-h100-tp2)
  --seed N             trace and engine seed (default 1)
  --json FILE          write {"traces": {"<trace>": {"<policy>": {...}}}}
  --html FILE          write the HTML report (replicas, load and TTFT p90 over time)
  --live               instead: one run on real processes in wall-clock time (nats-server, gateway,
                       autoscaler, a test actuator starting model-sim servers; about 5 minutes;
                       --startup defaults to 20 s there)
`;

export interface BenchArgs {
  quick: boolean;
  traces: TraceName[];
  policies: PolicyName[];
  startup: number;
  sweep: number[];
  peak: number;
  profile: string;
  seed: number;
  json: string | undefined;
  html: string | undefined;
  help: boolean;
  live: boolean;
  startupGiven: boolean;
}

function listOf<T extends string>(text: string, known: readonly T[], flag: string): T[] {
  const xs = text.split(",").map((s) => s.trim());
  const bad = xs.filter((x) => !(known as readonly string[]).includes(x));
  if (bad.length) throw new Error(`${flag}: unknown ${bad.join(", ")} (known: ${known.join(", ")})`);
  return xs as T[];
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: must be a number >= 0, got "${text}"`);
  return n;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      traces: { type: "string" },
      policies: { type: "string" },
      startup: { type: "string", default: "60" },
      sweep: { type: "string" },
      peak: { type: "string" },
      profile: { type: "string", default: "qwen3-32b-h100-tp2" },
      seed: { type: "string", default: "1" },
      json: { type: "string" },
      html: { type: "string" },
      help: { type: "boolean", default: false },
      live: { type: "boolean", default: false },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const sweepText = values.sweep ?? (quick ? "none" : "10,30,120,300");
  return {
    quick,
    traces: values.traces ? listOf(values.traces, TRACE_NAMES, "--traces") : [...TRACE_NAMES],
    policies: values.policies ? listOf(values.policies, POLICY_NAMES, "--policies") : [...POLICY_NAMES],
    startup: positive(values.startup, "--startup"),
    sweep: sweepText === "none" ? [] : sweepText.split(",").map((s) => positive(s, "--sweep")),
    peak: values.peak ? positive(values.peak, "--peak") : quick ? 16 : 40,
    profile: values.profile,
    seed: positive(values.seed, "--seed"),
    json: values.json,
    html: values.html,
    help: values.help === true,
    live: values.live === true,
    startupGiven: argv.some((a) => a === "--startup" || a.startsWith("--startup=")),
  };
}
