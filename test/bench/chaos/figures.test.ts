import { describe, expect, it } from "vitest";
import { restartedDeployerServers } from "./control-plane.ts";
import { failures, hitRate, recoveryMs, renderTable, type Sample } from "./figures.ts";

const s = (startMs: number, status: number, prompt = 100, cached = 90): Sample => ({
  startMs,
  endMs: startMs + 10,
  status,
  promptTokens: prompt,
  cachedTokens: cached,
});

describe("bench chaos - figures", () => {
  it("hit rate counts successful requests only", () => {
    expect(hitRate([s(0, 200, 100, 50), s(1, 503, 100, 0), s(2, 200, 100, 100)])).toBe(0.75);
    expect(hitRate([])).toBe(0);
  });

  it("failures are the requests that ended in the window", () => {
    expect(failures([s(0, 200), s(100, 0), s(200, 503), s(300, 200)], 50, 250)).toEqual({
      requests: 2,
      failed: 2,
    });
  });

  it("recovery is the first time the rolling hit rate is within 5% of before, after the kill", () => {
    const samples = [
      s(0, 200, 100, 90), // before the kill: ignored
      s(100, 200, 100, 0),
      s(110, 200, 100, 0),
      s(120, 200, 100, 90),
      s(130, 200, 100, 90),
      s(140, 200, 100, 90),
    ];
    // Window 2: [120,130] is the first pair at 0.9 >= 0.95 * 0.9; it ends at 140.
    expect(recoveryMs(samples, 100, 0.9, 2)).toBe(40);
    expect(recoveryMs(samples.slice(0, 3), 100, 0.9, 2)).toBeUndefined();
  });

  it("renders one row per fault, 'never' when a time was not reached", () => {
    const text = renderTable([
      {
        target: "scorer",
        requests: 10,
        failed: 0,
        hitRateBefore: 0.9,
        readyAfterMs: 1500,
        hitRateRecoveredAfterMs: undefined,
      },
    ]);
    expect(text).toContain("| scorer");
    expect(text).toMatch(/1\.5 s\s+\| 90%\s+\| never/);
  });

  it("the restarted deployer's servers are counted after its last exit line only", () => {
    const line = (msg: string) =>
      `deployer   | {"level":30,"pid":7,"type":"x","pod":"default-1","msg":"${msg}"}`;
    const output = [
      line("server spawned"),
      line("server spawned"),
      "deployer   | exited (SIGKILL)",
      "deployer   | restarting in 250 ms (restart 1)",
      line("server adopted"),
      line("server not-adopted"),
      line("server spawned"),
      "gateway    | something else",
    ].join("\n");
    expect(restartedDeployerServers(output)).toEqual({ adopted: 1, started: 1 });
    expect(restartedDeployerServers(line("server spawned"))).toEqual({ adopted: 0, started: 0 });
  });
});
