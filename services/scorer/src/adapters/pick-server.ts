import {
  defineEndpoint,
  inProcessEndpoint,
  type NatsConnection,
  schemaEndpoint,
  serveService,
} from "@inferd/bus";
import {
  type PickRequest,
  PickRequestSchema,
  type PickResponse,
  PickResponseSchema,
  subjects,
} from "@inferd/protocol";
import type { Logger } from "@inferd/service-kit";
import type { PickService } from "../pick/pick-service.ts";
import { pickInputFromMsg, pickResponseToMsg } from "./convert.ts";
import type { ScorerMetrics } from "./metrics.ts";

export const SERVICE_NAME = "inferd-scorer";

export interface PickHandlerOptions {
  logger: Logger;
  metrics: ScorerMetrics | undefined;
}

/**
 * One pick from message to message, with its metrics and log lines: what the NATS service runs per
 * request and what a gateway embedding the scorer calls in process.
 */
export function pickHandler(
  picks: PickService,
  opts: PickHandlerOptions,
): (req: PickRequest) => Promise<PickResponse> {
  return async (req) => {
    const result = await picks.pick(pickInputFromMsg(req));
    opts.metrics?.observePick(req.model, result);
    if (result.outcome !== "OK") {
      opts.logger.info(
        { reqId: req.requestId, model: req.model, outcome: result.outcome, message: result.message },
        "pick not OK",
      );
    } else {
      opts.logger.debug(
        { reqId: req.requestId, pod: result.endpoints[0]?.pod, profile: result.profile },
        "picked",
      );
    }
    return pickResponseToMsg(result, { omitCandidates: req.omitCandidates });
  };
}

const PICK_ENDPOINT = "pick";

/**
 * The handler as a gateway embedding the scorer calls it: in the span `servePick` gives a pick over
 * NATS (same name and attributes), a child of the gateway's request span.
 */
export function inProcessPick(
  handler: (req: PickRequest) => Promise<PickResponse>,
  prefix: string,
): (req: PickRequest) => Promise<PickResponse> {
  return inProcessEndpoint(SERVICE_NAME, PICK_ENDPOINT, subjects(prefix).schedPick(), handler);
}

/** Serves `inferd.v1.sched.pick` in the queue group shared by all scorer replicas. */
export async function servePick(
  nc: NatsConnection,
  handler: (req: PickRequest) => Promise<PickResponse>,
  opts: { prefix: string; version: string; logger: Logger },
): ReturnType<typeof serveService> {
  return serveService(nc, {
    name: SERVICE_NAME,
    version: opts.version,
    description: "inferd endpoint picker: prefix-, load- and SLO-aware",
    logger: opts.logger,
    // Tells installations sharing one NATS apart in `nats micro info`.
    metadata: { prefix: opts.prefix },
    endpoints: [
      schemaEndpoint(opts.prefix),
      defineEndpoint({
        name: PICK_ENDPOINT,
        subject: subjects(opts.prefix).schedPick(),
        queue: "scorer",
        request: PickRequestSchema,
        response: PickResponseSchema,
        handler,
      }),
    ],
  });
}
