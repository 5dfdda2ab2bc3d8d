import { describe, expect, test } from "vitest";
import { parseBenchArgs } from "../../lib/args.ts";
import { isPolicy } from "../../lib/options.ts";
import { PEER_POLICIES, peerFleet, peerLaunch, peerPolicy } from "../../lib/peers.ts";
import { isRoutingTier, routingCpuMsPerRequest, type StageEnv } from "../../lib/report/model.ts";
import type { StageResult } from "../../lib/results.ts";

const workers = [
  { url: "http://127.0.0.1:9000", kvEvents: "tcp://127.0.0.1:9100" },
  { url: "http://127.0.0.1:9001", kvEvents: "tcp://127.0.0.1:9101" },
];
const input = {
  venv: "/v",
  port: 30001,
  metricsPort: 30002,
  workers,
  model: "Qwen/Qwen3-32B",
  blockSize: 16,
  tokenizerDir: "/tok",
};

describe("peer routers", () => {
  test("peers - every peer is a policy and maps to its router's own policy name", () => {
    for (const p of PEER_POLICIES) expect(isPolicy(p)).toBe(true);
    expect(peerPolicy("sglang-power-of-two")).toBe("power_of_two");
    expect(peerPolicy("vllm-router-kv-aware")).toBe("kv_aware");
    expect(peerPolicy("vllm-router-round-robin")).toBe("round_robin");
  });

  test("peers - sglang-router runs as a python module in front of every worker", () => {
    const l = peerLaunch("sglang-cache-aware", input);
    expect(l.command).toBe("/v/bin/python");
    expect(l.args.slice(0, 2)).toEqual(["-m", "sglang_router.launch_router"]);
    const w = l.args.indexOf("--worker-urls");
    expect(l.args.slice(w + 1, w + 3)).toEqual(workers.map((x) => x.url));
    expect(l.args[l.args.indexOf("--policy") + 1]).toBe("cache_aware");
    expect(l.args[l.args.indexOf("--port") + 1]).toBe("30001");
    expect(l.args[l.args.indexOf("--prometheus-port") + 1]).toBe("30002");
    expect(l.component).toBe("sglang-router");
  });

  test("peers - vllm-router kv_aware subscribes to each worker's KV events with the tokenizer dir", () => {
    const l = peerLaunch("vllm-router-kv-aware", input);
    expect(l.command).toBe("/v/bin/vllm-router");
    expect(l.env.VLLM_ROUTER_TOKENIZER).toBe("/tok");
    const sources = l.args.flatMap((a, i) => (a === "--kv-event-source" ? [l.args[i + 1]] : []));
    expect(sources).toEqual([
      "http://127.0.0.1:9000=tcp://127.0.0.1:9100",
      "http://127.0.0.1:9001=tcp://127.0.0.1:9101",
    ]);
    expect(l.args[l.args.indexOf("--kv-event-block-size") + 1]).toBe("16");
    expect(l.args[l.args.indexOf("--kv-event-model") + 1]).toBe("Qwen/Qwen3-32B");
    // Other vllm-router policies get no event sources.
    expect(peerLaunch("vllm-router-cache-aware", input).args).not.toContain("--kv-event-source");
  });

  test("peers - the fleet runs alone and publishes KV events under vLLM's default topic, which vllm-router subscribes to", () => {
    // vllm-router's --kv-event-source has no topic: it takes only frames whose topic is "".
    expect(peerFleet("vllm-router-kv-aware")).toEqual({ services: "none", kvEventsTopic: "" });
    for (const p of PEER_POLICIES) expect(peerFleet(p).services).toBe("none");
  });

  test("peers - kv_aware without a worker's event endpoint is refused", () => {
    expect(() =>
      peerLaunch("vllm-router-kv-aware", { ...input, workers: [{ url: "http://127.0.0.1:9000" }] }),
    ).toThrow(/no KV-event endpoint/);
  });
});

describe("routing-tier CPU", () => {
  test("routing tier - model servers and the load generator are not routing", () => {
    for (const c of [
      "gateway",
      "gateway-2",
      "scorer",
      "scorer-2",
      "kv-index",
      "nats",
      "redis",
      "sglang-router",
      "vllm-router",
    ])
      expect(isRoutingTier(c)).toBe(true);
    // The deployer's figure holds the model servers it reaped; the autoscaler is off the request path.
    for (const c of ["load generator", "model-sim", "sim-8000", "sim-0", "deployer", "autoscaler"])
      expect(isRoutingTier(c)).toBe(false);
  });

  test("routing tier - CPU ms per request sums routing components over measured stages", () => {
    const st = (sent: number, warmup: boolean) => ({ sent, warmup }) as StageResult;
    const env = (secs: Record<string, number>): StageEnv => ({
      cpu: { machineBusy: 0.5, cores: 2, components: {}, componentSeconds: secs },
      eventLoopP99Ms: 1,
      eventLoopMaxMs: 1,
      aborted: 0,
    });
    const v = routingCpuMsPerRequest(
      [st(100, true), st(100, false), st(300, false)],
      [
        env({ gateway: 50 }),
        env({ gateway: 1, scorer: 2, "model-sim": 40, "load generator": 9 }),
        env({ gateway: 3, scorer: 2, nats: 0.5, redis: 0.5 }),
      ],
    );
    expect(v).toBeCloseTo((9 * 1000) / 400, 9);
    expect(routingCpuMsPerRequest([st(10, false)], [{ ...env({}), cpu: null }])).toBeNaN();
  });
});

describe("bench flags for the side-by-side", () => {
  test("args - peers, the kv-pressure preset and the inference-perf client parse", () => {
    const { options } = parseBenchArgs(
      [
        "--policies",
        "inferd,sglang-cache-aware,vllm-router-kv-aware",
        "--preset",
        "kv-pressure",
        "--client",
        "inference-perf",
        "--api",
        "completion",
      ],
      () => "",
    );
    expect(options.policies).toEqual(["inferd", "sglang-cache-aware", "vllm-router-kv-aware"]);
    expect(options.preset).toBe("kv-pressure");
    expect(options.workload).toMatchObject({ numGroups: 160, systemPromptLen: 6000, outputLen: 256 });
    expect(options.ladder.map((s) => s.rate)).toEqual([4, 8, 12, 16]);
    expect(options.client).toBe("inference-perf");
    expect(options.api).toBe("completion");
  });

  test("args - the kv-eviction preset: more prefixes than the fleet holds, a ladder to 20 req/s", () => {
    const { options } = parseBenchArgs(["--preset", "kv-eviction"], () => "");
    expect(options.preset).toBe("kv-eviction");
    expect(options.workload).toMatchObject({
      numGroups: 240,
      systemPromptLen: 6000,
      questionLen: 128,
      outputLen: 256,
    });
    expect(options.ladder.map((s) => s.rate)).toEqual([8, 12, 16, 20]);
    expect(
      parseBenchArgs(["--preset", "kv-eviction", "--sims", "2"], () => "").options.ladder.map((s) => s.rate),
    ).toEqual([4, 6, 8, 10]);
    expect(() => parseBenchArgs(["--preset", "kv-eviction", "--workload", "control"], () => "")).toThrow(
      /--preset kv-eviction is a shared-prefix workload/,
    );
  });

  test("args - flags override the preset; unknown presets and clients are errors", () => {
    const { options } = parseBenchArgs(
      ["--preset", "kv-pressure", "--num-groups", "10", "--rates", "1,2"],
      () => "",
    );
    expect(options.workload.numGroups).toBe(10);
    expect(options.ladder.map((s) => s.rate)).toEqual([1, 2]);
    expect(() => parseBenchArgs(["--preset", "huge"], () => "")).toThrow(/--preset/);
    expect(() => parseBenchArgs(["--client", "locust"], () => "")).toThrow(/--client/);
    expect(() =>
      parseBenchArgs(["--client", "inference-perf", "--workload", "multi-turn"], () => ""),
    ).toThrow(/multi-turn/);
  });
});
