import { readFileSync } from "node:fs";
import { vllmVersionFields } from "@inferd/block-index";
import {
  bool,
  type ConfigOf,
  configFileFromArgv,
  int,
  loadConfig,
  natsCredentialFields,
  num,
  oneOf,
  parseConfigYaml,
  redisLinkFields,
  requestsStreamFields,
  str,
  streamReplicasFields,
  tracingFields,
} from "@inferd/service-kit";
import { tokenizerFields } from "@inferd/tokenizers";
import { BUILTIN_PROFILE_NAMES } from "./framework/builtin-profiles.ts";

/** Service keys: defaults < YAML (`--config`) < env `INFERD_SCORER_<KEY>`. */
export const SCORER_CONFIG = {
  natsUrl: str({ default: "nats://127.0.0.1:4222", doc: "NATS server URL" }),
  subjectPrefix: str({
    default: "inferd",
    doc: "subject prefix (inferd.v1...); stream and bucket names carry it too (<PREFIX>_REQUESTS)",
  }),
  ...requestsStreamFields(),
  ...streamReplicasFields(),
  ...tracingFields(),
  // Loopback by default (issue 17): the ops port exposes metrics and readiness only to this
  // host unless an operator opens it (e.g. 0.0.0.0 for a Prometheus scrape in a pod).
  opsHost: str({ default: "127.0.0.1", doc: "address the ops HTTP server binds (0.0.0.0 to expose it)" }),
  opsPort: int({
    default: 9101,
    min: 0,
    max: 65535,
    doc: "port of /metrics /healthz /readyz (0 = any free port)",
  }),
  pickerConfig: str({ default: "", doc: "EndpointPickerConfig YAML file; empty = the built-in `profile`" }),
  profile: oneOf(BUILTIN_PROFILE_NAMES, {
    default: "default",
    doc: "built-in policy used when pickerConfig is empty",
  }),
  endpointsFile: str({
    default: "",
    doc: "static endpoint list (YAML); empty = follow the INFERD_ENDPOINTS bucket",
  }),
  scrapeIntervalMs: int({
    default: 100,
    min: 0,
    doc: "how often each endpoint's /metrics is scraped (0 = never)",
  }),
  scrapeTimeoutMs: int({ default: 1000, min: 1, doc: "scrape request timeout" }),
  scrapeMaxPerSecond: int({
    default: 200,
    min: 0,
    doc: "most scrapes per second over all endpoints; the interval stretches past it (0 = no cap)",
  }),
  scrapeQuietIntervalMs: int({
    default: 500,
    min: 0,
    max: 1000,
    doc: "an endpoint with an empty queue at its last scrape and no pick or lifecycle event since is scraped only this often (0 = every interval)",
  }),
  metricsStalenessMs: int({ default: 2000, min: 1, doc: "scraped metrics older than this count as unknown" }),
  publishLoad: bool({
    default: true,
    doc: "publish EndpointLoad when a scrape changed it (at least every 1 s)",
  }),
  loadPublishMinIntervalMs: int({
    default: 500,
    min: 0,
    doc: "least time between two EndpointLoad messages of one pod when its load keeps changing (0 = every change)",
  }),
  followLoad: bool({
    default: false,
    doc: "use EndpointLoad published by other replicas (e.g. with scrapeIntervalMs 0 on all but one)",
  }),
  kvLookup: bool({ default: true, doc: "ask kv-index for precise prefix matches" }),
  kvLookupTimeoutMs: int({
    default: 50,
    min: 1,
    doc: "kv-index lookup deadline; on expiry the pick uses approximate prefixes",
  }),
  indexReplica: bool({
    default: true,
    doc: "keep an in-process replica of the KV-block index (fed from INFERD_KV_EVENTS): token lookups need no network hop",
  }),
  // The same Redis keys as kv-index (one Secret serves both): the shared index the replica is
  // bootstrapped from at start.
  ...redisLinkFields({
    urlDefault: "",
    urlDoc:
      "kv-index's Redis index, which the index replica is bootstrapped from at start; empty (and no redisClusterNodes) = replay INFERD_KV_EVENTS from its start",
  }),
  indexReplicaRedisUrl: str({
    default: "",
    doc: "deprecated spelling of redisUrl (accepted with a warning for one release)",
  }),
  // kv-index's per-model vLLM versions: the replica derives request keys by the same rules.
  ...vllmVersionFields(),
  indexReplicaBlockSize: int({
    default: 16,
    min: 1,
    max: 4096,
    doc: "tokens per KV block in the replica; must equal kv-index block_size",
  }),
  indexReplicaMaxBlocksPerEngine: int({
    default: 262_144,
    min: 0,
    doc: "replica memory bound: an engine holding this many blocks gets no new ones (counted; 0 = no bound)",
  }),
  ...tokenizerFields(),
  // 5 ms, not more: the warm-up runs on the event loop, where picks must not queue behind tokenisation
  // (issue 16); a first-seen 6,000-token chat prompt costs ~2.5 ms since the word memo (kv-blocks).
  tokenizerInlineWarmupMaxMs: int({
    default: 5,
    min: 0,
    max: 1000,
    doc: "with tokenizerWorkers > 0: warm chat prefixes are tokenised on the event loop (saves the worker round trip); a new prefix the worker tokenised within this many ms is warmed on the loop, after the reply, from the cache entries the worker computed (0 = always the worker)",
  }),
  ttftOverheadMs: num({ default: 20, min: 0, doc: "TTFT model prior: fixed cost, ms" }),
  prefillTokensPerSecond: num({
    default: 15928,
    min: 1,
    doc: "TTFT model prior: prefill throughput per server",
  }),
  tpotPriorMs: num({
    default: 20,
    min: 0,
    doc: "latency model prior: time per output token of an idle server, ms",
  }),
  speculativeTtlMs: int({
    default: 5000,
    min: 1,
    doc: "an own pick counts as in flight this long without a ROUTED event",
  }),
  maxInflightAgeMs: int({
    default: 600000,
    min: 1,
    doc: "a request counts as in flight at most this long without a final event",
  }),
  shareDecisions: bool({
    default: true,
    doc: "publish own picks on <prefix>.v1.sched.decisions.<model> and count other replicas' picks",
  }),
  requestsReplayMs: int({
    default: 300000,
    min: 0,
    doc: "lifecycle events replayed at start to rebuild in-flight state",
  }),
  replicaId: str({ default: "", doc: "identity in EndpointLoad.source (default scorer-<host>-<pid>)" }),
  logLevel: oneOf(["trace", "debug", "info", "warn", "error"], { default: "info", doc: "log level" }),
  ...natsCredentialFields(),
};

export type ScorerConfig = ConfigOf<typeof SCORER_CONFIG>;

/** True when the file is an EndpointPickerConfig rather than a scorer service config. */
export function isPickerConfigFile(path: string): boolean {
  try {
    const doc = parseConfigYaml(readFileSync(path, "utf8")) as { kind?: unknown } | null;
    return doc?.kind === "EndpointPickerConfig";
  } catch {
    return false;
  }
}

/**
 * `--config FILE` may name either the service config (keys below) or, as with llm-d's EPP, an
 * EndpointPickerConfig, which then becomes `pickerConfig`. `defaults` replace the built-in defaults
 * (the file and the environment still win): a gateway embedding the scorer passes its own NATS link.
 */
export function loadScorerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  defaults: Partial<ScorerConfig> = {},
): ScorerConfig {
  const file = configFileFromArgv(argv);
  if (file && isPickerConfigFile(file)) {
    const rest = argv.filter(
      (a, i) => a !== "--config" && argv[i - 1] !== "--config" && !a.startsWith("--config="),
    );
    return loadConfig("scorer", SCORER_CONFIG, {
      argv: rest,
      env,
      overrides: { ...defaults, pickerConfig: file },
    });
  }
  return loadConfig("scorer", SCORER_CONFIG, { argv, env, overrides: defaults });
}
