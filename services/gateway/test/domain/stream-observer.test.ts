import { describe, expect, it } from "vitest";
import { StreamObserver, summarise, usageFromJsonText } from "../../src/domain/stream-observer.ts";

const chunk = (content: string) =>
  JSON.stringify({ choices: [{ index: 0, delta: { content } }], usage: null });
const usageChunk = JSON.stringify({
  choices: [],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 8 },
  },
});

describe("stream-observer", () => {
  it("stream-observer - first token, gaps and usage from the final chunk", () => {
    const o = new StreamObserver({ stripUsageChunk: true });
    expect(o.onData(chunk("a"), 1000)).toBe("forward");
    expect(o.onData(chunk("b"), 1010)).toBe("forward");
    expect(o.onData(chunk("c"), 1030)).toBe("forward");
    expect(o.onData(usageChunk, 1031)).toBe("drop");
    expect(o.onData("[DONE]", 1032)).toBe("forward");
    expect(o.firstTokenAt).toBe(1000);
    expect(o.gaps).toEqual([0.01, 0.02]);
    expect(o.usage).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
    expect(o.done).toBe(true);
  });

  it("stream-observer - the usage chunk is kept when the client asked for it", () => {
    const o = new StreamObserver({ stripUsageChunk: false });
    expect(o.onData(usageChunk, 1)).toBe("forward");
    expect(o.usage?.completionTokens).toBe(3);
    // A usage-only chunk is not a token.
    expect(o.firstTokenAt).toBeUndefined();
  });

  it("stream-observer - a role-only first delta does not start TTFT", () => {
    const o = new StreamObserver({ stripUsageChunk: true });
    const role = JSON.stringify({
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
    });
    expect(o.onData(role, 100)).toBe("forward");
    expect(o.firstTokenAt).toBeUndefined();
    o.onData(chunk("a"), 250);
    expect(o.firstTokenAt).toBe(250);
    // A role delta that carries content is a token.
    const o2 = new StreamObserver({ stripUsageChunk: true });
    o2.onData(JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant", content: "Hi" } }] }), 7);
    expect(o2.firstTokenAt).toBe(7);
  });

  it("stream-observer - an error object inside the stream is noted", () => {
    const o = new StreamObserver({ stripUsageChunk: true });
    o.onData(JSON.stringify({ error: { message: "boom" } }), 1);
    expect(o.upstreamError).toContain("boom");
  });

  it("stream-observer - summarise gives mean, nearest-rank p90 and max", () => {
    const s = summarise([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.5]);
    expect(s.count).toBe(10);
    expect(s.max).toBe(0.5);
    expect(s.p90).toBe(0.09);
    expect(s.mean).toBeCloseTo(0.095, 6);
    expect(summarise([])).toEqual({ mean: 0, p90: 0, max: 0, count: 0 });
  });
});

describe("stream-observer usage", () => {
  it("stream-observer - usage is cut out of a whole response without parsing the text", () => {
    const body = JSON.stringify({
      choices: [{ message: { content: 'tricky "usage": {"prompt_tokens": 999} }' } }],
      usage: { prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 1 } },
      kv_transfer_params: null,
    });
    expect(usageFromJsonText(body)).toEqual({ promptTokens: 5, completionTokens: 2, cachedTokens: 1 });
    expect(usageFromJsonText('{"usage": null}')).toBeUndefined();
    expect(usageFromJsonText("not json")).toBeUndefined();
    expect(usageFromJsonText('{"usage":{"prompt_tokens":3')).toBeUndefined();
  });
});
