import { describe, expect, it } from "vitest";
import {
  bearerToken,
  DEFAULT_FAIRNESS_ID,
  HeaderError,
  readRequestMeta,
} from "../../src/domain/request-meta.ts";

const objectives = new Map([
  ["critical", 100],
  ["batch", -10],
]);
const id = () => "generated";

describe("request-meta", () => {
  it("request-meta - llm-d headers map to priority, fairness, SLOs and session", () => {
    const m = readRequestMeta(
      {
        "x-request-id": "r1",
        "x-session-id": "s1",
        "x-llm-d-inference-objective": "batch",
        "x-llm-d-inference-fairness-id": "tenant-a",
        "x-llm-d-slo-ttft-ms": "250",
        "x-llm-d-slo-tpot-ms": "20.5",
      },
      objectives,
      id,
    );
    expect(m).toEqual({
      requestId: "generated",
      clientRequestId: "r1",
      sessionId: "s1",
      objective: "batch",
      priority: -10,
      fairnessId: "tenant-a",
      sloTtftMs: 250,
      sloTpotMs: 20.5,
    });
  });

  it("request-meta - defaults, legacy names, integer objectives and unknown names", () => {
    const m = readRequestMeta({}, objectives, id);
    expect(m.requestId).toBe("generated");
    expect(m.priority).toBe(0);
    expect(m.fairnessId).toBe(DEFAULT_FAIRNESS_ID);
    expect(m.sloTtftMs).toBeUndefined();
    expect(readRequestMeta({ "x-gateway-inference-objective": "critical" }, objectives, id).priority).toBe(
      100,
    );
    expect(readRequestMeta({ "x-llm-d-inference-objective": "-3" }, objectives, id).priority).toBe(-3);
    expect(readRequestMeta({ "x-llm-d-inference-objective": "who" }, objectives, id).priority).toBe(0);
    expect(readRequestMeta({ "x-gateway-inference-fairness-id": "t" }, objectives, id).fairnessId).toBe("t");
  });

  it("request-meta - the client's x-request-id is kept for correlation, never used as the request's identity", () => {
    let n = 0;
    const mint = () => `internal-${++n}`;
    const a = readRequestMeta({ "x-request-id": "same" }, objectives, mint);
    const b = readRequestMeta({ "x-request-id": "same" }, objectives, mint);
    expect([a.requestId, b.requestId]).toEqual(["internal-1", "internal-2"]);
    expect([a.clientRequestId, b.clientRequestId]).toEqual(["same", "same"]);
    expect(readRequestMeta({}, objectives, mint).clientRequestId).toBe("");
  });

  it("request-meta - llm-d's x-session-token is a session key when x-session-id is absent", () => {
    expect(readRequestMeta({ "x-session-token": "cG9kLWE=" }, objectives, id).sessionId).toBe("cG9kLWE=");
    expect(
      readRequestMeta({ "x-session-token": "cG9kLWE=", "x-session-id": "s" }, objectives, id).sessionId,
    ).toBe("s");
  });

  it("request-meta - a malformed SLO header is an error naming the header", () => {
    expect(() => readRequestMeta({ "x-llm-d-slo-ttft-ms": "soon" }, objectives, id)).toThrow(HeaderError);
    expect(() => readRequestMeta({ "x-llm-d-slo-tpot-ms": "-1" }, objectives, id)).toThrow(
      /x-llm-d-slo-tpot-ms/,
    );
  });

  it("request-meta - bearer token", () => {
    expect(bearerToken({ authorization: "Bearer abc " })).toBe("abc");
    expect(bearerToken({ authorization: "Basic abc" })).toBe("");
    expect(bearerToken({})).toBe("");
  });
});
