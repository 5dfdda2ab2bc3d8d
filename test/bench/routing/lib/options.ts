/** What one benchmark run does: workload, load ladder, policies, SLO, outputs. Pure data. */
import { isPeer, PEER_POLICIES, type PeerPolicy } from "./peers.ts";

/** The policies compared by default (issue 7's names). */
export const POLICIES = ["random", "round-robin", "least-load", "approx-prefix", "inferd", "oracle"] as const;
/**
 * Also available, not run by default: `llm-d-default` (llm-d's scheduler defaults: queue w2 + KV
 * utilisation w2 + prefix w3, the prefix from kv-index's precise view) and `rr-direct`, a client-side round-robin straight to the servers
 * (like the oracle, bypassing gateway and scorer). Against `round-robin` it shows what the gateway path
 * itself costs; against `oracle` it isolates placement from that path. `inferd-embedded` is `inferd`
 * with the scorer run inside the gateway's process (`inferd up --scorer-mode embedded`: no pick hop
 * over NATS, no scorer process).
 */
export const EXTRA_POLICIES = ["rr-direct", "llm-d-default", "inferd-embedded"] as const;

/** Policies whose stack runs the scorer inside the gateway (`inferd up --scorer-mode embedded`). */
export function isEmbedded(p: Policy): boolean {
  return p === "inferd-embedded";
}
/** The routers users would pick instead (lib/peers.ts): opt-in, they need scripts/install-peers.sh. */
export type Policy = (typeof POLICIES)[number] | (typeof EXTRA_POLICIES)[number] | PeerPolicy;
export { isPeer, PEER_POLICIES };

export function isPolicy(s: string): s is Policy {
  return (
    (POLICIES as readonly string[]).includes(s) ||
    (EXTRA_POLICIES as readonly string[]).includes(s) ||
    isPeer(s)
  );
}

/** Policies whose requests go straight to the servers (no gateway, no scorer). */
export function isDirect(p: Policy): p is "oracle" | "rr-direct" {
  return p === "oracle" || p === "rr-direct";
}

/** The scorer profile (INFERD_SCORER_PROFILE) behind each gateway-routed policy; the oracle bypasses the scorer. */
export const SCORER_PROFILE: Readonly<Record<Exclude<Policy, "oracle" | "rr-direct" | PeerPolicy>, string>> =
  {
    random: "random",
    "round-robin": "round-robin",
    "least-load": "least-load",
    "approx-prefix": "approx-prefix",
    inferd: "default",
    "inferd-embedded": "default",
    "llm-d-default": "llm-d-default",
  };

export type WorkloadKind = "shared-prefix" | "control" | "multi-turn";
export type ApiKind = "completion" | "chat";

export interface WorkloadSpec {
  readonly kind: WorkloadKind;
  /** Prefix groups (shared system prompts). */
  readonly numGroups: number;
  /** Distinct questions (or chat users) per group. */
  readonly numPromptsPerGroup: number;
  /** Tokens of each group's system prompt (exact, Qwen3 tokenizer). */
  readonly systemPromptLen: number;
  /** Tokens of each question (exact). */
  readonly questionLen: number;
  /** Tokens generated per request (max_tokens with ignore_eos). */
  readonly outputLen: number;
  /** Zipf exponent of group popularity; 0 = uniform (inference-perf's shuffled cycle). */
  readonly groupSkew: number;
  /** Turns per chat session (multi-turn only). */
  readonly turns: number;
}

export type Arrivals = "poisson" | "constant";

export interface Stage {
  /** Requests per second (Poisson). */
  readonly rate: number;
  /** Seconds of arrivals. */
  readonly duration: number;
}

export interface Slo {
  /** TTFT p90 limit, seconds. */
  readonly ttftP90: number;
  /** ITL p90 limit, seconds. */
  readonly itlP90: number;
  /** Minimum share of requests that must succeed (429/503/errors count against it). */
  readonly minSuccess: number;
}

/** Named workloads (`--preset`): sizes and ladder a published comparison used; flags override them. */
export type Preset = "kv-pressure" | "kv-eviction";
export const PRESETS: readonly Preset[] = ["kv-pressure", "kv-eviction"];

/** Who sends the requests: the built-in load generator, or inference-perf driving the same ladder. */
export type Client = "builtin" | "inference-perf";

export interface BenchOptions {
  /** The preset the workload came from, if any (recorded in the report). */
  readonly preset?: Preset | null;
  /** Load generator (default builtin). */
  readonly client?: Client;
  readonly workload: WorkloadSpec;
  readonly api: ApiKind;
  readonly model: string;
  readonly warmup: Stage | null;
  readonly ladder: readonly Stage[];
  /** Arrival process of every stage (inference-perf load.type). */
  readonly arrivals: Arrivals;
  readonly policies: readonly Policy[];
  readonly sims: number;
  /** Gateway processes; requests are spread over them round-robin, as behind a Service (default 1). */
  readonly gatewayReplicas?: number;
  /** Scorer processes sharing the pick queue group (default 1). */
  readonly scorerReplicas?: number;
  /**
   * Seconds into each measured stage at which every server's prefix cache is reset
   * (POST /reset_prefix_cache, as an operator or a weight reload would); null = never.
   */
  readonly resetPrefixCacheAt?: number | null;
  /**
   * Seconds into each measured stage at which `restartServers` model servers are killed (SIGKILL)
   * and left to the deployer to restart (empty KV cache); null = never.
   */
  readonly restartServerAt?: number | null;
  /** How many servers --restart-server-at kills per stage (default 1). */
  readonly restartServers?: number;
  readonly profile: string;
  /** KV tokens per server of the profile (sizing report only). */
  readonly kvTokensPerServer: number;
  readonly seed: number;
  /** --seeds: the whole comparison once per seed (the report gives the spread); [seed] otherwise. */
  readonly seeds?: readonly number[];
  readonly slo: Slo;
  /** Stop a policy's ladder after this many consecutive SLO failures (past saturation). 0 = never. */
  readonly stopAfterFailures: number;
  /** Longest wait for in-flight requests to finish between stages, seconds. */
  readonly drainTimeout: number;
  /**
   * The gateway's deadline for one scorer pick (INFERD_GATEWAY_PICK_DEADLINE_MS), ms; null keeps the
   * gateway's default (100 ms, then FailClose answers 503).
   */
  readonly pickDeadlineMs: number | null;
  /** Fresh-stack retries of a policy whose stack died mid-run. */
  readonly retries: number;
  /** HTTP connections per upstream origin of the load generator. */
  readonly connections: number;
  readonly jsonPath: string | null;
  readonly reportPath: string | null;
  readonly quick: boolean;
  /** Where inference-perf YAML came from, if any (recorded in the report). */
  readonly configFile: string | null;
  /**
   * An already running stack (its INFERD_UP_READY JSON) instead of a fresh one per policy: for
   * debugging against `inferd up` you started yourself. Caches are then NOT cold between policies,
   * and the gateway routes with whatever scorer profile that stack runs.
   */
  readonly attach: string | null;
}

/** KV tokens of one model-sim server per latency profile (model-sim's PROFILE_KV_TOKENS). */
export const PROFILE_KV_TOKENS: Readonly<Record<string, number>> = {
  "qwen3-32b-h100-tp2": 307_328,
  "qwen3-32b-tp2": 307_328,
  "llama-8b-h100": 450_000,
  "tiny-fast": 65_536,
};

export interface Sizing {
  /** Tokens of all shared prefixes (groups × system prompt). */
  readonly prefixTokens: number;
  /** Tokens of every distinct prompt (prefixes + each question once). */
  readonly workingSetTokens: number;
  readonly clusterKvTokens: number;
  /** workingSetTokens / cluster KV. The reference targets 0.5–0.8. */
  readonly clusterFill: number;
  /** workingSetTokens / one server's KV. The reference targets several (3–6). */
  readonly serverMultiple: number;
}

/** How the workload compares with the KV cache (reference §7: 50–80 % of the cluster, several servers' worth). */
export function sizing(w: WorkloadSpec, sims: number, kvTokensPerServer: number): Sizing {
  const prefixTokens = w.kind === "control" ? 0 : w.numGroups * w.systemPromptLen;
  const questions =
    w.numGroups * w.numPromptsPerGroup * w.questionLen * (w.kind === "multi-turn" ? w.turns : 1);
  const answers =
    w.kind === "multi-turn" ? w.numGroups * w.numPromptsPerGroup * w.outputLen * (w.turns - 1) : 0;
  const workingSetTokens = w.kind === "control" ? 0 : prefixTokens + questions + answers;
  const clusterKvTokens = sims * kvTokensPerServer;
  return {
    prefixTokens,
    workingSetTokens,
    clusterKvTokens,
    clusterFill: clusterKvTokens > 0 ? workingSetTokens / clusterKvTokens : Number.NaN,
    serverMultiple: kvTokensPerServer > 0 ? workingSetTokens / kvTokensPerServer : Number.NaN,
  };
}
