import { describe, expect, it } from "vitest";
import { extractMetrics } from "../../src/state/metric-aliases.ts";
import { parsePromText } from "../../src/state/prom-text.ts";

const VLLM = `# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-32B"} 3.0
vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-32B"} 2.0
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-32B"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-32B"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen3-32B"} 0.5
vllm:cache_config_info{block_size="16",cache_dtype="auto",num_gpu_blocks="27000"} 1.0
vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql,chat",waiting_lora_adapters=""} 1.7e9
vllm:lora_requests_info{max_lora="4",running_lora_adapters="old",waiting_lora_adapters="x"} 1.6e9
vllm:time_to_first_token_seconds_bucket{le="0.1"} 4
`;

describe("metrics scraping", () => {
  it("metrics - vLLM names: queues summed over engines, KV usage max, cache config, latest LoRA info", () => {
    expect(extractMetrics(VLLM, 5)).toEqual({
      waiting: 5,
      running: 7,
      kvUsage: 0.5,
      blockSize: 16,
      numGpuBlocks: 27000,
      maxLora: 4,
      runningLoras: ["sql", "chat"],
      waitingLoras: [],
      scrapedAtMs: 5,
    });
  });

  it("metrics - old vLLM and SGLang aliases resolve", () => {
    expect(extractMetrics("vllm:gpu_cache_usage_perc 0.7\n", 0).kvUsage).toBe(0.7);
    const m = extractMetrics(
      'sglang_num_queue_reqs{x="1"} 4\nsglang:token_usage 0.3\nsglang:cache_config_info{page_size="32",num_pages="100"} 1\n',
      0,
    );
    expect(m).toMatchObject({ waiting: 4, kvUsage: 0.3, blockSize: 32, numGpuBlocks: 100 });
  });

  it("metrics - a missing metric is unknown, not 0", () => {
    const m = extractMetrics("vllm:num_requests_running 2\n", 0);
    expect(m.running).toBe(2);
    expect("waiting" in m).toBe(false);
    expect("kvUsage" in m).toBe(false);
  });

  it("metrics - label values with escapes, commas and braces parse", () => {
    const s = parsePromText('a{x="q\\"uo,te}",y="z"} 1 1700000000\n', new Set(["a"]));
    expect(s).toEqual([{ name: "a", labels: { x: 'q"uo,te}', y: "z" }, value: 1 }]);
  });

  it("metrics - lines: surrounding whitespace and CRLF ignored, unwanted and malformed lines skipped", () => {
    const text = [
      "  a 1  ",
      '\ta{x="1"} 2\r',
      "# a 9",
      "a",
      "a\t7",
      "ab 8",
      ' b{x="1"} 3',
      'a{x="1" 4',
      "a NaN",
      "a +Inf 1700000000",
      "a{} -1e3",
      "",
    ].join("\n");
    expect(parsePromText(text, new Set(["a"]))).toEqual([
      { name: "a", labels: {}, value: 1 },
      { name: "a", labels: { x: "1" }, value: 2 },
      { name: "a", labels: {}, value: Number.NaN },
      { name: "a", labels: {}, value: Number.POSITIVE_INFINITY },
      { name: "a", labels: {}, value: -1000 },
    ]);
  });
});
