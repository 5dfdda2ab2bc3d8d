import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { parsePools } from "../../src/domain/pools.ts";
import { modelSimCommand } from "../../src/drivers/create-driver.ts";
import { expandCommand, kvEventsConfig } from "../../src/drivers/local/command-template.ts";
import { LocalDriver, type LocalDriverEvent } from "../../src/drivers/local/local-driver.ts";
import { observeProcess, StateFile } from "../../src/drivers/local/server-state.ts";
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
  it('local - starts its servers with the configured KV-event topic (vLLM\'s default "" for vllm-router)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "inferd-local-"));
    const driver = new LocalDriver({
      pools: parsePools([{ name: "sims", model: MODEL, replicas: 1, minReplicas: 0, maxReplicas: 1 }]),
      command: modelSimCommand("tiny-fast"),
      kvEventsTopic: "",
      healthIntervalMs: 50,
      stateDir,
    });
    try {
      await driver.start();
      await waitFor(() => driver.replicas()[0]?.state === "ready", { timeoutMs: 30_000 });
      const [server] = new StateFile(stateDir).read().servers;
      const config = server!.argv[server!.argv.indexOf("--kv-events-config") + 1]!;
      expect(JSON.parse(config)).toMatchObject({ topic: "", endpoint: `tcp://*:${server!.kvEventsPort}` });
    } finally {
      await driver.stop();
    }
  }, 60_000);

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

  it("local - a ready server that stops answering is unhealthy after its probes fail, and ready again when it answers", async () => {
    const pids = new Map<string, number>();
    const driver = localDriver((e) => {
      if (e.type === "spawned" && e.pid) pids.set(e.pod, e.pid);
    });
    let stoppedPid: number | undefined;
    try {
      await driver.start();
      await waitFor(() => driver.replicas()[0]?.state === "ready", { timeoutMs: 30_000 });
      const pod = driver.replicas()[0]!.pod;
      // Alive but silent: only /health probes can tell (at the ready interval, then fast re-probes).
      stoppedPid = pids.get(pod)!;
      process.kill(stoppedPid, "SIGSTOP");
      await waitFor(() => driver.replicas()[0]?.state === "unhealthy", {
        timeoutMs: 15_000,
        message: "marked unhealthy",
      });
      process.kill(stoppedPid, "SIGCONT");
      stoppedPid = undefined;
      await waitFor(() => driver.replicas()[0]?.state === "ready", {
        timeoutMs: 15_000,
        message: "ready again",
      });
      expect(pids.get(pod)).toBeDefined();
    } finally {
      if (stoppedPid !== undefined) process.kill(stoppedPid, "SIGCONT");
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

  it("local - a recorded server that was draining is adopted draining: drained on, never ready, replaced", async () => {
    const orphan = await recordedServer("draining");
    try {
      await orphan.driver.start();
      expect(orphan.events).toContainEqual({
        type: "adopted",
        pod: "sims-1",
        pid: orphan.pid,
        state: "draining",
      });
      await waitFor(() => orphan.child.exitCode !== null || orphan.child.signalCode !== null, {
        timeoutMs: 30_000,
        message: "the adopted server drained out",
      });
      await waitFor(() => podStates(orphan.driver) === "sims-2:ready", {
        timeoutMs: 30_000,
        message: "one new server ready in its place",
      });
      expect(orphan.states.length).toBeGreaterThan(0);
      expect(orphan.states.every((st) => st === "draining")).toBe(true);
    } finally {
      await orphan.dispose();
    }
  }, 90_000);

  it("local - a recorded server that was still starting is adopted and left to load, not killed", async () => {
    const orphan = await recordedServer("starting");
    try {
      await orphan.driver.start();
      const adopted = orphan.events.find((e) => e.type === "adopted");
      // Adopted starting, or ready if it finished loading before the probe.
      expect(adopted).toMatchObject({ pod: "sims-1", pid: orphan.pid });
      await waitFor(() => podStates(orphan.driver) === "sims-1:ready", {
        timeoutMs: 30_000,
        message: "the adopted server ready",
      });
      expect(orphan.child.exitCode).toBeNull();
      expect(orphan.events.filter((e) => e.type === "spawned")).toEqual([]);
      expect(orphan.states).not.toContain("unhealthy");
    } finally {
      await orphan.dispose();
    }
  }, 90_000);
});

const podStates = (driver: LocalDriver) =>
  driver
    .replicas()
    .map((r) => `${r.pod}:${r.state}`)
    .join();

/**
 * A model-sim started as the driver would start pod sims-1, recorded in a state file as a previous
 * life of the driver left it (`state`), and a driver on that file (not started).
 */
async function recordedServer(state: "starting" | "draining") {
  const [port, kvEventsPort, kvReplayPort] = [await freePort(), await freePort(), await freePort()];
  const argv = expandCommand(modelSimCommand("tiny-fast"), {
    model: MODEL,
    pool: "sims",
    pod: "sims-1",
    port,
    kvEventsPort,
    kvReplayPort,
    kvEventsConfig: kvEventsConfig(kvEventsPort, kvReplayPort),
  });
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
  const stateDir = mkdtempSync(join(tmpdir(), "inferd-local-"));
  const events: LocalDriverEvent[] = [];
  const driver = new LocalDriver({
    pools: parsePools([{ name: "sims", model: MODEL, replicas: 1, minReplicas: 0, maxReplicas: 2 }]),
    command: modelSimCommand("tiny-fast"),
    healthIntervalMs: 50,
    drainSettleMs: 100,
    restartBaseMs: 100,
    stateDir,
    adoptTimeoutMs: 60_000,
    onEvent: (e) => events.push(e),
  });
  const dispose = async () => {
    child.kill("SIGKILL");
    await driver.stop();
  };
  try {
    // A draining server was serving; a starting one is recorded before it answers.
    if (state === "draining")
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        {
          timeoutMs: 30_000,
          message: "the server serving",
        },
      );
    const seen = observeProcess(child.pid!)!;
    new StateFile(stateDir).write({
      owner: undefined,
      servers: [
        {
          pool: "sims",
          pod: "sims-1",
          process: { pid: seen.pid, startTime: seen.startTime, bootId: seen.bootId },
          port,
          kvEventsPort,
          kvReplayPort,
          argv,
          spawnedAt: Date.now(),
          state,
        },
      ],
      seq: { sims: 1 },
      desired: { sims: 1 },
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  const states: string[] = [];
  driver.onChange(() => {
    const r = driver.replicas().find((x) => x.pod === "sims-1");
    if (r) states.push(r.state);
  });
  return { child, pid: child.pid!, driver, events, states, dispose };
}
