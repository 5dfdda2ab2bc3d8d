import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats } from "@inferd/bus";
import { decode, RequestEventSchema, RequestPhase, subjects } from "@inferd/protocol";
import { envName } from "@inferd/service-kit";
import { freePort, startNats, startProcess, waitFor } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";
import { startSim } from "./model-sim.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");

describe("main", () => {
  it("main - YAML config, static endpoints, events on NATS, graceful SIGTERM", async () => {
    const nats = await startNats({ jetstream: true });
    onTestFinished(() => nats.dispose());
    const sim = await startSim("sim-main");
    onTestFinished(() => sim.process.kill());
    const port = await freePort();
    const file = join(tmpdir(), `gateway-${port}.yaml`);
    writeFileSync(
      file,
      [
        "host: 127.0.0.1",
        `port: ${port}`,
        `natsUrl: ${nats.url}`,
        "useScorer: false",
        "logLevel: warn",
        "objectives: { critical: 100 }",
        "modelDefaults: { failureMode: FailOpen, queueTtlMs: 5000 }",
        "models:",
        "  Qwen/Qwen3-32B: { apiKeys: [secret] }",
        "endpoints:",
        `  - { model: Qwen/Qwen3-32B, pod: sim-main, address: "${sim.address}" }`,
      ].join("\n"),
    );
    const nc = await connectNats({ servers: nats.url, name: "main-test" });
    onTestFinished(() => nc.close());
    const phases: number[] = [];
    const sub = nc.subscribe(subjects().requests("Qwen/Qwen3-32B"));
    void (async () => {
      for await (const m of sub) phases.push(decode(RequestEventSchema, m.data).phase);
    })();

    const gw = startProcess({ command: process.execPath, args: [MAIN, "--config", file] });
    onTestFinished(() => gw.kill());
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, {
      timeoutMs: 20_000,
      message: `gateway ready: ${gw.output()}`,
    });

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer secret" },
      body: JSON.stringify({
        model: "Qwen/Qwen3-32B",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferd-endpoint")).toBe("sim-main");
    await waitFor(() => phases.includes(RequestPhase.COMPLETED), { message: "COMPLETED event on NATS" });
    expect(phases).toEqual([
      RequestPhase.ADMITTED,
      RequestPhase.ROUTED,
      RequestPhase.FIRST_TOKEN,
      RequestPhase.COMPLETED,
    ]);

    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
  });

  it("main - an invalid config value stops the gateway with a line naming the key", async () => {
    const gw = startProcess({
      command: process.execPath,
      args: [MAIN],
      env: { ...process.env, [envName("gateway", "modelDefaults")]: '{"failureMode":"Sometimes"}' },
    });
    onTestFinished(() => gw.kill());
    expect(await gw.exited).not.toBe(0);
    expect(gw.output()).toContain("modelDefaults.failureMode");
  });

  it("main - scorerMode embedded: a bad scorer key stops the gateway with the scorer's line", async () => {
    const gw = startProcess({
      command: process.execPath,
      args: [MAIN],
      env: {
        ...process.env,
        [envName("gateway", "scorerMode")]: "embedded",
        // Never dialled: the scorer's config is checked before any link.
        [envName("gateway", "natsUrl")]: "nats://127.0.0.1:1",
        [envName("scorer", "profile")]: "nope",
      },
    });
    onTestFinished(() => gw.kill());
    expect(await gw.exited).toBe(2);
    expect(gw.output()).toMatch(/embedded scorer: invalid scorer configuration:\n\s+INFERD_SCORER_PROFILE: /);
  });
});
