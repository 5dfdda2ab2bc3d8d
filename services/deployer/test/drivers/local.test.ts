import { waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { parsePools } from "../../src/domain/pools.ts";
import { modelSimCommand } from "../../src/drivers/create-driver.ts";
import { LocalDriver, type LocalDriverEvent } from "../../src/drivers/local/local-driver.ts";
import { describeDriverContract } from "./contract.ts";

const MODEL = "Qwen/Qwen3-0.6B";

function localDriver(onEvent?: (e: LocalDriverEvent) => void, drainGraceMs = 10_000): LocalDriver {
  return new LocalDriver({
    pools: parsePools([{ name: "sims", model: MODEL, replicas: 1, minReplicas: 0, maxReplicas: 2 }]),
    command: modelSimCommand("tiny-fast"),
    healthIntervalMs: 50,
    drainSettleMs: 100,
    drainGraceMs,
    restartBaseMs: 100,
    ...(onEvent ? { onEvent } : {}),
  });
}

describeDriverContract(
  "local",
  async () => {
    const driver = localDriver();
    await driver.start();
    return { driver, pool: "sims", model: MODEL, dispose: () => driver.stop() };
  },
  { timeoutMs: 30_000 },
);

describe("local driver", () => {
  it("local - a crashed server is unhealthy at once, then restarted and ready again", async () => {
    const pids = new Map<string, number>();
    const driver = localDriver((e) => {
      if (e.type === "spawned" && e.pid) pids.set(e.pod, e.pid);
    });
    try {
      await driver.start();
      await waitFor(() => driver.replicas()[0]?.state === "ready", { timeoutMs: 30_000 });
      const pod = driver.replicas()[0]!.pod;
      const states: string[] = [];
      driver.onChange(() => states.push(driver.replicas()[0]?.state ?? "none"));
      const firstPid = pids.get(pod)!;
      process.kill(firstPid, "SIGKILL");
      await waitFor(() => states.includes("unhealthy"), { timeoutMs: 5_000, message: "marked unhealthy" });
      // Out of routing before anything else happens to it.
      expect(states[0]).toBe("unhealthy");
      await waitFor(() => driver.replicas()[0]?.state === "ready" && pids.get(pod) !== firstPid, {
        timeoutMs: 30_000,
        message: "restarted and ready",
      });
      expect(driver.replicas().map((r) => r.pod)).toEqual([pod]);
    } finally {
      await driver.stop();
    }
  }, 60_000);

  it("local - scale-down lets an in-flight request finish before stopping the server", async () => {
    const driver = localDriver(undefined, 30_000);
    try {
      await driver.start();
      await driver.scale("sims", 1);
      await waitFor(() => driver.replicas()[0]?.state === "ready", { timeoutMs: 30_000 });
      const address = driver.replicas()[0]!.address;
      // A streamed completion long enough to be in flight when the drain starts.
      const response = fetch(`${address}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL,
          prompt: "hello",
          max_tokens: 400,
          ignore_eos: true,
          stream: false,
        }),
      });
      await waitFor(
        async () => {
          const text = await (await fetch(`${address}/metrics`)).text();
          return /vllm:num_requests_running\{[^}]*\} [1-9]/.test(text);
        },
        { timeoutMs: 10_000, message: "request running" },
      );
      await driver.scale("sims", 0);
      expect(driver.replicas()[0]?.state).toBe("draining");
      const res = await response;
      expect(res.status).toBe(200);
      const body = (await res.json()) as { usage: { completion_tokens: number } };
      expect(body.usage.completion_tokens).toBe(400);
      await waitFor(() => driver.replicas().length === 0, { timeoutMs: 30_000, message: "server stopped" });
    } finally {
      await driver.stop();
    }
  }, 90_000);
});
