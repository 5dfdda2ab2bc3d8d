import { type NatsConnection, serviceClient } from "@inferd/bus";
import { KvLookupRequestSchema, KvLookupResponseSchema, subjects } from "@inferd/protocol";
import type { KvLookupFn } from "../framework/handle.ts";
import { kvLookupAnswerOf, kvLookupRequestOf } from "./convert.ts";

/** The precise prefix producer's link to kv-index (`inferd.v1.kv.lookup`); failures throw, and the producer fails open. */
export function natsKvLookup(nc: NatsConnection, opts: { prefix: string; timeoutMs: number }): KvLookupFn {
  const client = serviceClient(
    nc,
    subjects(opts.prefix).kvLookup(),
    KvLookupRequestSchema,
    KvLookupResponseSchema,
    {
      defaultTimeoutMs: opts.timeoutMs,
    },
  );
  return async (query) => kvLookupAnswerOf(await client.call(kvLookupRequestOf(query)));
}
