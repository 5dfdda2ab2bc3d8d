import { describe, expect, it } from "vitest";
import { formatPolicies, POOL_DEFAULTS, parsePools } from "../../src/policy/pool-policy.ts";

describe("autoscaler - pool policy", () => {
  it("fills every key from the defaults", () => {
    const [p] = parsePools([{ model: "m", pool: "decode", role: "decode", maxReplicas: 8 }]);
    expect(p).toEqual({ ...POOL_DEFAULTS, model: "m", pool: "decode", role: "decode", maxReplicas: 8 });
    expect(p!.scaleToZero).toBe(false);
  });

  it("reports one line per bad key, naming the pool entry", () => {
    let message = "";
    try {
      parsePools([
        { model: "m", pool: "a", role: "middle", maxReplicas: -1, percentile: 2, colour: "blue" },
        { model: "m", pool: "b", minReplicas: 3, maxReplicas: 2 },
        { model: "m", pool: "c", minReplicas: 0 },
      ]);
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^pools\[0\]\.colour: unknown key/),
      expect.stringMatching(/^pools\[0\]\.role: must be one of both, prefill, decode, got "middle"/),
      expect.stringMatching(/^pools\[0\]\.maxReplicas: must be an integer between 1 and 10000, got -1/),
      expect.stringMatching(/^pools\[0\]\.percentile: must be a number between 0.5 and 0.999, got 2/),
      "pools[1].minReplicas: 3 is above maxReplicas 2",
      "pools[2].minReplicas: 0 needs scaleToZero: true (scale-to-zero is off by default)",
    ]);
  });

  it("refuses a pool listed twice and a non-list", () => {
    expect(() =>
      parsePools([
        { model: "m", pool: "a" },
        { model: "m", pool: "a" },
      ]),
    ).toThrow(/listed twice/);
    expect(() => parsePools({ model: "m" })).toThrow(/must be a list/);
  });

  it("prints the effective policy with every key", () => {
    const text = formatPolicies(parsePools([{ model: "Qwen/Qwen3-32B", pool: "default" }]));
    expect(text).toContain('  - model: "Qwen/Qwen3-32B"');
    expect(text).toContain("    scaleDownStabilizationSeconds: 120");
    expect(text).toContain("    scaleToZero: false");
  });
});
