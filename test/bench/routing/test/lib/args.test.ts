import { describe, expect, test } from "vitest";
import { ArgsError, defaultRates, parseBenchArgs } from "../../lib/args.ts";
import { importInferencePerf } from "../../lib/inference-perf.ts";
import { POLICIES, sizing } from "../../lib/options.ts";

const noFile = (p: string): string => {
  throw new Error(`no file ${p}`);
};

const LLMD_B2B = `
load:
  type: poisson
  stages:
  - rate: 3
    duration: 20
  - rate: 10
    duration: 30
  worker_max_concurrency: 100
api:
  type: completion
  streaming: true
server:
  type: vllm
  model_name: REPLACE_ENV_LLMDBENCH_DEPLOY_CURRENT_MODEL
  ignore_eos: true
data:
  type: shared_prefix
  shared_prefix:
    num_groups: 150
    num_prompts_per_group: 5
    system_prompt_len: 6000
    question_len: 1200
    output_len: 1000
    question_distribution: {mean: 1200}
`;

describe("bench args", () => {
  test("bench args - defaults: all six policies, shared prefix, ladder scaled by servers, SLO 2 s / 50 ms", () => {
    const { options: o } = parseBenchArgs([], noFile);
    expect(o.policies).toEqual([...POLICIES]);
    expect(o.workload.kind).toBe("shared-prefix");
    expect(o.api).toBe("chat");
    expect(o.sims).toBe(4);
    expect(o.ladder.map((s) => s.rate)).toEqual(defaultRates("shared-prefix", 4, false));
    expect(o.slo).toEqual({ ttftP90: 2, itlP90: 0.05, minSuccess: 0.99 });
    expect(o.warmup?.rate).toBe(o.ladder[0]!.rate);
    expect(o.kvTokensPerServer).toBe(307_328);
  });

  test("bench args - flags set the workload, ladder, policies and outputs", () => {
    const { options: o } = parseBenchArgs(
      [
        "--num-groups",
        "10",
        "--rates",
        "1,2.5,4",
        "--stage-duration",
        "12",
        "--policies",
        "inferd,oracle",
        "--group-skew",
        "1.1",
        "--json",
        "x.json",
        "--seed",
        "9",
        "--no-warmup",
      ],
      noFile,
    );
    expect(o.workload.numGroups).toBe(10);
    expect(o.workload.groupSkew).toBe(1.1);
    expect(o.ladder).toEqual([
      { rate: 1, duration: 12 },
      { rate: 2.5, duration: 12 },
      { rate: 4, duration: 12 },
    ]);
    expect(o.policies).toEqual(["inferd", "oracle"]);
    expect(o.jsonPath).toBe("x.json");
    expect(o.seed).toBe(9);
    expect(o.warmup).toBeNull();
  });

  test("bench args - --turns selects multi-turn; bad values are clear errors", () => {
    expect(parseBenchArgs(["--turns", "3"], noFile).options.workload).toMatchObject({
      kind: "multi-turn",
      turns: 3,
    });
    expect(() => parseBenchArgs(["--rates", "3,2"], noFile)).toThrow(/increase/);
    expect(() => parseBenchArgs(["--policies", "fastest"], noFile)).toThrow(ArgsError);
    expect(() => parseBenchArgs(["--num-groups", "0"], noFile)).toThrow(/--num-groups/);
    expect(() => parseBenchArgs(["--workload", "multi-turn", "--api", "completion"], noFile)).toThrow(/chat/);
    expect(() => parseBenchArgs(["--workload", "control", "--group-skew", "1"], noFile)).toThrow(
      /shared-prefix/,
    );
    expect(() => parseBenchArgs(["--bogus"], noFile)).toThrow(ArgsError);
    expect(() => parseBenchArgs(["--config", "nope.yaml"], noFile)).toThrow(/cannot read/);
  });

  test("bench args - --quick is small and short", () => {
    const { options: o } = parseBenchArgs(["--quick"], noFile);
    expect(o.quick).toBe(true);
    const seconds = (o.warmup?.duration ?? 0) + o.ladder.reduce((a, s) => a + s.duration, 0);
    expect(seconds).toBeLessThanOrEqual(20);
    expect(o.workload.numGroups).toBeLessThan(50);
  });

  test("bench args - inference-perf YAML: shared_prefix data and poisson stages, flags override", () => {
    const { options: o, warnings } = parseBenchArgs(
      ["--config", "b2b.yaml", "--output-len", "64"],
      () => LLMD_B2B,
    );
    expect(o.workload).toMatchObject({
      numGroups: 150,
      numPromptsPerGroup: 5,
      systemPromptLen: 6000,
      questionLen: 1200,
      outputLen: 64,
    });
    expect(o.ladder).toEqual([
      { rate: 3, duration: 20 },
      { rate: 10, duration: 30 },
    ]);
    expect(o.api).toBe("completion");
    expect(o.model).toBe("Qwen/Qwen3-32B");
    expect(o.arrivals).toBe("poisson");
    expect(warnings).toEqual([
      "--config: ignoring data.shared_prefix.question_distribution",
      "--config: ignoring load.worker_max_concurrency",
    ]);
  });

  test("bench args - inference-perf YAML: unsupported data and load types are errors", () => {
    expect(() => importInferencePerf("data:\n  type: shareGPT\n")).toThrow(/shared_prefix/);
    expect(() => importInferencePerf("load:\n  type: concurrent\n")).toThrow(/poisson/);
    expect(() => importInferencePerf("load:\n  type: poisson\n  sweep: {type: linear}\n")).toThrow(/sweep/);
    expect(() => importInferencePerf("data:\n  shared_prefix:\n    num_groups: -1\n")).toThrow(/num_groups/);
    expect(
      importInferencePerf(
        "data:\n  type: shared_prefix\n  shared_prefix:\n    enable_multi_turn_chat: true\n",
      ).workload.kind,
    ).toBe("multi-turn");
    expect(() => importInferencePerf(": : :")).toThrow(/YAML/);
  });

  test("bench args - sizing compares the working set with the cluster's and one server's KV", () => {
    const { options: o } = parseBenchArgs([], noFile);
    const z = sizing(o.workload, o.sims, o.kvTokensPerServer);
    expect(z.prefixTokens).toBe(o.workload.numGroups * o.workload.systemPromptLen);
    expect(z.clusterFill).toBeGreaterThanOrEqual(0.5);
    expect(z.clusterFill).toBeLessThanOrEqual(0.8);
    expect(z.serverMultiple).toBeGreaterThanOrEqual(2);
    expect(sizing({ ...o.workload, kind: "control" }, 4, 1000).workingSetTokens).toBe(0);
  });
});

describe("bench args - issue 16 scenarios", () => {
  test("bench args - replicas and a mid-stage prefix-cache reset", () => {
    const d = parseBenchArgs([], noFile).options;
    expect([d.gatewayReplicas, d.scorerReplicas, d.resetPrefixCacheAt]).toEqual([1, 1, null]);
    const o = parseBenchArgs(
      ["--gateway-replicas", "2", "--scorer-replicas", "3", "--reset-prefix-cache-at", "12.5"],
      noFile,
    ).options;
    expect([o.gatewayReplicas, o.scorerReplicas, o.resetPrefixCacheAt]).toEqual([2, 3, 12.5]);
    expect(() => parseBenchArgs(["--scorer-replicas", "0"], noFile)).toThrow(ArgsError);
  });

  test("bench args - --restart-server-at / --restart-servers: seconds and count, checked", () => {
    const o = parseBenchArgs(["--restart-server-at", "5", "--restart-servers", "2"], noFile).options;
    expect([o.restartServerAt, o.restartServers]).toEqual([5, 2]);
    const d = parseBenchArgs([], noFile).options;
    expect([d.restartServerAt, d.restartServers]).toEqual([null, 1]);
    expect(() => parseBenchArgs(["--restart-servers", "2"], noFile)).toThrow(/--restart-server-at/);
    expect(() => parseBenchArgs(["--restart-server-at", "5", "--restart-servers", "5"], noFile)).toThrow(
      /more than the 4 servers/,
    );
    expect(() => parseBenchArgs(["--restart-server-at", "-1"], noFile)).toThrow(ArgsError);
    expect(() => parseBenchArgs(["--restart-server-at", "5", "--attach", "{}"], noFile)).toThrow(/attach/);
  });

  test("bench args - --seeds: a list of distinct seeds, the first is the seed; not with --seed", () => {
    const o = parseBenchArgs(["--seeds", "3,1,2"], noFile).options;
    expect(o.seeds).toEqual([3, 1, 2]);
    expect(o.seed).toBe(3);
    expect(parseBenchArgs(["--seed", "7"], noFile).options.seeds).toEqual([7]);
    expect(() => parseBenchArgs(["--seeds", "1,1"], noFile)).toThrow(/twice/);
    expect(() => parseBenchArgs(["--seeds", "1,x"], noFile)).toThrow(/--seeds/);
    expect(() => parseBenchArgs(["--seeds", ","], noFile)).toThrow(/empty/);
    expect(() => parseBenchArgs(["--seeds", "1,2", "--seed", "3"], noFile)).toThrow(/one of them/);
  });

  test("bench args - multi-turn defaults: 64 groups x 2 users x 6 turns, about half the cluster's KV", () => {
    const o = parseBenchArgs(["--workload", "multi-turn"], noFile).options;
    expect(o.workload).toMatchObject({
      numGroups: 64,
      numPromptsPerGroup: 2,
      turns: 6,
      systemPromptLen: 6000,
    });
    const z = sizing(o.workload, o.sims, o.kvTokensPerServer);
    expect(z.clusterFill).toBeGreaterThan(0.5);
    expect(z.clusterFill).toBeLessThan(0.8);
    // Shared-prefix defaults are unchanged by it.
    expect(parseBenchArgs([], noFile).options.workload.numGroups).toBe(140);
  });

  test("bench args - llm-d-default is an opt-in policy routed by the scorer profile of that name", () => {
    expect(parseBenchArgs(["--policies", "inferd,llm-d-default"], noFile).options.policies).toEqual([
      "inferd",
      "llm-d-default",
    ]);
    expect(POLICIES as readonly string[]).not.toContain("llm-d-default");
  });
});
