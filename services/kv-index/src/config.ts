import { vllmVersionFields } from "@inferd/block-index";
import {
  bool,
  type ConfigOf,
  int,
  json,
  list,
  natsCredentialFields,
  oneOf,
  redisLinkFields,
  str,
  streamReplicasFields,
} from "@inferd/service-kit";
import { tokenizerFields } from "@inferd/tokenizers";

/** Config keys (env `INFERD_KV_INDEX_<KEY>`, YAML file via --config). */
export const KV_INDEX_CONFIG = {
  natsUrl: str({
    default: "nats://127.0.0.1:4222",
    doc: "NATS server URL(s), comma-separated",
    nonEmpty: true,
  }),
  subjectPrefix: str({ default: "inferd", doc: "Prefix of every NATS subject" }),
  logLevel: oneOf(["trace", "debug", "info", "warn", "error", "fatal"], { default: "info" }),
  otlpEndpoint: str({
    default: "",
    doc: "OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); empty = spans are not recorded (trace context still passes through)",
  }),
  httpPort: int({
    default: 9102,
    min: 0,
    max: 65535,
    doc: "HTTP: POST /v1/lookup, /metrics, /healthz, /readyz",
  }),
  // Loopback by default (issue 17): lookups and metrics stay on this host unless opened
  // (0.0.0.0 in a pod, behind a NetworkPolicy).
  httpHost: str({ default: "127.0.0.1" }),

  ingest: bool({ default: true, doc: "Run ingest (ZeroMQ -> JetStream)" }),
  indexer: bool({ default: true, doc: "Run the indexer (JetStream -> index)" }),
  lookup: bool({ default: true, doc: "Serve lookups (NATS service + HTTP)" }),

  zmqMode: oneOf(["bind", "connect"], {
    default: "bind",
    doc: "bind: one SUB bound on zmqBindEndpoint (vLLM connects); connect: one SUB per inventory endpoint",
  }),
  zmqBindEndpoint: str({ default: "tcp://*:5557" }),
  zmqTopicFilter: str({ default: "", doc: 'ZeroMQ subscription prefix ("" = all; llm-d uses "kv@")' }),
  useInventory: bool({
    default: true,
    doc: "Follow INFERD_ENDPOINTS for replay endpoints (and sockets in connect mode)",
  }),
  replayEndpoints: json<Record<string, string>>({
    default: {},
    doc: 'Replay endpoints by pod for engines not in the inventory, e.g. {"pod-a":"tcp://10.0.0.7:5558"}',
    validate: (v) => {
      if (
        typeof v !== "object" ||
        v === null ||
        Array.isArray(v) ||
        !Object.values(v).every((x) => typeof x === "string")
      )
        throw new Error("must be an object of pod -> endpoint strings");
      return v as Record<string, string>;
    },
  }),
  zmqDataParallelSize: int({
    default: 1,
    min: 1,
    max: 256,
    doc: "connect mode: vLLM DP ranks per endpoint (rank r on port + r) unless the endpoint label data-parallel-size says",
  }),
  replayTimeoutMs: int({ default: 2000, min: 50 }),
  replayAttempts: int({
    default: 3,
    min: 1,
    max: 10,
    doc: "Requests of a gap or first-sight replay before its batches are given up (each waits replayTimeoutMs)",
  }),
  replayOnFirstSight: bool({
    default: true,
    doc: "Replay from seq 0 when an engine is first seen above 0",
  }),
  onUnrepairedGap: oneOf(["keep", "reset"], { default: "keep" }),
  publishLingerMs: int({
    default: 100,
    min: 0,
    max: 1000,
    doc: "An engine's batches wait up to this long to go out merged in one stream message (cold-prefill roots, clears and resets at once; 0: one message per batch)",
  }),

  indexBackend: oneOf(["memory", "redis"], { default: "redis" }),
  ...redisLinkFields({
    urlDefault: "redis://127.0.0.1:6379",
    urlDoc: "Redis or Valkey of the index (redis backend)",
  }),
  lookupTimeoutMs: int({
    default: 250,
    min: 10,
    doc: "A Redis lookup fails after this long (fail fast while Redis is away)",
  }),
  maxBlocksPerEngine: int({
    default: 0,
    min: 0,
    doc: "Hard bound per engine (pod, DP rank): new blocks beyond it are dropped and counted; 0 = none",
  }),
  blockSize: int({ default: 16, min: 1, max: 4096, doc: "Tokens per KV block (the engines' block size)" }),
  ...vllmVersionFields(),
  ...tokenizerFields(),
  indexerDurable: str({ default: "kv-indexer", pattern: /^[A-Za-z0-9_-]+$/ }),
  indexerModels: list({ default: [], doc: "Only index these models (empty = all)" }),
  indexerMaxPending: int({ default: 4096, min: 1 }),
  indexerLingerMs: int({
    default: 20,
    min: 0,
    max: 1000,
    doc: "An idle pod's first stream message waits this long before its index write, so later ones share it",
  }),
  purgeDepartedPods: bool({ default: true, doc: "Purge a pod's entries when it leaves INFERD_ENDPOINTS" }),
  streamMaxAgeSeconds: int({ default: 86_400, min: 1 }),
  streamMaxBytes: int({ default: 2 * 1024 * 1024 * 1024, min: 1024 }),
  ...streamReplicasFields(),
  ...natsCredentialFields(),
};

export type KvIndexConfig = ConfigOf<typeof KV_INDEX_CONFIG>;
