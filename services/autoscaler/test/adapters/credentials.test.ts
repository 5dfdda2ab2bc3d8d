import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats } from "@inferd/bus";
import { startNats, waitFor } from "@inferd/testkit";
import { describe, expect, it, onTestFinished } from "vitest";
import { loadAutoscalerConfig } from "../../src/config.ts";
import { runAutoscaler } from "../../src/run.ts";
import { putReplicas, readDecisions } from "../helpers.ts";

describe("autoscaler - NATS credentials from its config keys", () => {
  it("decides on a NATS that requires a user and password (natsUser, natsPasswordFile)", async () => {
    const nats = await startNats({ extraArgs: ["--user", "autoscaler", "--pass", "s3cret"] });
    onTestFinished(() => nats.dispose());
    const nc = await connectNats({
      servers: nats.url,
      name: "client",
      credentials: { user: "autoscaler", password: "s3cret" },
    });
    onTestFinished(() => nc.close());
    await putReplicas(nc, "m", "default", 1);
    const passwordFile = join(tmpdir(), `inferd-autoscaler-pass-${process.pid}`);
    writeFileSync(passwordFile, "s3cret\n");
    onTestFinished(() => rmSync(passwordFile, { force: true }));
    const config = loadAutoscalerConfig([], {
      INFERD_AUTOSCALER_NATS_URL: nats.url,
      INFERD_AUTOSCALER_NATS_USER: "autoscaler",
      INFERD_AUTOSCALER_NATS_PASSWORD_FILE: passwordFile,
      INFERD_AUTOSCALER_OPS_PORT: "0",
      INFERD_AUTOSCALER_INTERVAL_MS: "100",
      INFERD_AUTOSCALER_LOG_LEVEL: "warn",
      INFERD_AUTOSCALER_POOLS: JSON.stringify([
        { model: "m", pool: "default", minReplicas: 2, maxReplicas: 3 },
      ]),
    });
    const running = await runAutoscaler(config);
    onTestFinished(() => running.stop());
    const decisions = await waitFor(async () => {
      const ds = await readDecisions(nc);
      return ds.length > 0 ? ds : undefined;
    });
    expect(decisions[0]!.desiredReplicas).toBe(2);
  });

  it("refuses to start without them on that NATS (the keys are really used)", async () => {
    const nats = await startNats({ extraArgs: ["--user", "autoscaler", "--pass", "s3cret"] });
    onTestFinished(() => nats.dispose());
    const config = loadAutoscalerConfig([], {
      INFERD_AUTOSCALER_NATS_URL: nats.url,
      INFERD_AUTOSCALER_NATS_USER: "autoscaler",
      INFERD_AUTOSCALER_NATS_PASSWORD: "wrong",
      INFERD_AUTOSCALER_OPS_PORT: "0",
      INFERD_AUTOSCALER_LOG_LEVEL: "warn",
    });
    await expect(runAutoscaler(config)).rejects.toThrow(/authoriz|auth/i);
  });
});
