import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, type NatsConnection } from "@inferd/bus";
import { subjects } from "@inferd/protocol";
import { BUILTIN_PROFILES } from "@inferd/scorer";
import { waitFor } from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, longPrompt } from "./chat.ts";
import { type RunningStack, startStack } from "./stack.ts";

/** One sample's value from Prometheus text (first line with this name and these labels). */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("e2e - the scorer embedded in the gateway (inferd up --scorer-mode embedded)", () => {
  let stack: RunningStack;
  let nc: NatsConnection;
  const picksOnNats: string[] = [];

  const dir = mkdtempSync(join(tmpdir(), "inferd-embedded-scorer-"));

  beforeAll(async () => {
    // The default policy without its exit from stickiness: under a loaded CI machine every TTFT is large
    // and the learned model's first predictions can put the prefix's holder more than the 250 ms penalty
    // behind the empty server, and the default policy then rightly spills. This test is about the
    // embedded scorer's precise view, so it keeps the holder whatever the predictions say (the spill
    // itself is tested in services/scorer/test/e2e/sticky-until-saturated.test.ts).
    const alwaysSticky = BUILTIN_PROFILES.default.replace("maxTTFTPenaltyMs: 250", "maxTTFTPenaltyMs: 0");
    expect(alwaysSticky).not.toBe(BUILTIN_PROFILES.default);
    const pickerConfig = join(dir, "picker.yaml");
    writeFileSync(pickerConfig, alwaysSticky);
    stack = await startStack({
      sims: 2,
      args: [
        "--sim-mode",
        "processes",
        "--on-exit",
        "stop",
        "--profile",
        "tiny-fast",
        "--scorer-mode",
        "embedded",
      ],
      // Fail closed: a request the embedded scorer did not place fails instead of going anywhere.
      env: {
        INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailClose" }),
        INFERD_SCORER_PICKER_CONFIG: pickerConfig,
      },
    });
    nc = await connectNats({ servers: stack.addresses.nats, name: "embedded-scorer-test" });
    const sub = nc.subscribe(subjects().schedPick());
    void (async () => {
      for await (const m of sub) picksOnNats.push(m.subject);
    })();
    await nc.flush();
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    expect(await stack?.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs no scorer process and routes a shared long prefix to the server holding it, with no pick on NATS", async () => {
    const a = stack.addresses as typeof stack.addresses & { scorerMode?: string };
    expect(a.scorerMode).toBe("embedded");
    expect(a.scorer).toBeUndefined();
    expect(Object.keys(a.pids ?? {})).not.toContain("scorer");
    const gateway = a.gateway!;

    const system = longPrompt("embedded");
    const first = await chat(gateway, system, "Question 0?");
    expect(first.status).toBe(200);
    // The first request's KV events reach the embedded scorer's index replica; then it routes there.
    // Until they do, a warm-up request may land elsewhere and that server holds the prefix too.
    const holders = new Set([first.endpoint]);
    let served = first;
    await waitFor(
      async () => {
        served = await chat(gateway, system, "Warm-up question?");
        holders.add(served.endpoint);
        return served.status === 200 && served.endpoint === first.endpoint && served.cached > 1000;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        message: "the embedded scorer to see the first request's blocks",
      },
    );
    for (let i = 1; i <= 6; i++) {
      const s = await chat(gateway, system, `Question ${i}?`);
      expect(s.status).toBe(200);
      expect([...holders]).toContain(s.endpoint);
      expect(s.cached).toBeGreaterThan(1000);
    }
    // A round trip through the server after the last request: anything published before has arrived.
    await nc.flush();
    expect(picksOnNats).toEqual([]);

    const metrics = await (await request(`${gateway}/metrics`)).body.text();
    // Every request was picked by the embedded scorer (its pick histogram is on the gateway's /metrics).
    expect(sample(metrics, "inferd_scorer_pick_duration_seconds_count")).toBeGreaterThanOrEqual(8);
    expect(sample(metrics, "inferd_gateway_pick_duration_seconds_count", 'result="ok"')).toBeGreaterThan(0);
    expect(metrics).toContain("inferd_scorer_kv_lookups_total");
    // One exposition: no metric family twice (the scorer adds no second set of process metrics).
    const families = metrics.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(new Set(families).size).toBe(families.length);
  }, 90_000);
});
