import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeToken, parseModelPod, subjects, unescapeToken } from "../src/index.ts";

describe("protocol - token escaping", () => {
  it("round-trips every string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (name) => {
        expect(unescapeToken(escapeToken(name))).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it("never yields a token with '.', '*', '>' or whitespace, and always a valid KV key segment", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (name) => {
        const token = escapeToken(name);
        expect(token.length).toBeGreaterThan(0);
        expect(token).not.toMatch(/[.*>\s]/);
        expect(token).toMatch(/^[-_=A-Za-z0-9]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("is injective", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        fc.pre(a !== b);
        expect(escapeToken(a)).not.toBe(escapeToken(b));
      }),
    );
  });

  it.each([
    ["Qwen/Qwen3-32B", "Qwen=2FQwen3-32B"],
    ["meta-llama/Llama-3.1-8B-Instruct", "meta-llama=2FLlama-3=2E1-8B-Instruct"],
    ["a*b>c d", "a=2Ab=3Ec=20d"],
    ["模型", "=E6=A8=A1=E5=9E=8B"],
    ["", "="],
  ])("escapes %j as %j", (name, token) => {
    expect(escapeToken(name)).toBe(token);
    expect(unescapeToken(token)).toBe(name);
  });

  it("rejects malformed tokens with a clear error", () => {
    expect(() => unescapeToken("a=ZZ")).toThrow(/invalid escaped token/);
    expect(() => unescapeToken("a.b")).toThrow(/unexpected "\."/);
  });
});

describe("protocol - subjects", () => {
  const s = subjects();

  it("builds every subject of the contract", () => {
    expect(s.kvEvents("Qwen/Qwen3-32B", "pod-1")).toBe("inferd.v1.kv.events.Qwen=2FQwen3-32B.pod-1");
    expect(s.kvLookup()).toBe("inferd.v1.kv.lookup");
    expect(s.schedPick()).toBe("inferd.v1.sched.pick");
    expect(s.schedDecisions("m")).toBe("inferd.v1.sched.decisions.m");
    expect(s.requests("m")).toBe("inferd.v1.requests.m");
    expect(s.load("m", "p")).toBe("inferd.v1.load.m.p");
    expect(s.decisions("m", "pool")).toBe("inferd.v1.autoscale.decisions.m.pool");
    expect(s.demand("m")).toBe("inferd.v1.autoscale.demand.m");
    expect(s.endpointKey("Qwen/Qwen3-32B", "10.0.0.7")).toBe("Qwen=2FQwen3-32B.10=2E0=2E0=2E7");
  });

  it("parses a model/pod pair back", () => {
    expect(parseModelPod(s.endpointKey("meta-llama/Llama-3.1-8B-Instruct", "pod a"))).toEqual({
      model: "meta-llama/Llama-3.1-8B-Instruct",
      pod: "pod a",
    });
  });

  it("honours a custom prefix and rejects an invalid one", () => {
    expect(subjects("acme.prod").schedPick()).toBe("acme.prod.v1.sched.pick");
    expect(() => subjects("bad prefix")).toThrow(/invalid subject prefix/);
  });
});
