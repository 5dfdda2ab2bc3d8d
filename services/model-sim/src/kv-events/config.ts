/**
 * vLLM's KVEventsConfig (vllm/config/kv_events.py), parsed from the same JSON vLLM takes in
 * `--kv-events-config`. Unknown keys are rejected, as vLLM's config validation does.
 */
export interface KvEventsConfig {
  readonly enableKvCacheEvents: boolean;
  readonly publisher: "null" | "zmq";
  readonly endpoint: string;
  readonly replayEndpoint: string | null;
  readonly bufferSteps: number;
  readonly hwm: number;
  readonly maxQueueSize: number;
  readonly topic: string;
}

export const DEFAULT_KV_EVENTS_CONFIG: KvEventsConfig = {
  enableKvCacheEvents: false,
  publisher: "null",
  endpoint: "tcp://*:5557",
  replayEndpoint: null,
  bufferSteps: 10_000,
  hwm: 100_000,
  maxQueueSize: 100_000,
  topic: "",
};

const KEYS: Record<string, keyof KvEventsConfig> = {
  enable_kv_cache_events: "enableKvCacheEvents",
  publisher: "publisher",
  endpoint: "endpoint",
  replay_endpoint: "replayEndpoint",
  buffer_steps: "bufferSteps",
  hwm: "hwm",
  max_queue_size: "maxQueueSize",
  topic: "topic",
};

export function parseKvEventsConfig(json: string): KvEventsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`--kv-events-config: invalid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("--kv-events-config: expected a JSON object");
  }
  const out: Record<string, unknown> = { ...DEFAULT_KV_EVENTS_CONFIG };
  let publisherSet = false;
  for (const [k, v] of Object.entries(raw)) {
    const key = KEYS[k];
    if (!key)
      throw new Error(`--kv-events-config: unknown key "${k}" (known: ${Object.keys(KEYS).join(", ")})`);
    const want = typeof DEFAULT_KV_EVENTS_CONFIG[key];
    if (key === "replayEndpoint") {
      if (v !== null && typeof v !== "string")
        throw new Error(`--kv-events-config: "${k}" must be a string or null`);
    } else if (typeof v !== want) {
      throw new Error(`--kv-events-config: "${k}" must be a ${want}`);
    }
    if (
      (key === "bufferSteps" || key === "hwm" || key === "maxQueueSize") &&
      !(Number.isInteger(v) && (v as number) >= 0)
    ) {
      throw new Error(`--kv-events-config: "${k}" must be a non-negative integer`);
    }
    if (key === "publisher") {
      if (v !== "null" && v !== "zmq")
        throw new Error(`--kv-events-config: publisher must be "null" or "zmq"`);
      publisherSet = true;
    }
    out[key] = v;
  }
  // vLLM __post_init__: the publisher defaults to "zmq" when events are enabled, else "null".
  if (!publisherSet) out.publisher = out.enableKvCacheEvents ? "zmq" : "null";
  return out as unknown as KvEventsConfig;
}

/** vLLM's "bind stable, connect volatile" rule for the PUB socket. */
export function shouldBind(endpoint: string): boolean {
  return (
    endpoint.includes("*") ||
    endpoint.includes("::") ||
    endpoint.startsWith("ipc://") ||
    endpoint.startsWith("inproc://")
  );
}

/**
 * vLLM offset_endpoint_port: data-parallel rank (and here also the fleet index) added to a TCP port;
 * inproc endpoints get a `_dp<n>` suffix; ipc endpoints are left alone.
 */
export function offsetEndpointPort(endpoint: string, offset: number): string {
  if (offset === 0) return endpoint;
  if (endpoint.startsWith("inproc://")) return `${endpoint}_dp${offset}`;
  if (endpoint.startsWith("tcp://")) {
    const m = /^(tcp:\/\/.*):(\d+)$/.exec(endpoint);
    if (!m) throw new Error(`cannot offset the port of endpoint "${endpoint}"`);
    return `${m[1]}:${Number(m[2]) + offset}`;
  }
  return endpoint;
}

/** Topic with `{pod}` and `{model}` placeholders filled (plain strings pass through, as in vLLM). */
export function expandTopic(topic: string, pod: string, model: string): string {
  return topic.replaceAll("{pod}", pod).replaceAll("{model}", model);
}
