import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_VLLM_VERSION, type EngineHashAlgo, isEngineHashAlgo, vllmRules } from "@inferd/kv-blocks";
import { parseConfigYaml } from "@inferd/service-kit";
import { DEFAULT_PROFILE, getProfile, PROFILES } from "./engine/latency.ts";
import { DEFAULT_KV_EVENTS_CONFIG, type KvEventsConfig, parseKvEventsConfig } from "./kv-events/config.ts";

export type HashAlgo = EngineHashAlgo;
export type EventEncodingOption = "array" | "map";

/** vLLM --kv-transfer-config, the fields the simulator uses (NixlConnector P/D). */
export interface KvTransferConfig {
  readonly kvConnector: string;
  readonly kvRole: string;
  readonly engineId: string | null;
}

export interface SimOptions {
  readonly model: string;
  /** Names the server answers to; the first is reported (vLLM --served-model-name). */
  readonly servedModelNames: readonly string[];
  readonly host: string;
  readonly port: number;
  /** Pod name, with `{port}` and `{i}` (fleet index) placeholders. */
  readonly podName: string;
  readonly profile: string;
  readonly seed: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
  readonly blockSize: number;
  /** null = the profile's default KV capacity. */
  readonly numGpuBlocksOverride: number | null;
  readonly longPrefillTokenThreshold: number;
  readonly kvEventsConfig: KvEventsConfig;
  /** The vLLM version simulated: hashing rules, event fields and form, replay frames. */
  readonly vllmVersion: string;
  /** Event form override (--kv-events-encoding); null = the version's (arrays <= 0.23, maps >= 0.24). */
  readonly kvEventsEncoding: EventEncodingOption | null;
  readonly prefixCachingHashAlgo: HashAlgo;
  /** vLLM --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens is reported. */
  readonly enablePromptTokensDetails: boolean;
  /** PYTHONHASHSEED; null = unset (NONE_HASH as that vLLM version does: fixed or random). */
  readonly pythonHashSeed: string | null;
  /** VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES (default true). */
  readonly intBlockHashes: boolean;
  readonly dataParallelRank: number;
  readonly enableLora: boolean;
  readonly maxLoras: number;
  /** Adapters loaded at start (vLLM --lora-modules name=path). */
  readonly loraModules: readonly { name: string; path: string }[];
  readonly kvTransferConfig: KvTransferConfig | null;
  readonly kvTransferLatencyMs: number;
  readonly kvTransferTimePerTokenUs: number;
  /** Percentage of requests failing before reaching the engine (0–100). */
  readonly failureRate: number;
  readonly failureStatusCodes: readonly number[];
  /** Crash (drop every connection and stop serving) after this many generated tokens; 0 = never. */
  readonly crashAfterTokens: number;
  /** Model-load delay: /health answers 503 until it has passed, ms. */
  readonly startupDelayMs: number;
  /** Simulated servers in this process (ports from `port` upward). */
  readonly fleet: number;
  readonly logLevel: string;
  /**
   * vLLM --tokenizer: a model directory (tokenizer.json ...), a model name in the Hugging Face hub
   * cache, or "qwen3" (the npm-shipped Qwen3 tokenizer). Empty: the --model's snapshot in the hub
   * cache, else the npm Qwen3 tokenizer (the simulator's demo default, for any model name).
   */
  readonly tokenizerPath: string;
}

/** Default KV capacity per profile (num_gpu_blocks at block size 16). */
const PROFILE_KV_TOKENS: Record<string, number> = {
  // llm-d "KV-cache wins": 307,328 tokens of KV per Qwen3-32B pod on 2×H100.
  "qwen3-32b-h100-tp2": 307_328,
  // 8B FP16 on one 80 GB H100 at 0.9 utilisation: ~56 GB of KV / 128 KiB per token.
  "llama-8b-h100": 450_000,
  "tiny-fast": 65_536,
};

export const SIM_HELP = `Usage: model-sim [options]   (vLLM-compatible model server simulator)

vLLM flags:
  --model NAME                       model name (default Qwen/Qwen3-32B)
  --served-model-name NAME [NAME..]  names served (default: --model)
  --host HOST  --port N              listen address (default 127.0.0.1:8000)
  --max-num-seqs N                   running batch size (default 1024)
  --max-num-batched-tokens N         token budget per step (default 8192)
  --max-model-len N                  context limit (default 40960)
  --block-size N                     KV block size in tokens (default 16)
  --num-gpu-blocks-override N        KV blocks (default: from the profile)
  --long-prefill-token-threshold N   per-request chunk cap (default 0 = off)
  --kv-events-config JSON            vLLM KVEventsConfig (enable_kv_cache_events, endpoint, replay_endpoint,
                                     buffer_steps, hwm, topic; topic may use {pod} and {model})
  --prefix-caching-hash-algo ALGO    sha256 | sha256_cbor | xxhash | xxhash_cbor (default sha256, as vLLM)
  --enable-prompt-tokens-details     report usage.prompt_tokens_details.cached_tokens
  --data-parallel-rank N             DP rank in event batches and port offset (default 0)
  --enable-lora  --max-loras N  --lora-modules name=path ...
  --kv-transfer-config JSON          e.g. {"kv_connector":"NixlConnector","kv_role":"kv_both"}
Simulator flags:
  --profile NAME                     latency profile: ${Object.keys(PROFILES).join(", ")} (default ${DEFAULT_PROFILE})
  --pod-name NAME                    server name; {port} and {i} are replaced (default sim-{port})
  --seed N                           seed of latency jitter and generated text (default 0)
  --vllm-version V                   vLLM version to behave as: block hashing, KV-event fields and form,
                                     replay frames (default ${DEFAULT_VLLM_VERSION}; 0.11 .. 0.34 are modelled)
  --kv-events-encoding array|map     override the version's event form (arrays <= 0.23, maps >= 0.24)
  --kv-transfer-latency-ms MS        P/D decode: fixed KV pull time (default 5)
  --kv-transfer-time-per-token-us US P/D decode: KV pull time per prompt token (default 2)
  --failure-rate PCT                 share of requests answered with an error (default 0)
  --failure-status-codes LIST        e.g. 429,503 (default 503)
  --crash-after-tokens N             stop serving after N generated tokens (default 0 = never)
  --startup-delay-ms MS              model-load time before /health is ready (default 0)
  --fleet N                          N servers in one process, ports from --port upward (default 1)
  --tokenizer DIR|NAME|qwen3         tokenizer: a model directory, a model in the HF hub cache, or the npm
                                     Qwen3 one (default: --model in the HF hub cache, else Qwen3)
  --log-level LEVEL                  pino level (default info)
  --config FILE                      YAML of the same flags (keys with - or _); flags > env > file
Environment: INFERD_MODEL_SIM_<FLAG> (e.g. INFERD_MODEL_SIM_MAX_NUM_SEQS=64), PYTHONHASHSEED (NONE_HASH seed; unset = as the vLLM version does), VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0 (bytes).`;

export class SimArgsError extends Error {}

function int(name: string, v: string | undefined, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new SimArgsError(`--${name}: expected an integer >= ${min}, got "${v}"`);
  return n;
}

function num(
  name: string,
  v: string | undefined,
  def: number,
  min = 0,
  max = Number.POSITIVE_INFINITY,
): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new SimArgsError(`--${name}: expected a number in [${min}, ${max}], got "${v}"`);
  return n;
}

function parseTransferConfig(json: string): KvTransferConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new SimArgsError(`--kv-transfer-config: invalid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null)
    throw new SimArgsError("--kv-transfer-config: expected a JSON object");
  const o = raw as Record<string, unknown>;
  if (typeof o.kv_connector !== "string")
    throw new SimArgsError("--kv-transfer-config: kv_connector is required");
  return {
    kvConnector: o.kv_connector,
    kvRole: typeof o.kv_role === "string" ? o.kv_role : "kv_both",
    engineId: typeof o.engine_id === "string" ? o.engine_id : null,
  };
}

type ArgType = "string" | "boolean";
type OptionSpec = { type: ArgType; multiple?: boolean };

const OPTIONS: Record<string, OptionSpec> = {
  model: { type: "string" },
  "served-model-name": { type: "string", multiple: true },
  host: { type: "string" },
  port: { type: "string" },
  "pod-name": { type: "string" },
  profile: { type: "string" },
  seed: { type: "string" },
  "max-num-seqs": { type: "string" },
  "max-num-batched-tokens": { type: "string" },
  "max-model-len": { type: "string" },
  "block-size": { type: "string" },
  "num-gpu-blocks-override": { type: "string" },
  "long-prefill-token-threshold": { type: "string" },
  "kv-events-config": { type: "string" },
  "kv-events-encoding": { type: "string" },
  "vllm-version": { type: "string" },
  "prefix-caching-hash-algo": { type: "string" },
  "data-parallel-rank": { type: "string" },
  "enable-lora": { type: "boolean" },
  "max-loras": { type: "string" },
  "lora-modules": { type: "string", multiple: true },
  "kv-transfer-config": { type: "string" },
  "kv-transfer-latency-ms": { type: "string" },
  "kv-transfer-time-per-token-us": { type: "string" },
  "failure-rate": { type: "string" },
  "failure-status-codes": { type: "string" },
  "crash-after-tokens": { type: "string" },
  "startup-delay-ms": { type: "string" },
  fleet: { type: "string" },
  tokenizer: { type: "string" },
  "log-level": { type: "string" },
  "enable-prompt-tokens-details": { type: "boolean" },
  // Accepted for drop-in use with vLLM command lines; they do not change the simulation.
  "enable-prefix-caching": { type: "boolean" },
  "tensor-parallel-size": { type: "string" },
  "gpu-memory-utilization": { type: "string" },
  "enforce-eager": { type: "boolean" },
  dtype: { type: "string" },
};

type Values = Record<string, string | boolean | string[] | undefined>;

/** A YAML/env value as the string (or boolean / list) the flag parser would have produced. */
function coerce(name: string, spec: OptionSpec, v: unknown, where: string): string | boolean | string[] {
  if (spec.type === "boolean") {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw new SimArgsError(`${where}: ${name} must be true or false`);
  }
  const one = (x: unknown): string => {
    if (typeof x === "string") return x;
    if (typeof x === "number") return String(x);
    if (typeof x === "object" && x !== null) return JSON.stringify(x); // e.g. kv-events-config as a mapping
    throw new SimArgsError(`${where}: ${name} has an unusable value`);
  };
  if (spec.multiple) return Array.isArray(v) ? v.map(one) : [one(v)];
  return one(v);
}

/** Env key of a flag: INFERD_MODEL_SIM_MAX_NUM_SEQS for --max-num-seqs. */
export function envKey(flag: string): string {
  return `INFERD_MODEL_SIM_${flag.replaceAll("-", "_").toUpperCase()}`;
}

/**
 * Flag values with inferd's layering: defaults < YAML file (`--config`, keys are flag names with `-` or
 * `_`, as vLLM's own --config) < environment (INFERD_MODEL_SIM_<FLAG>) < command-line flags.
 */
function layeredValues(argv: readonly string[], env: NodeJS.ProcessEnv): Values {
  let cli: Values;
  try {
    cli = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: { ...OPTIONS, config: { type: "string" } },
    }).values as Values;
  } catch (err) {
    throw new SimArgsError((err as Error).message);
  }
  const merged: Values = {};
  const file = cli.config as string | undefined;
  if (file !== undefined) {
    let doc: unknown;
    try {
      doc = parseConfigYaml(readFileSync(file, "utf8"));
    } catch (err) {
      throw new SimArgsError(`--config ${file}: ${(err as Error).message}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== "object" || Array.isArray(doc))
        throw new SimArgsError(`--config ${file}: expected a mapping`);
      for (const [k, v] of Object.entries(doc)) {
        const name = k.replaceAll("_", "-");
        const spec = OPTIONS[name];
        if (!spec) throw new SimArgsError(`--config ${file}: unknown key "${k}"`);
        merged[name] = coerce(name, spec, v, `--config ${file}`);
      }
    }
  }
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const v = env[envKey(name)];
    if (v !== undefined && v !== "")
      merged[name] = coerce(name, spec, spec.multiple ? v.split(",") : v, envKey(name));
  }
  for (const [name, v] of Object.entries(cli)) if (name !== "config" && v !== undefined) merged[name] = v;
  return merged;
}

/** Parses model-sim's command line (vLLM flag names where vLLM has them). Throws SimArgsError. */
export function parseSimArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SimOptions {
  const values = layeredValues(argv, env);
  const s = (k: string) => values[k] as string | undefined;
  const model = s("model") ?? "Qwen/Qwen3-32B";
  const served = (values["served-model-name"] as string[] | undefined)
    ?.flatMap((x) => x.split(/\s+/))
    .filter(Boolean);
  const profile = s("profile") ?? DEFAULT_PROFILE;
  try {
    getProfile(profile);
  } catch (err) {
    throw new SimArgsError(`--profile: ${(err as Error).message}`);
  }
  const blockSize = int("block-size", s("block-size"), 16, 1);
  let rules: ReturnType<typeof vllmRules>;
  try {
    rules = vllmRules(s("vllm-version") ?? DEFAULT_VLLM_VERSION);
  } catch (err) {
    throw new SimArgsError(`--vllm-version: ${(err as Error).message}`);
  }
  const algo = s("prefix-caching-hash-algo") ?? "sha256";
  if (!isEngineHashAlgo(algo) || !rules.algos.includes(algo)) {
    throw new SimArgsError(
      `--prefix-caching-hash-algo: vLLM ${rules.version} offers ${rules.algos.join(", ")}, got "${algo}"`,
    );
  }
  const encoding = s("kv-events-encoding") ?? null;
  if (encoding !== null && encoding !== "array" && encoding !== "map")
    throw new SimArgsError(`--kv-events-encoding: expected array or map`);
  let kvEventsConfig = DEFAULT_KV_EVENTS_CONFIG;
  if (s("kv-events-config") !== undefined) {
    try {
      kvEventsConfig = parseKvEventsConfig(s("kv-events-config")!);
    } catch (err) {
      throw new SimArgsError((err as Error).message);
    }
  }
  const loraModules = ((values["lora-modules"] as string[] | undefined) ?? [])
    .flatMap((x) => x.split(/\s+/))
    .filter(Boolean)
    .map((x) => {
      const [name, path] = x.split("=");
      if (!name) throw new SimArgsError(`--lora-modules: expected name=path, got "${x}"`);
      return { name, path: path ?? name };
    });
  const enableLora = values["enable-lora"] === true;
  if (loraModules.length > 0 && !enableLora) throw new SimArgsError("--lora-modules needs --enable-lora");
  const codes = (s("failure-status-codes") ?? "503").split(",").map((c) => {
    const n = Number(c.trim());
    if (!Number.isInteger(n) || n < 400 || n > 599)
      throw new SimArgsError(`--failure-status-codes: bad code "${c}"`);
    return n;
  });
  const override = s("num-gpu-blocks-override");
  const hashSeed = env.PYTHONHASHSEED;
  return {
    model,
    servedModelNames: served && served.length > 0 ? served : [model],
    host: s("host") ?? "127.0.0.1",
    port: int("port", s("port"), 8000, 0),
    podName: s("pod-name") ?? "sim-{port}",
    profile,
    seed: int("seed", s("seed"), 0),
    maxNumSeqs: int("max-num-seqs", s("max-num-seqs"), 1024, 1),
    maxNumBatchedTokens: int("max-num-batched-tokens", s("max-num-batched-tokens"), 8192, 1),
    maxModelLen: int("max-model-len", s("max-model-len"), 40960, 2),
    blockSize,
    numGpuBlocksOverride: override === undefined ? null : int("num-gpu-blocks-override", override, 0, 2),
    longPrefillTokenThreshold: int("long-prefill-token-threshold", s("long-prefill-token-threshold"), 0),
    kvEventsConfig,
    vllmVersion: rules.version,
    kvEventsEncoding: encoding,
    prefixCachingHashAlgo: algo,
    enablePromptTokensDetails: values["enable-prompt-tokens-details"] === true,
    pythonHashSeed: hashSeed === undefined || hashSeed === "" ? null : hashSeed,
    intBlockHashes: env.VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES !== "0",
    dataParallelRank: int("data-parallel-rank", s("data-parallel-rank"), 0),
    enableLora,
    maxLoras: int("max-loras", s("max-loras"), 1, 1),
    loraModules,
    kvTransferConfig:
      s("kv-transfer-config") === undefined ? null : parseTransferConfig(s("kv-transfer-config")!),
    kvTransferLatencyMs: num("kv-transfer-latency-ms", s("kv-transfer-latency-ms"), 5),
    kvTransferTimePerTokenUs: num("kv-transfer-time-per-token-us", s("kv-transfer-time-per-token-us"), 2),
    failureRate: num("failure-rate", s("failure-rate"), 0, 0, 100),
    failureStatusCodes: codes,
    crashAfterTokens: int("crash-after-tokens", s("crash-after-tokens"), 0),
    startupDelayMs: num("startup-delay-ms", s("startup-delay-ms"), 0),
    fleet: int("fleet", s("fleet"), 1, 1),
    tokenizerPath: s("tokenizer") ?? "",
    logLevel: s("log-level") ?? "info",
  };
}

/** Default KV capacity (tokens) of one server with this latency profile. */
export function defaultKvTokens(profile: string): number {
  return PROFILE_KV_TOKENS[profile] ?? 65_536;
}

/** KV blocks of a server: the override, or the profile's KV capacity at this block size. */
export function numGpuBlocks(o: SimOptions): number {
  if (o.numGpuBlocksOverride !== null) return o.numGpuBlocksOverride;
  const kvTokens = PROFILE_KV_TOKENS[o.profile] ?? 65_536;
  return Math.ceil(kvTokens / o.blockSize);
}

/** Options with defaults, for programmatic use (tests, `inferd up`). */
export function simOptions(over: Partial<SimOptions> = {}): SimOptions {
  return { ...parseSimArgs([], {}), ...over };
}
