import { join } from "node:path";
import { decodeKvEventBatch } from "@inferd/kv-blocks";
import { freePort, type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";
import { requestReplay } from "../../src/ingest/replay-client.ts";

const SIM_MAIN = join(import.meta.dirname, "../../../model-sim/src/main.ts");

export interface SimProcess {
  pod: string;
  url: string;
  /** Connectable PUB and replay endpoints (the simulator binds tcp://*:port). */
  kvEvents: string;
  replay: string;
  ports: { http: number; pub: number; replay: number };
  proc: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts services/model-sim as a child process (services never import each other), with a
 * small KV cache so that traffic causes evictions, and waits for /health.
 */
export async function startSim(options: {
  pod: string;
  encoding: "array" | "map";
  gpuBlocks?: number;
  ports?: { http: number; pub: number; replay: number };
  /** More model-sim arguments (e.g. `--model`, `--tokenizer`). */
  extraArgs?: string[];
}): Promise<SimProcess> {
  const ports = options.ports ?? { http: await freePort(), pub: await freePort(), replay: await freePort() };
  const kvConfig = {
    enable_kv_cache_events: true,
    publisher: "zmq",
    endpoint: `tcp://*:${ports.pub}`,
    replay_endpoint: `tcp://*:${ports.replay}`,
    topic: "kv@{pod}@{model}",
  };
  const proc = startProcess({
    command: process.execPath,
    args: [
      SIM_MAIN,
      "--port",
      String(ports.http),
      "--pod-name",
      options.pod,
      "--profile",
      "tiny-fast",
      "--num-gpu-blocks-override",
      String(options.gpuBlocks ?? 96),
      "--kv-events-encoding",
      options.encoding,
      "--prefix-caching-hash-algo",
      "sha256_cbor",
      "--kv-events-config",
      JSON.stringify(kvConfig),
      "--log-level",
      "warn",
      ...(options.extraArgs ?? []),
    ],
    env: { ...process.env, PYTHONHASHSEED: "0" },
  });
  const url = `http://127.0.0.1:${ports.http}`;
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`model-sim exited: ${proc.output()}`);
      return (await fetch(`${url}/health`)).ok;
    },
    { timeoutMs: 20_000, message: `model-sim ${options.pod} healthy` },
  );
  return {
    pod: options.pod,
    url,
    kvEvents: `tcp://127.0.0.1:${ports.pub}`,
    replay: `tcp://127.0.0.1:${ports.replay}`,
    ports,
    proc,
    stop: () => proc.stop(),
  };
}

export async function complete(sim: SimProcess, prompt: string, maxTokens = 4): Promise<void> {
  const res = await fetch(`${sim.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "Qwen/Qwen3-32B", prompt, max_tokens: maxTokens }),
  });
  if (!res.ok) throw new Error(`completion failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/**
 * The simulator's cached set as its own event history says: every batch still in its replay
 * buffer (the whole run, far below vLLM's 10 000 batches), folded into hash -> copies.
 * Read through the replay socket, independently of kv-index's live path.
 */
export async function cachedSetFromHistory(sim: SimProcess): Promise<Map<bigint, number>> {
  const frames = await requestReplay(sim.replay, 0n, { timeoutMs: 5_000 });
  const cached = new Map<bigint, number>();
  let expected = 0n;
  for (const f of frames) {
    if (f.seq !== expected)
      throw new Error(`simulator history does not start at 0 or has a hole at ${expected}`);
    expected++;
    for (const e of decodeKvEventBatch(f.payload).events) {
      if (e.type === "BlockStored") for (const h of e.blockHashes) cached.set(h, (cached.get(h) ?? 0) + 1);
      else if (e.type === "BlockRemoved") {
        for (const h of e.blockHashes) {
          const n = cached.get(h) ?? 0;
          if (n <= 1) cached.delete(h);
          else cached.set(h, n - 1);
        }
      } else if (e.type === "AllBlocksCleared") cached.clear();
    }
  }
  return cached;
}
