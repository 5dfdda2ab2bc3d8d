import { connectNats, defineEndpoint, type NatsConnection, ServiceError, serveService } from "@inferd/bus";
import { KvLookupRequestSchema, KvLookupResponseSchema, make, subjects } from "@inferd/protocol";
import { setupPropagation } from "@inferd/service-kit";
import { type NatsServerHandle, startNats } from "@inferd/testkit";
import { context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsKvLookup } from "../../src/adapters/kv-lookup.ts";

describe("kv-index lookup client", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const seen: { ids: number[]; pods: string[]; lora: string }[] = [];

  beforeAll(async () => {
    nats = await startNats({ jetstream: false });
    nc = await connectNats({ servers: nats.url, name: "lookup-test" });
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.stop();
  });

  const query = (ids: number[] | undefined) => ({
    model: "m",
    lora: "sql",
    tokens: ids ? new Uint32Array(ids) : undefined,
    prompt: { kind: "text" as const, text: "hello" },
    candidatePods: ["a", "b"],
    cacheSalt: "",
  });

  it("kv lookup - no kv-index answering is a no_responders error (the producer then fails open)", async () => {
    const lookup = natsKvLookup(nc, { prefix: "nobody", timeoutMs: 500 });
    await expect(lookup(query([1, 2, 3]))).rejects.toMatchObject({ code: "no_responders" });
  });

  it("kv lookup - token and text lookups reach the service and answers are converted", async () => {
    const svc = await serveService(nc, {
      name: "fake-kv-index",
      version: "0.0.1",
      description: "answers lookups for this test",
      endpoints: [
        defineEndpoint({
          name: "lookup",
          subject: subjects("t1").kvLookup(),
          request: KvLookupRequestSchema,
          response: KvLookupResponseSchema,
          handler: async (req) => {
            if (req.prompt.case === "text")
              throw new ServiceError(400, "bad_request", "text not supported here");
            if (req.prompt.case === "tokens" && req.prompt.value.ids.length === 0) {
              throw new ServiceError(400, "empty_prompt", "no tokens");
            }
            seen.push({
              ids: req.prompt.case === "tokens" ? req.prompt.value.ids : [],
              pods: req.candidatePods,
              lora: req.loraName,
            });
            return make(KvLookupResponseSchema, {
              totalBlocks: 2,
              blockSize: 16,
              promptTokens: 40,
              pods: [{ pod: "a", gpuBlocks: 1, cpuBlocks: 2, matchedBlocks: 2 }],
            });
          },
        }),
      ],
    });
    try {
      const lookup = natsKvLookup(nc, { prefix: "t1", timeoutMs: 2000 });
      const answer = await lookup(query([5, 300, 70_000]));
      expect(answer).toEqual({
        totalBlocks: 2,
        blockSize: 16,
        promptTokens: 40,
        pods: [{ pod: "a", gpuBlocks: 1, cpuBlocks: 2, matchedBlocks: 2 }],
      });
      expect(seen.at(-1)).toEqual({ ids: [5, 300, 70_000], pods: ["a", "b"], lora: "sql" });
      await expect(lookup(query(undefined))).rejects.toMatchObject({ code: "bad_request", status: 400 });
      await expect(lookup(query([]))).rejects.toMatchObject({ code: "empty_prompt", status: 400 });
    } finally {
      await svc.stop();
    }
  });

  it("kv lookup - the pick's trace context reaches kv-index in the request headers, even with tracing off", async () => {
    setupPropagation();
    const traceparents: (string | undefined)[] = [];
    const svc = await serveService(nc, {
      name: "fake-kv-index-trace",
      version: "0.0.1",
      description: "records traceparent",
      endpoints: [
        defineEndpoint({
          name: "lookup",
          subject: subjects("t2").kvLookup(),
          request: KvLookupRequestSchema,
          response: KvLookupResponseSchema,
          handler: async (_req, { headers }) => {
            traceparents.push(headers?.get("traceparent") || undefined);
            return make(KvLookupResponseSchema, {});
          },
        }),
      ],
    });
    try {
      const lookup = natsKvLookup(nc, { prefix: "t2", timeoutMs: 2000 });
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId,
        spanId: "00f067aa0ba902b7",
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      });
      await context.with(parent, () => lookup(query([1, 2, 3])));
      await lookup(query([1, 2, 3]));
      expect(traceparents[0]).toBe(`00-${traceId}-00f067aa0ba902b7-01`);
      expect(traceparents[1]).toBeUndefined();
    } finally {
      await svc.stop();
    }
  });
});
