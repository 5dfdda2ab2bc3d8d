/**
 * The routers users would pick instead of inferd ("peers"), as the benchmark starts them: which
 * program, which flags, which environment. Pure: the driver (driver/peer.ts) spawns the result.
 * Versions are pinned by scripts/install-peers.sh; flags were checked against those versions' --help.
 */

export const PEER_POLICIES = [
  "sglang-cache-aware",
  "sglang-power-of-two",
  "sglang-round-robin",
  "vllm-router-cache-aware",
  "vllm-router-kv-aware",
  "vllm-router-power-of-two",
  "vllm-router-round-robin",
] as const;
export type PeerPolicy = (typeof PEER_POLICIES)[number];

export function isPeer(p: string): p is PeerPolicy {
  return (PEER_POLICIES as readonly string[]).includes(p);
}

/** Where install-peers.sh puts the venv, relative to the repository root. */
export const PEER_VENV = ".tools/peers";
export const INSTALL_HINT =
  "the peer routers are not installed: run ./scripts/install-peers.sh once (Python >= 3.12, ~2 min; sglang-router 0.3.2, vllm-router 0.1.17, inference-perf 0.7.0 into .tools/peers)";

export interface PeerWorker {
  /** http://127.0.0.1:port */
  readonly url: string;
  /** The server's ZeroMQ KV-event PUB endpoint (tcp://127.0.0.1:port). */
  readonly kvEvents?: string | undefined;
}

export interface PeerLaunchInput {
  readonly venv: string;
  readonly port: number;
  /** Prometheus port of the router (both default to 29000; a free one avoids clashes). */
  readonly metricsPort: number;
  readonly workers: readonly PeerWorker[];
  readonly model: string;
  /** KV block size of the servers (kv_aware hashes blocks of this size). */
  readonly blockSize: number;
  /** Directory with tokenizer.json, tokenizer_config.json, config.json (vllm-router). */
  readonly tokenizerDir: string;
}

export interface PeerLaunch {
  /** "sglang-router" | "vllm-router": the CPU meter's component name. */
  readonly component: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** One line for the report: what was run. */
  readonly describe: string;
}

/**
 * How the fleet in front of a peer is started (`inferd up` flags). Only nats, redis and the servers:
 * the peer routes on its own. The servers publish their KV events under vLLM's default topic "", as
 * an operator's vLLM would, not inferd's `kv@{pod}@{model}`: vllm-router 0.1.17 builds every
 * `--kv-event-source` with topic "" (`parse_static_kv_event_sources`, src/config/mod.rs; the CLI has
 * no topic flag) and its subscriber drops every frame whose topic is not exactly that one
 * (`spawn_inner`, src/kv_index/subscriber.rs: SUB matches prefixes, so it compares the whole frame).
 * With inferd's topic its index stayed empty and kv_aware placed like a load balancer.
 */
export function peerFleet(_policy: PeerPolicy): {
  readonly services: "none";
  readonly kvEventsTopic: string;
} {
  return { services: "none", kvEventsTopic: "" };
}

/** The router's own policy name behind each benchmark policy. */
export function peerPolicy(p: PeerPolicy): string {
  return p.replace(/^(sglang|vllm-router)-/, "").replaceAll("-", "_");
}

export function peerLaunch(policy: PeerPolicy, i: PeerLaunchInput): PeerLaunch {
  const urls = i.workers.map((w) => w.url);
  // Same life for every peer: no request timeout inside the measured window, no rate limit or queue
  // in front of the workers (inferd's gateway has none either), listen on loopback only.
  const common = [
    "--host",
    "127.0.0.1",
    "--port",
    String(i.port),
    "--worker-urls",
    ...urls,
    "--policy",
    peerPolicy(policy),
    "--prometheus-host",
    "127.0.0.1",
    "--prometheus-port",
    String(i.metricsPort),
    "--request-timeout-secs",
    "600",
  ];
  if (policy.startsWith("sglang-")) {
    const args = ["-m", "sglang_router.launch_router", ...common, "--log-level", "warn"];
    return {
      component: "sglang-router",
      command: `${i.venv}/bin/python`,
      args,
      env: {},
      describe: `python ${args.join(" ")}`,
    };
  }
  const args = [...common, "--log-level", "warning", "--max-concurrent-requests", "1000000"];
  if (policy === "vllm-router-kv-aware") {
    for (const w of i.workers) {
      if (!w.kvEvents) throw new Error(`vllm-router kv_aware: worker ${w.url} has no KV-event endpoint`);
      args.push("--kv-event-source", `${w.url}=${w.kvEvents}`);
    }
    args.push("--kv-event-block-size", String(i.blockSize), "--kv-event-model", i.model);
  }
  return {
    component: "vllm-router",
    command: `${i.venv}/bin/vllm-router`,
    args,
    env: { VLLM_ROUTER_TOKENIZER: i.tokenizerDir },
    describe: `VLLM_ROUTER_TOKENIZER=${i.tokenizerDir} vllm-router ${args.join(" ")}`,
  };
}

/**
 * config.json beside the Qwen3 tokenizer files for vllm-router (it loads a Hugging Face model dir).
 * Qwen/Qwen3-32B's published architecture fields; no weights are involved.
 */
export const QWEN3_32B_CONFIG = {
  architectures: ["Qwen3ForCausalLM"],
  model_type: "qwen3",
  bos_token_id: 151643,
  eos_token_id: 151645,
  vocab_size: 151936,
  hidden_size: 5120,
  intermediate_size: 25600,
  num_hidden_layers: 64,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  head_dim: 128,
  max_position_embeddings: 40960,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
} as const;
