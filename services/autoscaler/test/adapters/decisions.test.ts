import { type NatsServerHandle, startNats, waitFor } from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAutoscalerConfig } from "../../src/config.ts";
import { type RunningAutoscaler, runAutoscaler } from "../../src/run.ts";
import { connect, putReplicas, readDecisions } from "../helpers.ts";

const MODEL = "Qwen/Qwen3-32B";

describe("autoscaler - decisions on the bus", () => {
  let nats: NatsServerHandle;
  let running: RunningAutoscaler;

  beforeAll(async () => {
    nats = await startNats();
    // The deployer's inventory exists before the autoscaler starts: one ready replica of two.
    const nc = await connect(nats.url);
    await putReplicas(nc, MODEL, "decode", 1);
    await nc.close();
    const config = loadAutoscalerConfig([], {
      INFERD_AUTOSCALER_NATS_URL: nats.url,
      INFERD_AUTOSCALER_OPS_PORT: "0",
      INFERD_AUTOSCALER_INTERVAL_MS: "100",
      INFERD_AUTOSCALER_LOG_LEVEL: "warn",
      INFERD_AUTOSCALER_POOLS: JSON.stringify([
        {
          model: MODEL,
          pool: "decode",
          role: "decode",
          minReplicas: 2,
          maxReplicas: 4,
          acceleratorType: "H100",
        },
      ]),
    });
    running = await runAutoscaler(config);
  });

  afterAll(async () => {
    await running?.stop();
    await nats?.dispose();
  });

  it("creates INFERD_DECISIONS and publishes a decision with a reason and its inputs", async () => {
    const nc = await connect(nats.url);
    try {
      const decisions = await waitFor(async () => {
        const ds = await readDecisions(nc);
        return ds.length > 0 ? ds : undefined;
      });
      const d = decisions[0]!;
      expect(d.model).toBe(MODEL);
      expect(d.pool).toBe("decode");
      expect(d.currentReplicas).toBe(1);
      expect(d.desiredReplicas).toBe(2);
      expect(d.reason).toBe("scale up 1 -> 2: minReplicas is 2");
      expect(d.inputs?.ttftTargetSeconds).toBe(2);
      expect(d.decidedAt).toBeDefined();
    } finally {
      await nc.close();
    }
  });

  it("exports the desired replicas and the WVA-compatible gauges", async () => {
    const text = await waitFor(async () => {
      const body = await (await request(`${running.ops.url}/metrics`)).body.text();
      return body.includes("wva_desired_replicas{") ? body : undefined;
    });
    expect(text).toMatch(
      /inferd_autoscaler_desired_replicas\{model="Qwen\/Qwen3-32B",pool="decode",role="decode"[^}]*\} 2/,
    );
    expect(text).toMatch(
      /wva_desired_replicas\{variant_name="decode",namespace="default",accelerator_type="H100"[^}]*\} 2/,
    );
    expect(text).toMatch(/wva_current_replicas\{variant_name="decode"[^}]*\} 1/);
    expect(text).toMatch(/wva_desired_ratio\{variant_name="decode"[^}]*\} 2/);
    expect(text).toMatch(/inferd_autoscaler_leader\{[^}]*\} 1/);
  });
});
