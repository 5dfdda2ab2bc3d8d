import {
  AckedPublisher,
  createStreamIfMissing,
  DECISIONS_STREAM_LIMITS,
  type DropReason,
  decisionsStreamConfig,
  encodeMessage,
  messageHeaders,
  type NatsConnection,
} from "@inferd/bus";
import { create, ScaleDecisionSchema, ScaleInputsSchema, subjects, timestampFromMs } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { ScaleAction } from "../policy/controller.ts";
import type { PoolPolicy } from "../policy/pool-policy.ts";

export interface DecisionPublisher {
  /** Hands the decision to the stream publisher; never blocks the decision loop nor throws. */
  publish(policy: PoolPolicy, action: ScaleAction, atMs: number): void;
  /** Resolves when every decision so far is stored (or dropped). */
  flush(): Promise<void>;
  close(): void;
}

/**
 * Creates INFERD_DECISIONS when missing and publishes each ScaleDecision there, acknowledged:
 * retried (same Nats-Msg-Id, so stored once) across a NATS node's death and the stream's leader
 * election until stored; given up only after a minute (or beyond 1,000 waiting), then reported
 * to `onDropped`. The decision loop never waits for it.
 */
export async function decisionPublisher(
  nc: NatsConnection,
  options: {
    prefix: string;
    replicas?: number;
    logger: Logger;
    onDropped?: (reason: DropReason) => void;
  },
): Promise<DecisionPublisher> {
  const stream = decisionsStreamConfig(options.prefix, {
    ...DECISIONS_STREAM_LIMITS,
    replicas: options.replicas,
  });
  if ((await createStreamIfMissing(nc, stream)) === "created")
    options.logger.info({ stream: subjects(options.prefix).streams.decisions }, "created decisions stream");
  const s = subjects(options.prefix);
  const publisher = new AckedPublisher(nc, {
    maxBuffered: 1_000,
    isClosed: () => nc.isClosed(),
    onDropped: (reason, subject, err) => {
      options.logger.error(
        { reason, subject, err: (err as Error | undefined)?.message },
        "a scale decision was not stored in the decisions stream",
      );
      options.onDropped?.(reason);
    },
  });
  const publish = (policy: PoolPolicy, action: ScaleAction, atMs: number) => {
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
    publisher.publish(s.decisions(policy.model, policy.pool), encodeMessage(ScaleDecisionSchema, msg), {
      msgId: `${policy.model}/${policy.pool}/${atMs}`,
      headers: messageHeaders(ScaleDecisionSchema),
    });
  };
  return { publish, flush: () => publisher.flush(), close: () => publisher.close() };
}
