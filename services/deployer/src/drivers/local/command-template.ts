/** Values a local server's command line may name as `{placeholder}`. */
export interface CommandValues {
  model: string;
  pool: string;
  pod: string;
  port: number;
  kvEventsPort: number;
  kvReplayPort: number;
  /** vLLM's --kv-events-config JSON, binding the PUB and ROUTER sockets on the ports above. */
  kvEventsConfig: string;
}

/**
 * Expands `{model}`, `{pool}`, `{pod}`, `{port}`, `{kvEventsPort}`, `{kvReplayPort}` and
 * `{kvEventsConfig}` in each argument. An unknown placeholder is an error, not passed through,
 * so a typo in a vLLM template fails at start rather than on the server's command line.
 */
export function expandCommand(template: readonly string[], values: CommandValues): string[] {
  return template.map((arg) =>
    arg.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => {
      if (!(name in values)) throw new Error(`command template: unknown placeholder {${name}} in "${arg}"`);
      return String(values[name as keyof CommandValues]);
    }),
  );
}

/**
 * llm-d's topic convention (model-sim fills `{pod}` and `{model}`); kv-index reads the pod and model
 * from it. vLLM's own default is "", which is what vllm-router's `--kv-event-source` expects.
 */
export const DEFAULT_KV_EVENTS_TOPIC = "kv@{pod}@{model}";

/** The --kv-events-config vLLM (and model-sim) read: ZeroMQ PUB + replay on the allocated ports. */
export function kvEventsConfig(
  kvEventsPort: number,
  kvReplayPort: number,
  topic = DEFAULT_KV_EVENTS_TOPIC,
): string {
  return JSON.stringify({
    enable_kv_cache_events: true,
    publisher: "zmq",
    endpoint: `tcp://*:${kvEventsPort}`,
    replay_endpoint: `tcp://*:${kvReplayPort}`,
    topic,
  });
}

/** `vllm serve` for a user with GPUs on one box; extra engine flags go in the pool's `args`. */
export const VLLM_COMMAND = [
  "vllm",
  "serve",
  "{model}",
  "--port",
  "{port}",
  "--kv-events-config",
  "{kvEventsConfig}",
];
