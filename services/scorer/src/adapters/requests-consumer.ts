import {
  createStreamIfMissing,
  DeliverPolicy,
  jetstream,
  type NatsConnection,
  requestsStreamConfig,
  type StreamLimits,
} from "@inferd/bus";
import { decode, RequestEventSchema } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { LifecycleEvent } from "../state/inflight.ts";
import { lifecycleFromMsg } from "./convert.ts";

export interface RequestsConsumer {
  stop(): Promise<void>;
}

/**
 * Every scorer replica reads every request lifecycle event (an ordered, ephemeral JetStream consumer per
 * replica, not a shared queue): that is what makes their in-flight views identical (active-active).
 * On start it replays the last `replayMs` so a new or restarted replica rebuilds the in-flight state.
 * Creates the `<PREFIX>_REQUESTS` stream when nobody has yet (the gateway publishes with core NATS).
 */
export async function consumeRequestEvents(
  nc: NatsConnection,
  opts: {
    prefix: string;
    /** Retention when this replica creates the stream. */
    limits?: StreamLimits;
    replayMs: number;
    logger: Logger;
    apply: (ev: LifecycleEvent, phase: string) => void;
  },
): Promise<RequestsConsumer> {
  const js = jetstream(nc);
  const config = requestsStreamConfig(opts.prefix, opts.limits);
  if ((await createStreamIfMissing(nc, config)) === "created") {
    opts.logger.info({ stream: config.name }, "created request lifecycle stream");
  }
  // No subject filter: the stream holds only lifecycle events, and nats-server 2.9 lacks filter_subjects.
  const consumer = await js.consumers.get(config.name, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Date.now() - opts.replayMs).toISOString(),
  });
  // In the client's callback, not an async iterator: 4 events per request reach every replica, and
  // applying one is synchronous, so a promise and a microtask per event would be pure overhead.
  const messages = await consumer.consume({
    callback: (m) => {
      try {
        const ev = lifecycleFromMsg(decode(RequestEventSchema, m.data));
        if (ev) opts.apply(ev, ev.phase);
      } catch (err) {
        opts.logger.warn(
          { err: (err as Error).message, subject: m.subject },
          "malformed request event skipped",
        );
      }
    },
  });
  return {
    async stop() {
      await messages.close();
    },
  };
}
