import { encodeMessage, messageHeaders, type NatsConnection } from "@inferd/bus";
import { decode, make, RequestEventSchema, RequestPhase, subjects } from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { Decision } from "../pick/pick-service.ts";

/**
 * Replica sync of routing decisions (as Dynamo's router replicas do): each replica publishes what it
 * picked, with the prompt tokens it expects the server to have cached, on
 * `<prefix>.v1.sched.decisions.<model>` (core NATS, fire and forget), and counts the others' decisions
 * as in flight. The gateway's ROUTED event confirms them later; until it carries `cached_tokens`, this is
 * how every replica learns how much *uncached* prefill a request adds, so all see the same prefill queues.
 * Payload: a RequestEvent (phase ROUTED; `gateway_id` = the publishing scorer replica).
 */
export function decisionSubject(prefix: string, model: string): string {
  return subjects(prefix).schedDecisions(model);
}

export interface DecisionSync {
  publish(decision: Decision): void;
  stop(): void;
}

export function syncDecisions(
  nc: NatsConnection,
  opts: { prefix: string; replicaId: string; logger: Logger; apply: (decision: Decision) => void },
): DecisionSync {
  const headers = messageHeaders(RequestEventSchema);
  const sub = nc.subscribe(subjects(opts.prefix).schedDecisionsAll());
  void (async () => {
    for await (const m of sub) {
      try {
        const ev = decode(RequestEventSchema, m.data);
        if (ev.gatewayId === opts.replicaId || !ev.requestId || !ev.endpoint) continue;
        opts.apply({
          requestId: ev.requestId,
          baseModel: ev.baseModel || ev.model,
          pod: ev.endpoint,
          prefillPod: ev.prefillEndpoint,
          promptTokens: ev.promptTokens,
          cachedTokens: ev.cachedTokens,
          sessionId: ev.sessionId,
        });
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message }, "malformed decision from another replica skipped");
      }
    }
  })();
  return {
    publish(d) {
      if (nc.isClosed() || nc.isDraining()) return;
      const ev = make(RequestEventSchema, {
        requestId: d.requestId,
        phase: RequestPhase.ROUTED,
        model: d.baseModel,
        baseModel: d.baseModel,
        endpoint: d.pod,
        prefillEndpoint: d.prefillPod,
        promptTokens: d.promptTokens,
        cachedTokens: d.cachedTokens,
        sessionId: d.sessionId,
        gatewayId: opts.replicaId,
      });
      nc.publish(decisionSubject(opts.prefix, d.baseModel), encodeMessage(RequestEventSchema, ev), {
        headers,
      });
    },
    stop() {
      sub.unsubscribe();
    },
  };
}
