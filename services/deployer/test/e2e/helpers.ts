import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectNats,
  decisionsStreamConfig,
  ensureStream,
  jetstream,
  type NatsConnection,
  publishMessage,
} from "@inferd/bus";
import { create, EndpointState, ScaleDecisionSchema, subjects, timestampNow } from "@inferd/protocol";
import { type DeployerConfig, loadDeployerConfig } from "../../src/config.ts";

export const MODEL = "Qwen/Qwen3-0.6B";

/** A deployer config as the environment gives it (the same path `inferd up` uses). */
export function deployerConfig(natsUrl: string, extra: Record<string, string> = {}): DeployerConfig {
  return loadDeployerConfig([], {
    INFERD_DEPLOYER_NATS_URL: natsUrl,
    INFERD_DEPLOYER_OPS_PORT: "0",
    INFERD_DEPLOYER_SIM_PROFILE: "tiny-fast",
    INFERD_DEPLOYER_HEALTH_INTERVAL_MS: "50",
    INFERD_DEPLOYER_DRAIN_SETTLE_MS: "200",
    INFERD_DEPLOYER_LOG_LEVEL: "warn",
    // Its own record of running servers, never another test's (or the user's default directory).
    INFERD_DEPLOYER_STATE_DIR: mkdtempSync(join(tmpdir(), "inferd-deployer-")),
    INFERD_DEPLOYER_POOLS: JSON.stringify([
      { name: "sims", model: MODEL, replicas: 1, minReplicas: 0, maxReplicas: 3 },
    ]),
    ...extra,
  });
}

/** Publishes a ScaleDecision as the autoscaler does (stream INFERD_DECISIONS, subject per model and pool). */
export async function publishDecision(
  nc: NatsConnection,
  pool: string,
  desired: number,
  model = MODEL,
): Promise<void> {
  await ensureStream(nc, decisionsStreamConfig());
  await publishMessage(
    jetstream(nc),
    subjects().decisions(model, pool),
    ScaleDecisionSchema,
    create(ScaleDecisionSchema, {
      model,
      pool,
      desiredReplicas: desired,
      reason: "test",
      decidedAt: timestampNow(),
    }),
  );
}

export { connectNats, EndpointState };
