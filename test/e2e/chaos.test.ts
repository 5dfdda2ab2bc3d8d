import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderTable } from "../bench/chaos/figures.ts";
import { SteadyLoad } from "../bench/chaos/load.ts";
import { runChaos } from "../bench/chaos/run.ts";
import { type RunningStack, startStack } from "./stack.ts";

/**
 * Short form of `inferd bench chaos`: under steady load through `inferd up` (default
 * supervision: restart with backoff), kill -9 kv-index, the scorer, one model server and the
 * gateway in turn. Each comes back on its own; the stack keeps serving; kv-index and scorer
 * deaths fail no request (fail-open routing), a model server's death fails at most the requests
 * in flight on it.
 */
const MODEL = "Qwen/Qwen3-32B";
const CLIENTS = 4;

let stack: RunningStack;
let load: SteadyLoad;
beforeAll(async () => {
  stack = await startStack({
    sims: 2,
    args: ["--sim-mode", "processes", "--profile", "tiny-fast"],
    env: { INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailOpen" }) },
  });
  load = new SteadyLoad({
    gateway: stack.addresses.gateway!,
    model: MODEL,
    clients: CLIENTS,
    groups: 4,
    maxTokens: 2,
  });
  load.start();
}, 120_000);
afterAll(async () => {
  await load?.stop();
  expect(await stack?.stop()).toBe(0);
});

describe("e2e - chaos under steady load", () => {
  it("every killed part is restarted and the stack keeps serving", async () => {
    const pod = stack.addresses.sims[0]!.pod;
    const figures = await runChaos(
      { pids: stack.addresses.pids ?? {}, output: () => stack.output() },
      load,
      ["kv-index", "scorer", pod, "gateway"],
      { before: 40, after: 40, readyTimeoutMs: 60_000 },
    );
    process.stdout.write(`${renderTable(figures)}\n`);
    const by = Object.fromEntries(figures.map((f) => [f.target, f]));
    for (const f of figures) expect(f.readyAfterMs, `${f.target} ready again`).toBeDefined();
    expect(by["kv-index"]!.failed).toBe(0);
    expect(by.scorer!.failed).toBe(0);
    expect(by[pod]!.failed).toBeLessThanOrEqual(CLIENTS);
    // The stack never stopped: supervision restarted each part.
    expect(stack.output()).not.toMatch(/inferd up: stopping/);
  }, 400_000);
});
