import { connectNats, type NatsConnection, serviceClient } from "@inferd/bus";
import { make, PickOutcome, PickRequestSchema, PickResponseSchema, subjects } from "@inferd/protocol";
import { freePort, type NatsServerHandle, startNats, startProcess, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTemp } from "./adapters/helpers.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/llm-d/", import.meta.url).pathname;

describe("scorer main.ts", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "main-test" });
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.stop();
  });

  it("main - --validate prints profiles for a good llm-d config and exits 1 naming the plugin for a bad one", async () => {
    const good = startProcess({
      command: process.execPath,
      args: [MAIN, "--config", `${FIXTURES}router-pd-epp-config.yaml`, "--validate"],
    });
    expect(await good.exited).toBe(0);
    expect(good.output()).toContain('profile "prefill":');
    const bad = startProcess({
      command: process.execPath,
      args: [MAIN, "--config", `${FIXTURES}router-epp-config.yaml`, "--validate"],
    });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/plugin "models-responder": unknown plugin type/);
  });

  it("main - serves picks from a YAML service config and stops cleanly on SIGTERM", async () => {
    const endpoints = writeTemp(
      "endpoints.yaml",
      "endpoints:\n- {model: m, pod: a, address: 'http://127.0.0.1:1'}\n",
    );
    const opsPort = await freePort();
    const config = writeTemp(
      "scorer.yaml",
      [
        `natsUrl: ${nats.url}`,
        `opsPort: ${opsPort}`,
        `endpointsFile: ${endpoints}`,
        "tokenizer: estimate",
        "scrapeIntervalMs: 0",
        "profile: least-load",
      ].join("\n"),
    );
    const proc = startProcess({ command: process.execPath, args: [MAIN, "--config", config] });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).ok, {
        timeoutMs: 20_000,
        message: `scorer ready (${proc.output().slice(-400)})`,
      });
      const client = serviceClient(nc, subjects().schedPick(), PickRequestSchema, PickResponseSchema);
      const res = await client.call(
        make(PickRequestSchema, { requestId: "x", model: "m", prompt: { case: "text", value: "hi" } }),
      );
      expect(res.outcome).toBe(PickOutcome.OK);
      expect(res.endpoints[0]?.pod).toBe("a");
      expect(proc.output()).toContain('built-in profile \\"least-load\\"');
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(
        /inferd_scorer_picks_total\{outcome="OK",profile="default",service="scorer"\} 1/,
      );
    } finally {
      proc.child.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  });
});
