import {
  createStreamIfMissing,
  DECISIONS_STREAM_LIMITS,
  decisionsStreamConfig,
  jetstream,
  type NatsConnection,
  publishMessage,
} from "@inferd/bus";
import { create, ScaleDecisionSchema, ScaleInputsSchema, subjects, timestampFromMs } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { ScaleAction } from "../policy/controller.ts";
import type { PoolPolicy } from "../policy/pool-policy.ts";

export type PublishDecision = (policy: PoolPolicy, action: ScaleAction, atMs: number) => Promise<void>;

/** Creates INFERD_DECISIONS when missing and publishes each ScaleDecision there (acknowledged). */
export async function decisionPublisher(
  nc: NatsConnection,
  options: { prefix: string; replicas?: number; logger: Logger },
): Promise<PublishDecision> {
  const stream = decisionsStreamConfig(options.prefix, {
    ...DECISIONS_STREAM_LIMITS,
    replicas: options.replicas,
  });
  if ((await createStreamIfMissing(nc, stream)) === "created")
    options.logger.info({ stream: subjects(options.prefix).streams.decisions }, "created decisions stream");
  const js = jetstream(nc);
  const s = subjects(options.prefix);
  return async (policy, action, atMs) => {
    const i = action.inputs;
    const msg = create(ScaleDecisionSchema, {
      model: policy.model,
      pool: policy.pool,
      desiredReplicas: action.desired,
      currentReplicas: action.current,
      reason: action.reason,
      decidedAt: timestampFromMs(atMs),
      inputs: create(ScaleInputsSchema, {
        arrivalRps: i.arrivalRps,
        ttftP90Seconds: i.ttftSeconds,
        itlP90Seconds: i.itlSeconds,
        ttftTargetSeconds: i.ttftTargetSeconds,
        itlTargetSeconds: i.itlTargetSeconds,
        waitingPerReplica: i.waitingPerReplica,
        kvCacheUsage: i.kvCacheUsage,
        capacityRpsPerReplica: i.capacityRpsPerReplica,
        heldRequests: i.heldRequests,
      }),
    });
    await publishMessage(js, s.decisions(policy.model, policy.pool), ScaleDecisionSchema, msg, {
      msgId: `${policy.model}/${policy.pool}/${atMs}`,
    });
  };
}
