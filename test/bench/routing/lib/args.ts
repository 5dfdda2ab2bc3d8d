import { parseArgs } from "node:util";
import { ConfigError, importInferencePerf } from "./inference-perf.ts";
import {
  type ApiKind,
  type Arrivals,
  type BenchOptions,
  type Client,
  EXTRA_POLICIES,
  isPolicy,
  PEER_POLICIES,
  POLICIES,
  type Policy,
  PRESETS,
  PROFILE_KV_TOKENS,
  type Preset,
  type Stage,
  type WorkloadKind,
  type WorkloadSpec,
} from "./options.ts";

export const HELP = `node test/bench/routing/main.ts [options]   (inferd bench routing)

Compares routing policies on one pre-generated trace: each policy gets a fresh stack (inferd up) with
cold caches, a warm-up (excluded), then a ladder of Poisson rates. Reports TTFT/ITL/E2E percentiles,
tokens/s, success rate, the servers' prefix-cache hit rate, load imbalance and the SLO capacity.

Workload:
  --workload KIND            shared-prefix (default) | control (nothing shared) | multi-turn
  --preset kv-pressure       160 groups x 6000-token system prompts (prefixes = 78% of 4 servers' KV),
                             5 x 128-token questions, 256 output tokens, ladder 1,2,3,4 req/s per server
  --preset kv-eviction       the same with 240 groups (prefixes = 117% of 4 servers' KV: every server
                             must evict), ladder 2,3,4,5 req/s per server
  --num-groups N             prefix groups (default 140)
  --num-prompts-per-group N  questions (chat users) per group (default 5)
  --system-prompt-len N      shared system prompt tokens (default 6000)
  --question-len N           question tokens (default 128)
  --output-len N             generated tokens per request (default 256)
  --group-skew S             Zipf exponent of group popularity (default 0 = uniform)
  --turns N                  turns per chat session (multi-turn; default 6)
  --api chat|completion      OpenAI API used (default chat)
  --model NAME               model (default Qwen/Qwen3-32B)
  --config FILE              inference-perf YAML (data.type shared_prefix, load.type poisson|constant
                             with stages, api.type); flags given here override it
Load:
  --rates LIST               ladder in requests/s, e.g. 2,4,6 (default depends on --workload and --sims)
  --stage-duration S         seconds of arrivals per rate (default 30)
  --warmup-rate R            warm-up rate (default: the ladder's first rate); --no-warmup to skip
  --warmup-duration S        warm-up seconds (default: about one request per group, 10..120 s)
  --arrivals poisson|constant  arrival process (default poisson)
  --seed N                   trace seed (default 1)
  --seeds LIST               run the whole comparison once per seed (e.g. 1,2,3) and report per policy
                             the mean and min-max of SLO capacity, TTFT p90 and hit rate
  --stop-after-failures N    stop a policy's ladder after N consecutive SLO failures (default 1; 0 = never)
  --drain-timeout S          wait for in-flight requests between stages up to S seconds (default 60)
  --connections N            load generator connections per upstream (default 1024)
  --retries N                rerun a policy on a fresh stack when its stack dies mid-run (default 1)
  --pick-deadline-ms N|default  gateway deadline for a scorer pick (default 1000; "default" keeps the
                             gateway's 100 ms, which on a busy 2-core box turns event-loop stalls into 503s)
Cluster and policies:
  --policies LIST            of ${POLICIES.join(", ")} (default all six);
                             also rr-direct (round-robin straight to the servers, no gateway),
                             inferd-embedded (inferd with the scorer inside the gateway's process:
                             inferd up --scorer-mode embedded) and the peer routers ${PEER_POLICIES.join(", ")}
                             (each in front of the same fresh fleet; install once: ./scripts/install-peers.sh)
  --client builtin|inference-perf  who sends the ladder (default builtin); inference-perf gets a config
                             generated from these flags, its reports land beside the bench's
  --sims N                   simulated servers (default 4)
  --gateway-replicas N       gateway processes, requests spread round-robin over them (default 1)
  --scorer-replicas N        scorer processes sharing the pick queue group (default 1)
  --reset-prefix-cache-at S  reset every server's prefix cache S seconds into each measured stage
  --restart-server-at S      kill (SIGKILL) model servers S seconds into each measured stage; the
                             deployer restarts them with an empty KV cache (a different server per stage)
  --restart-servers K        servers killed per stage with --restart-server-at (default 1)
  --profile NAME             model-sim latency profile (default qwen3-32b-h100-tp2)
  --kv-tokens-per-server N   KV tokens per server, for the sizing line (default: the profile's)
SLO and output:
  --slo-ttft S               TTFT p90 limit in seconds (default 2)
  --slo-itl S                ITL p90 limit in seconds (default 0.05)
  --slo-success F            minimum success rate (default 0.99)
  --json FILE                machine-readable results
  --report FILE              HTML report with SVG latency-vs-rate plots (default bench-results/routing-<time>.html)
  --quick                    smoke test in about a minute: small workload, 2 short rates, policies
                             round-robin, inferd and oracle (unless --policies)
  --attach JSON              use a running stack (the JSON of its INFERD_UP_READY line) instead of a fresh
                             one per policy — debugging only: caches are not cold, the scorer profile is its own
  --merge A.json,B.json      no run: one table/JSON/HTML from earlier --json files of the same benchmark
                             (later files replace earlier ones per policy, e.g. a rerun policy)
  --matrix L=A.json,M=B.json no run: one Markdown table of scenarios (label = --json file of its run):
                             capacity, TTFT p50/p90 and success per rate, hit rate, routing CPU, ratios
                             inferd / approx-prefix and inferd / oracle, load average
  --help
`;

export class ArgsError extends Error {}

export interface ParsedArgs {
  readonly options: BenchOptions;
  readonly help: boolean;
  /** Non-fatal remarks (ignored inference-perf keys, adjusted defaults). */
  readonly warnings: readonly string[];
  /** --merge files: report from earlier --json outputs instead of running. */
  readonly merge: readonly string[];
  /** --matrix: labelled --json files for one scenario table instead of running. */
  readonly matrix: readonly { readonly label: string; readonly path: string }[];
}

function int(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new ArgsError(`--${name}: expected an integer >= ${min}, got "${v}"`);
  return n;
}

function num(name: string, v: string | undefined, min = 0, exclusive = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (exclusive ? n <= min : n < min))
    throw new ArgsError(`--${name}: expected a number ${exclusive ? ">" : ">="} ${min}, got "${v}"`);
  return n;
}

/** Default ladder per server count: light load to well past round-robin saturation (see README sizing). */
export function defaultRates(kind: WorkloadKind, sims: number, quick: boolean): number[] {
  if (quick) return [1 * sims, 3 * sims];
  // Requests/s per server. Shared prefix: round-robin saturates near 2/s per server (cold 6k-token
  // prefills stall decoding), prefix-affine placement near 4-5/s (decode-bound at 256 output tokens).
  // Control: every prefill is cold, so every policy saturates near round-robin's point.
  const perServer = kind === "control" ? [0.5, 1, 1.5, 2, 2.5, 3] : [1, 1.5, 2, 2.5, 3, 4, 5, 6];
  return perServer.map((r) => Math.round(r * sims * 100) / 100);
}

const QUICK_WORKLOAD: Omit<WorkloadSpec, "kind"> = {
  numGroups: 12,
  numPromptsPerGroup: 4,
  systemPromptLen: 2000,
  questionLen: 64,
  outputLen: 24,
  groupSkew: 0,
  turns: 3,
};

const DEFAULT_WORKLOAD: Omit<WorkloadSpec, "kind"> = {
  numGroups: 140,
  numPromptsPerGroup: 5,
  systemPromptLen: 6000,
  questionLen: 128,
  outputLen: 256,
  groupSkew: 0,
  turns: 6,
};

/**
 * Multi-turn sizes (README "Workloads"): 64 groups x 2 users = 128 conversations of 6 turns. A
 * user's next turn comes 128 requests later (8 s at 16 req/s, longer than one 256-token answer
 * up to ~16 req/s, so the load stays open-loop); fully grown, the conversations (6000 + 6 x 128 + 5 x 256
 * tokens) fill 53 % of 4 servers' KV, 2.1x one server. 140 x 5 users would send only first turns in
 * a run of a few hundred requests.
 */
const MULTI_TURN_WORKLOAD: Omit<WorkloadSpec, "kind"> = {
  ...DEFAULT_WORKLOAD,
  numGroups: 64,
  numPromptsPerGroup: 2,
};

/**
 * The KV-pressure workload of issue 15's first comparison: 160 groups x 6000-token system prompts,
 * i.e. 960k prefix tokens = 78% of 4 x qwen3-32b-h100-tp2 (1.23M KV tokens; 86% with the questions),
 * so prefix-affine placement has little slack before it must evict.
 */
const KV_PRESSURE_WORKLOAD: Omit<WorkloadSpec, "kind"> = { ...DEFAULT_WORKLOAD, numGroups: 160 };

/**
 * KV pressure with eviction (issue 16, "where precise routing must win"): 240 groups, i.e. 1.44M prefix
 * tokens = 117% of the same fleet's KV (124% with the questions). No placement keeps every prefix
 * cached, so servers evict all the time, and a router that believes its own routing history (approximate
 * prefix) keeps sending groups to servers that no longer hold them, where a router fed by the engines'
 * KV events sees what is really cached.
 */
const KV_EVICTION_WORKLOAD: Omit<WorkloadSpec, "kind"> = { ...DEFAULT_WORKLOAD, numGroups: 240 };

/** Each preset's workload and its ladder in requests/s per server (multiplied by --sims). */
const PRESET_SPECS: Record<
  Preset,
  { workload: Omit<WorkloadSpec, "kind">; ratesPerServer: readonly number[] }
> = {
  // 4, 8, 12, 16 with 4 servers, as issue 15's comparison.
  "kv-pressure": { workload: KV_PRESSURE_WORKLOAD, ratesPerServer: [1, 2, 3, 4] },
  // 8 ... 20 with 4 servers: the range where the default workload's policies reach their knees.
  "kv-eviction": { workload: KV_EVICTION_WORKLOAD, ratesPerServer: [2, 3, 4, 5] },
};

/** Parses the command line (and the inference-perf YAML it names, read through `readFile`). */
export function parseBenchArgs(argv: readonly string[], readFile: (path: string) => string): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        workload: { type: "string" },
        "num-groups": { type: "string" },
        "num-prompts-per-group": { type: "string" },
        "system-prompt-len": { type: "string" },
        "question-len": { type: "string" },
        "output-len": { type: "string" },
        "group-skew": { type: "string" },
        turns: { type: "string" },
        api: { type: "string" },
        model: { type: "string" },
        config: { type: "string" },
        rates: { type: "string" },
        "stage-duration": { type: "string" },
        "warmup-rate": { type: "string" },
        "warmup-duration": { type: "string" },
        "no-warmup": { type: "boolean" },
        arrivals: { type: "string" },
        seed: { type: "string" },
        "stop-after-failures": { type: "string" },
        "drain-timeout": { type: "string" },
        connections: { type: "string" },
        retries: { type: "string" },
        "pick-deadline-ms": { type: "string" },
        policies: { type: "string" },
        sims: { type: "string" },
        "gateway-replicas": { type: "string" },
        "scorer-replicas": { type: "string" },
        "reset-prefix-cache-at": { type: "string" },
        "restart-server-at": { type: "string" },
        "restart-servers": { type: "string" },
        seeds: { type: "string" },
        profile: { type: "string" },
        "kv-tokens-per-server": { type: "string" },
        "slo-ttft": { type: "string" },
        "slo-itl": { type: "string" },
        "slo-success": { type: "string" },
        json: { type: "string" },
        report: { type: "string" },
        quick: { type: "boolean" },
        preset: { type: "string" },
        client: { type: "string" },
        attach: { type: "string" },
        merge: { type: "string" },
        matrix: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new ArgsError((err as Error).message);
  }
  const s = (k: string) => values[k] as string | undefined;
  const warnings: string[] = [];
  const quick = values.quick === true;

  let imported: ReturnType<typeof importInferencePerf> | null = null;
  const configFile = s("config") ?? null;
  if (configFile !== null) {
    let text: string;
    try {
      text = readFile(configFile);
    } catch (err) {
      throw new ArgsError(`--config: cannot read ${configFile}: ${(err as Error).message}`);
    }
    try {
      imported = importInferencePerf(text);
    } catch (err) {
      if (err instanceof ConfigError) throw new ArgsError(`--config ${configFile}: ${err.message}`);
      throw err;
    }
    for (const k of imported.ignored) warnings.push(`--config: ignoring ${k}`);
  }

  let kind: WorkloadKind = imported?.workload.kind ?? "shared-prefix";
  const wk = s("workload");
  if (wk !== undefined) {
    if (wk !== "shared-prefix" && wk !== "control" && wk !== "multi-turn")
      throw new ArgsError(`--workload: expected shared-prefix, control or multi-turn, got "${wk}"`);
    kind = wk;
  }
  const turnsFlag = int("turns", s("turns"));
  if (turnsFlag !== undefined && turnsFlag > 1 && wk === undefined) kind = "multi-turn";
  const presetName = s("preset");
  if (presetName !== undefined && !(PRESETS as readonly string[]).includes(presetName))
    throw new ArgsError(`--preset: expected one of ${PRESETS.join(", ")}, got "${presetName}"`);
  const preset = (presetName ?? null) as Preset | null;
  if (preset !== null && kind !== "shared-prefix")
    throw new ArgsError(`--preset ${preset} is a shared-prefix workload`);
  const base =
    preset !== null
      ? PRESET_SPECS[preset].workload
      : quick
        ? QUICK_WORKLOAD
        : kind === "multi-turn"
          ? MULTI_TURN_WORKLOAD
          : DEFAULT_WORKLOAD;
  const iw = imported?.workload ?? {};
  const workload: WorkloadSpec = {
    kind,
    numGroups: int("num-groups", s("num-groups")) ?? iw.numGroups ?? base.numGroups,
    numPromptsPerGroup:
      int("num-prompts-per-group", s("num-prompts-per-group")) ??
      iw.numPromptsPerGroup ??
      base.numPromptsPerGroup,
    systemPromptLen:
      int("system-prompt-len", s("system-prompt-len"), 0) ?? iw.systemPromptLen ?? base.systemPromptLen,
    questionLen: int("question-len", s("question-len")) ?? iw.questionLen ?? base.questionLen,
    outputLen: int("output-len", s("output-len")) ?? iw.outputLen ?? base.outputLen,
    groupSkew: num("group-skew", s("group-skew"), 0, false) ?? base.groupSkew,
    turns: turnsFlag ?? base.turns,
  };
  if (workload.groupSkew > 0 && kind !== "shared-prefix")
    throw new ArgsError("--group-skew applies to the shared-prefix workload only");

  const api = s("api") ?? imported?.api ?? "chat";
  if (api !== "chat" && api !== "completion")
    throw new ArgsError(`--api: expected chat or completion, got "${api}"`);
  if (kind === "multi-turn" && api !== "chat") throw new ArgsError("--workload multi-turn needs --api chat");

  const arrivals = s("arrivals") ?? imported?.arrivals ?? "poisson";
  if (arrivals !== "poisson" && arrivals !== "constant")
    throw new ArgsError(`--arrivals: expected poisson or constant, got "${arrivals}"`);

  const sims = int("sims", s("sims")) ?? (quick ? 2 : 4);
  const stageDuration = num("stage-duration", s("stage-duration")) ?? (quick ? 5 : 30);
  let ladder: Stage[];
  if (s("rates") !== undefined) {
    const rates = s("rates")!
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => {
        const r = Number(x);
        if (!(r > 0) || !Number.isFinite(r)) throw new ArgsError(`--rates: "${x}" is not a positive number`);
        return r;
      });
    if (rates.length === 0) throw new ArgsError("--rates: empty list");
    ladder = rates.map((rate) => ({ rate, duration: stageDuration }));
  } else if (imported?.ladder) {
    ladder = imported.ladder.map((st) => ({
      ...st,
      duration: s("stage-duration") !== undefined ? stageDuration : st.duration,
    }));
  } else {
    const rates =
      preset !== null
        ? PRESET_SPECS[preset].ratesPerServer.map((r) => r * sims)
        : defaultRates(kind, sims, quick);
    ladder = rates.map((rate) => ({ rate, duration: stageDuration }));
  }
  for (let i = 1; i < ladder.length; i++)
    if (ladder[i]!.rate <= ladder[i - 1]!.rate)
      throw new ArgsError("rates must increase (a ladder from light to heavy load)");

  let warmup: Stage | null = null;
  if (values["no-warmup"] !== true) {
    const rate = num("warmup-rate", s("warmup-rate")) ?? ladder[0]!.rate;
    // About one request per group (most groups get cached somewhere); control repeats nothing, 10 s is enough.
    const wanted = kind === "control" ? rate * 10 : workload.numGroups;
    const duration =
      num("warmup-duration", s("warmup-duration")) ??
      (quick ? 3 : Math.min(120, Math.max(10, Math.ceil(wanted / rate))));
    warmup = { rate, duration };
  }

  // --quick is a smoke test of the whole path: three policies (baseline, inferd, oracle) unless named.
  let policies: Policy[] = quick ? ["round-robin", "inferd", "oracle"] : [...POLICIES];
  if (s("policies") !== undefined) {
    policies = s("policies")!
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((p) => {
        if (!isPolicy(p))
          throw new ArgsError(
            `--policies: unknown policy "${p}" (have: ${[...POLICIES, ...EXTRA_POLICIES].join(", ")})`,
          );
        return p;
      });
    if (policies.length === 0) throw new ArgsError("--policies: empty list");
  }

  const profile = s("profile") ?? "qwen3-32b-h100-tp2";
  const kvTokensPerServer =
    int("kv-tokens-per-server", s("kv-tokens-per-server")) ?? PROFILE_KV_TOKENS[profile] ?? Number.NaN;
  const minSuccess = num("slo-success", s("slo-success"), 0, false) ?? 0.99;
  if (minSuccess > 1) throw new ArgsError("--slo-success: must be <= 1");

  const seed = int("seed", s("seed"), 0) ?? 1;
  let seeds: number[] = [seed];
  if (s("seeds") !== undefined) {
    if (s("seed") !== undefined) throw new ArgsError("--seed and --seeds: give one of them");
    seeds = s("seeds")!
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => int("seeds", x, 0)!);
    if (seeds.length === 0) throw new ArgsError("--seeds: empty list");
    if (new Set(seeds).size !== seeds.length) throw new ArgsError("--seeds: a seed is listed twice");
  }
  const restartServerAt = num("restart-server-at", s("restart-server-at"), 0, false) ?? null;
  const restartServers = int("restart-servers", s("restart-servers")) ?? 1;
  if (s("restart-servers") !== undefined && restartServerAt === null)
    throw new ArgsError("--restart-servers needs --restart-server-at");
  if (restartServers > sims)
    throw new ArgsError(`--restart-servers: ${restartServers} is more than the ${sims} servers`);
  if (restartServerAt !== null && s("attach") !== undefined)
    throw new ArgsError("--restart-server-at needs a stack of its own (not --attach)");

  const client = s("client") ?? "builtin";
  if (client !== "builtin" && client !== "inference-perf")
    throw new ArgsError(`--client: expected builtin or inference-perf, got "${client}"`);
  if (client === "inference-perf" && kind === "multi-turn")
    throw new ArgsError("--client inference-perf: the multi-turn workload needs the built-in generator");
  if (client === "inference-perf" && workload.groupSkew > 0)
    throw new ArgsError("--client inference-perf: inference-perf's shared_prefix has no group skew");

  const options: BenchOptions = {
    preset,
    client: client as Client,
    workload,
    api: api as ApiKind,
    model: s("model") ?? imported?.model ?? "Qwen/Qwen3-32B",
    warmup,
    ladder,
    arrivals: arrivals as Arrivals,
    policies,
    sims,
    gatewayReplicas: int("gateway-replicas", s("gateway-replicas")) ?? 1,
    scorerReplicas: int("scorer-replicas", s("scorer-replicas")) ?? 1,
    resetPrefixCacheAt: num("reset-prefix-cache-at", s("reset-prefix-cache-at"), 0, false) ?? null,
    restartServerAt,
    restartServers,
    profile,
    kvTokensPerServer,
    seed: seeds[0]!,
    seeds,
    slo: {
      ttftP90: num("slo-ttft", s("slo-ttft")) ?? 2,
      itlP90: num("slo-itl", s("slo-itl")) ?? 0.05,
      minSuccess,
    },
    stopAfterFailures: int("stop-after-failures", s("stop-after-failures"), 0) ?? 1,
    drainTimeout: num("drain-timeout", s("drain-timeout"), 0, false) ?? 60,
    connections: int("connections", s("connections")) ?? 1024,
    retries: int("retries", s("retries"), 0) ?? 1,
    pickDeadlineMs:
      s("pick-deadline-ms") === "default" ? null : (int("pick-deadline-ms", s("pick-deadline-ms")) ?? 1000),
    jsonPath: s("json") ?? null,
    reportPath: s("report") ?? null,
    quick,
    configFile,
    attach: s("attach") ?? null,
  };
  const merge = (s("merge") ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const matrix = (s("matrix") ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const eq = x.indexOf("=");
      if (eq <= 0 || eq === x.length - 1)
        throw new ArgsError(`--matrix: expected LABEL=FILE.json, got "${x}"`);
      return { label: x.slice(0, eq), path: x.slice(eq + 1) };
    });
  return { options, help: values.help === true, warnings, merge, matrix };
}
