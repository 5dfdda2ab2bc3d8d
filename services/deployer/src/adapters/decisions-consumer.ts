import {
  AckPolicy,
  DECISIONS_STREAM_LIMITS,
  DeliverPolicy,
  decisionsStreamConfig,
  decodeMessage,
  ensureConsumer,
  ensureStream,
  jetstream,
  jetstreamManager,
  type NatsConnection,
} from "@inferd/bus";
import { type ScaleDecision, ScaleDecisionSchema, subjects } from "@inferd/protocol";

export interface DecisionsConsumer {
  stop(): Promise<void>;
}

export interface ConsumeDecisionsOptions {
  prefix: string;
  /** Replicas of the decisions stream when this creates or raises it (streamReplicas); default 1. */
  replicas?: number;
  /** Durable consumer name: a restarted deployer resumes where the last one acknowledged. */
  durable: string;
  /** `<model>/<pool>` pairs whose latest decision is applied at start, before new ones. */
  latestOf: readonly { model: string; pool: string }[];
  /** Acts on one decision; a throw leaves it unacknowledged, so it is delivered again. */
  apply: (decision: ScaleDecision, source: "latest" | "stream") => Promise<void>;
  onError: (err: Error, subject: string) => void;
}

/**
 * Reads ScaleDecisions from INFERD_DECISIONS with a durable, explicitly acknowledged consumer. At
 * start the latest decision of each managed pool is applied first, so a deployer that restarts
 * after having acknowledged it still acts on it (the local driver starts its pools afresh).
 */
export async function consumeDecisions(
  nc: NatsConnection,
  opts: ConsumeDecisionsOptions,
): Promise<DecisionsConsumer> {
  const subj = subjects(opts.prefix);
  // Created here too, so the deployer can start before the autoscaler (same config as its producer).
  await ensureStream(
    nc,
    decisionsStreamConfig(opts.prefix, { ...DECISIONS_STREAM_LIMITS, replicas: opts.replicas }),
  );
  const jsm = await jetstreamManager(nc);
  for (const { model, pool } of opts.latestOf) {
    const last = await jsm.streams
      .getMessage(subj.streams.decisions, { last_by_subj: subj.decisions(model, pool) })
      .catch(() => null);
    if (!last) continue;
    try {
      await opts.apply(decodeMessage(last, ScaleDecisionSchema), "latest");
    } catch (err) {
      opts.onError(err as Error, last.subject);
    }
  }
  await ensureConsumer(nc, subj.streams.decisions, {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    filter_subject: subj.decisionsAll(),
    ack_wait: 30_000_000_000,
  });
  const consumer = await jetstream(nc).consumers.get(subj.streams.decisions, opts.durable);
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      let decision: ScaleDecision;
      try {
        decision = decodeMessage(m, ScaleDecisionSchema);
      } catch (err) {
        // A malformed message would fail on every delivery: report it once and move on.
        opts.onError(err as Error, m.subject);
        m.ack();
        continue;
      }
      try {
        await opts.apply(decision, "stream");
        m.ack();
      } catch (err) {
        // A driver error (API server away, workload missing) is retried after a second.
        opts.onError(err as Error, m.subject);
        m.nak(1_000);
      }
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}
