import { describe, expect, test } from "vitest";
import { countersFromText } from "../../driver/scrape.ts";
import { parseReadyLine } from "../../driver/stack.ts";
import { aggregateStage } from "../../lib/results.ts";

describe("bench driver parsing", () => {
  test("bench driver parsing - INFERD_UP_READY line (with a log prefix) and other lines", () => {
    const info = parseReadyLine(
      'INFERD_UP_READY {"gateway":"http://127.0.0.1:1","nats":"nats://x","sims":[{"pod":"sim-1","address":"http://127.0.0.1:2"}],"pids":{"gateway":5}}',
    );
    expect(info?.gateway).toBe("http://127.0.0.1:1");
    expect(info?.sims[0]?.pod).toBe("sim-1");
    expect(info?.pids?.gateway).toBe(5);
    expect(parseReadyLine("gateway | ready")).toBeNull();
    expect(() => parseReadyLine('INFERD_UP_READY {"nats":"x"}')).toThrow(/sims/);
  });

  test("bench driver parsing - vLLM counters from /metrics; missing prefix counters are unknown, not 0", () => {
    const text = [
      'vllm:prefix_cache_queries_total{model_name="m",engine="0"} 1000',
      'vllm:prefix_cache_hits_total{model_name="m",engine="0"} 640',
      'vllm:num_preemptions_total{model_name="m",engine="0"} 2',
      'vllm:prompt_tokens_total{model_name="m",engine="0"} 1000',
    ].join("\n");
    expect(countersFromText(text)).toEqual({
      prefixHits: 640,
      prefixQueries: 1000,
      preemptions: 2,
      promptTokens: 1000,
      generationTokens: 0,
    });
    expect(countersFromText('vllm:num_requests_running{engine="0"} 1')).toBeNull();
  });

  test("bench driver parsing - gateway-added latency is the mean over the stage's router counters", () => {
    const s = aggregateStage({
      name: "s",
      rate: 1,
      warmup: false,
      records: [],
      counters: null,
      router: { scorerFailures: 1, kvLookupErrors: 0, addedLatencySum: 0.05, addedLatencyCount: 10 },
      endpoints: [],
    });
    expect(s.routerAddedMs).toBeCloseTo(5, 12);
    expect(s.router?.scorerFailures).toBe(1);
    expect(
      aggregateStage({ name: "s", rate: 1, warmup: false, records: [], counters: null, endpoints: [] })
        .routerAddedMs,
    ).toBeNaN();
  });
});
