import { describe, expect, test } from "vitest";
import { pick, sumSamples } from "../../lib/prom.ts";
import { parseChunk, SseReader } from "../../lib/sse.ts";

describe("bench prometheus text", () => {
  test("bench prometheus text - sums label sets, skips comments, keeps colons in names", () => {
    const text = [
      "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.",
      "# TYPE vllm:prefix_cache_hits_total counter",
      'vllm:prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen3-32B"} 1200',
      'vllm:prefix_cache_hits_total{engine="1",model_name="a b}c"} 34.5',
      'vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-32B"} 4e3 1700000000000',
      "vllm:num_requests_running 3",
      "weird_value NaNx",
    ].join("\n");
    const s = sumSamples(text);
    expect(s.get("vllm:prefix_cache_hits_total")).toBeCloseTo(1234.5, 9);
    expect(s.get("vllm:prefix_cache_queries_total")).toBe(4000);
    expect(s.get("vllm:num_requests_running")).toBe(3);
    expect(s.has("weird_value")).toBe(false);
    expect(pick(s, "vllm:nope", "vllm:num_requests_running")).toBe(3);
    expect(pick(s, "vllm:nope")).toBeNull();
  });
});

describe("bench sse", () => {
  test("bench sse - events split across reads, CRLF, comments and [DONE]", () => {
    const r = new SseReader();
    expect(r.push('data: {"a":')).toEqual([]);
    expect(r.push('1}\n\n: keep-alive\n\ndata: {"b":2}\r\n\r\ndata: [DO')).toEqual(['{"a":1}', '{"b":2}']);
    expect(r.push("NE]\n\n")).toEqual(["[DONE]"]);
    expect(r.push("data: tail")).toEqual([]);
    expect(r.end()).toEqual(["tail"]);
  });

  test("bench sse - chat and completion chunks, usage and errors", () => {
    expect(parseChunk('{"choices":[{"index":0,"delta":{"content":"hi"}}]}').content).toBe("hi");
    expect(parseChunk('{"choices":[{"index":0,"delta":{"role":"assistant"}}]}').content).toBe("");
    expect(parseChunk('{"choices":[{"index":0,"text":" yo","finish_reason":null}]}').content).toBe(" yo");
    const u = parseChunk(
      '{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}',
    );
    expect(u.usage).toEqual({ promptTokens: 10, completionTokens: 3, cachedTokens: 8 });
    expect(parseChunk('{"error":{"message":"boom","code":500}}').error).toBe("boom");
  });
});
