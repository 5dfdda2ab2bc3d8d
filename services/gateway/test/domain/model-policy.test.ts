import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, ModelPolicies } from "../../src/domain/model-policy.ts";

describe("model-policy", () => {
  it("model-policy - model entries override the defaults, adapters fall back to their base", () => {
    const p = ModelPolicies.parse(
      { failureMode: "FailOpen", queueTtlMs: 5000 },
      { m: { apiKeys: ["k"], failureMode: "FailClose" } },
    );
    expect(p.get("other")).toEqual({ ...DEFAULT_POLICY, failureMode: "FailOpen", queueTtlMs: 5000 });
    expect(p.get("m")).toEqual({
      ...DEFAULT_POLICY,
      failureMode: "FailClose",
      queueTtlMs: 5000,
      apiKeys: ["k"],
    });
    expect(p.get("adapter-of-m", "m").apiKeys).toEqual(["k"]);
    expect(p.models()).toEqual(["m"]);
  });

  it("model-policy - bad values name the key", () => {
    expect(() => ModelPolicies.parse({ failureMode: "Open" }, {})).toThrow(/modelDefaults.failureMode/);
    expect(() => ModelPolicies.parse({}, { m: { queueTtlMs: -1 } })).toThrow(/models.m.queueTtlMs/);
    expect(() => ModelPolicies.parse({}, { m: { apiKey: ["x"] } })).toThrow(/models.m.apiKey: unknown key/);
    expect(() => ModelPolicies.parse({}, { m: { apiKeys: "x" } })).toThrow(/apiKeys/);
    expect(() => ModelPolicies.parse({}, [])).toThrow(/models/);
  });
});
