import { describe, expect, it } from "vitest";
import { attemptAfterRun, restartDelayMs } from "../../src/up/backoff.ts";

const policy = { baseMs: 250, maxMs: 10_000, stableMs: 30_000 };

describe("cli up - restart backoff", () => {
  it("doubles from the base up to the cap", () => {
    expect([0, 1, 2, 3, 5, 6, 100].map((a) => restartDelayMs(policy, a))).toEqual([
      250, 500, 1000, 2000, 8000, 10_000, 10_000,
    ]);
  });

  it("starts over once a component stayed up long enough", () => {
    expect(attemptAfterRun(policy, 4, 1000)).toBe(4);
    expect(attemptAfterRun(policy, 4, 30_000)).toBe(0);
  });
});
