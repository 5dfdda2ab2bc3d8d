import { type NatsConnection, serviceClient } from "@inferd/bus";
import { PickRequestSchema, PickResponseSchema, subjects } from "@inferd/protocol";
import type { PickFn } from "../options.ts";

/** The scorer over NATS: `inferd.v1.sched.pick` (queue group of scorer replicas). */
export function natsPicker(nc: NatsConnection, prefix?: string): PickFn {
  const client = serviceClient(nc, subjects(prefix).schedPick(), PickRequestSchema, PickResponseSchema);
  return (request, timeoutMs) => client.call(request, { timeoutMs });
}
