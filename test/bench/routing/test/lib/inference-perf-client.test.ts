import { describe, expect, test } from "vitest";
import { parseBenchArgs } from "../../lib/args.ts";
import {
  type IpStageReport,
  inferencePerfConfig,
  stageFromInferencePerf,
} from "../../lib/inference-perf-client.ts";

const { options } = parseBenchArgs(
  ["--client", "inference-perf", "--api", "completion", "--arrivals", "constant", "--seed", "7"],
  () => "",
);

const input = {
  options,
  stage: { rate: 8, duration: 20 },
  index: 2,
  baseUrl: "http://127.0.0.1:8080",
  tokenizerDir: "/tok",
  outDir: "/out",
  drainSeconds: 30,
};

describe("inference-perf client", () => {
  test("inference-perf - config carries the bench's workload, stage, API and target", () => {
    const c = inferencePerfConfig(input) as Record<string, Record<string, unknown>>;
    expect(c.api).toEqual({ type: "completion", streaming: true });
    expect(c.data).toEqual({
      type: "shared_prefix",
      shared_prefix: {
        num_groups: 140,
        num_prompts_per_group: 5,
        system_prompt_len: 6000,
        question_len: 128,
        output_len: 256,
        seed: 7,
      },
    });
    expect(c.load).toMatchObject({ type: "constant", stages: [{ rate: 8, duration: 20 }], base_seed: 7002 });
    expect(c.server).toEqual({
      type: "vllm",
      model_name: "Qwen/Qwen3-32B",
      base_url: "http://127.0.0.1:8080",
      ignore_eos: true,
    });
    expect(c.tokenizer).toEqual({ pretrained_model_name_or_path: "/tok" });
    expect(c.storage).toEqual({ local_storage: { path: "/out" } });
  });

  test("inference-perf - control workload shares nothing; multi-turn is refused", () => {
    const control = parseBenchArgs(["--workload", "control"], () => "").options;
    const c = inferencePerfConfig({ ...input, options: control }) as {
      data: { shared_prefix: Record<string, number> };
    };
    expect(c.data.shared_prefix).toMatchObject({
      num_prompts_per_group: 1,
      system_prompt_len: 0,
      question_len: 6128,
    });
    const mt = parseBenchArgs(["--workload", "multi-turn"], () => "").options;
    expect(() => inferencePerfConfig({ ...input, options: mt })).toThrow(/multi-turn/);
  });

  test("inference-perf - a stage report becomes a StageResult judged like the built-in one", () => {
    const pct = (p50: number, p90: number, p99: number) => ({
      mean: p50,
      min: 0,
      max: p99,
      median: p50,
      p90,
      p99,
    });
    const report: IpStageReport = {
      load_summary: { count: 100, achieved_rate: 7.9, schedule_delay: pct(0.001, 0.002, 0.004) },
      successes: {
        count: 98,
        latency: {
          time_to_first_token: pct(0.2, 0.6, 1.1),
          inter_token_latency: pct(0.021, 0.03, 0.08),
          request_latency: pct(6, 8, 9),
        },
        throughput: { input_tokens_per_sec: 49_000, output_tokens_per_sec: 2000 },
      },
      failures: { count: 2, by_label: { "503": 2 } },
      benchmark_time_seconds: 28,
    };
    const counters = {
      prefixHits: 90,
      prefixQueries: 100,
      preemptions: 1,
      promptTokens: 0,
      generationTokens: 0,
    };
    const s = stageFromInferencePerf(report, {
      name: "stage 2",
      rate: 8,
      warmup: false,
      counters,
      router: null,
    });
    expect(s).toMatchObject({
      sent: 100,
      succeeded: 98,
      successRate: 0.98,
      achievedRps: 7.9,
      cacheHitRate: 0.9,
    });
    expect(s.ttft).toMatchObject({ count: 98, p50: 0.2, p90: 0.6, p99: 1.1 });
    expect(s.itl.p90).toBe(0.03);
    expect(s.e2e.p90).toBe(8);
    expect(s.lagMs.p99).toBe(4);
    expect(s.failures).toEqual({ "inference-perf": 2 });
    expect(s.outputTokensPerSecond).toBe(2000);
  });

  test("inference-perf - a stage without successes has NaN latencies, not zeros", () => {
    const s = stageFromInferencePerf(
      { load_summary: { count: 5 }, successes: { count: 0, latency: {} }, failures: { count: 5 } },
      { name: "stage 1", rate: 4, warmup: false, counters: null, router: null },
    );
    expect(s.successRate).toBe(0);
    expect(s.ttft.p90).toBeNaN();
    expect(s.cacheHitRate).toBeNaN();
  });
});
