import { connectNats, jetstreamManager, messageHeaders, type NatsConnection, openKv } from "@inferd/bus";
import {
  BUCKETS,
  type DescMessage,
  decode,
  EndpointLoadSchema,
  KvEventBatchSchema,
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  PickRequestSchema,
  PickResponseSchema,
  RequestEventSchema,
  subjects,
} from "@inferd/protocol";
import fc from "fast-check";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, startStack } from "./stack.ts";

/**
 * Malformed protobuf and protobuf-JSON on every NATS subject an inferd service listens to, sent
 * to the whole stack started by `inferd up --on-exit stop` (so any crash stops the stack and
 * fails the test): the two request/reply services answer a 4xx-class error reply (never a 500,
 * never silence), the consumed subjects (lifecycle events, load, decisions, KV events stream,
 * endpoint inventory) skip what they cannot decode, and the stack still serves a chat
 * completion afterwards.
 *
 * INFERD_FUZZ_SCALE multiplies the counts (the bench's long form: `inferd bench fuzz`).
 */
const SCALE = Number(process.env.INFERD_FUZZ_SCALE ?? "1");
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const MODEL = "Qwen/Qwen3-32B";
const s = subjects();

let stack: RunningStack;
let nc: NatsConnection;
beforeAll(async () => {
  stack = await startStack({ sims: 1, args: ["--on-exit", "stop", "--profile", "tiny-fast"] });
  nc = await connectNats({ servers: stack.addresses.nats, name: "nats-fuzz" });
}, 120_000);
afterAll(async () => {
  await nc?.close();
  expect(await stack?.stop()).toBe(0);
});

/** Payloads as protobuf (random bytes, field numbers and wire types) or as JSON text. */
const payload = fc.oneof(
  fc.record({ json: fc.constant(false), data: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({
    json: fc.constant(true),
    data: fc
      .oneof(
        fc.json({ maxDepth: 3 }),
        fc
          .dictionary(
            fc.constantFrom(
              "model",
              "requestId",
              "prompt",
              "text",
              "tokens",
              "chat",
              "maxTokens",
              "priority",
              "sloTtftMs",
              "excludePods",
              "candidatePods",
              "lora",
            ),
            fc.oneof(
              fc.jsonValue({ maxDepth: 2 }),
              fc.constantFrom(-1, 1e300, 2 ** 32, "\ud800", { ids: [-1, 2 ** 40] }),
            ),
            { maxKeys: 4 },
          )
          .map((o) => JSON.stringify(o)),
        fc.string({ maxLength: 100 }),
      )
      .map((t) => new TextEncoder().encode(t)),
  }),
);

function headersFor(json: boolean, schema: DescMessage) {
  return messageHeaders(schema, json ? "json" : "protobuf");
}

async function chatOk(): Promise<number> {
  const res = await request(`${stack.addresses.gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "still there?" }],
      max_tokens: 2,
    }),
  });
  await res.body.text();
  return res.statusCode;
}

describe("fuzz - malformed messages on every NATS subject of the stack", () => {
  for (const svc of [
    { subject: s.schedPick(), req: PickRequestSchema, res: PickResponseSchema },
    { subject: s.kvLookup(), req: KvLookupRequestSchema, res: KvLookupResponseSchema },
  ]) {
    it(`${svc.subject}: ${runs(300)} malformed requests get an answer, never a 500`, async () => {
      const codes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(payload, async (p) => {
          const reply = await nc.request(svc.subject, p.data, {
            timeout: 10_000,
            headers: headersFor(p.json, svc.req),
          });
          const code = reply.headers?.get("Nats-Service-Error-Code") ?? "";
          codes.set(code || "ok", (codes.get(code || "ok") ?? 0) + 1);
          if (code === "") {
            // Decodable after all: a well-formed answer of the response type.
            expect(() => decode(svc.res, reply.data, p.json ? "json" : "protobuf")).not.toThrow();
          } else {
            expect(Number(code), `${code} ${reply.headers?.get("Nats-Service-Error")}`).toBeLessThan(500);
          }
        }),
        { numRuns: runs(300), seed: Number(process.env.INFERD_FUZZ_SEED ?? 5) },
      );
      expect(codes.get("400") ?? 0).toBeGreaterThan(0);
    }, 120_000);
  }

  it(`consumed subjects and the inventory skip ${runs(200)} malformed messages each`, async () => {
    const js = (await jetstreamManager(nc)).jetstream();
    const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
    const garbage = fc.sample(payload, {
      numRuns: runs(200),
      seed: Number(process.env.INFERD_FUZZ_SEED ?? 9),
    });
    for (const [i, p] of garbage.entries()) {
      nc.publish(s.requests(MODEL), p.data, { headers: headersFor(p.json, RequestEventSchema) });
      nc.publish(s.load(MODEL, "fuzz-pod"), p.data, {
        headers: headersFor(p.json, EndpointLoadSchema),
      });
      nc.publish(s.schedDecisions(MODEL), p.data, { headers: headersFor(p.json, RequestEventSchema) });
      await js.publish(s.kvEvents(MODEL, "fuzz-pod"), p.data, {
        headers: headersFor(p.json, KvEventBatchSchema),
        msgID: `fuzz-${i}`,
      });
      if (i % 20 === 0) await kv.put(s.endpointKey(MODEL, `fuzz-${i}`), p.data);
    }
    await nc.flush();
    // Every service is still up (the stack stops on any exit) and the path still works.
    expect(await chatOk()).toBe(200);
    expect(stack.output()).not.toMatch(/inferd up: stopping/);
    for (const name of ["gateway", "scorer", "kv-index"]) {
      const url =
        name === "gateway"
          ? stack.addresses.gateway
          : name === "scorer"
            ? stack.addresses.scorer
            : stack.addresses.kvIndex;
      const ready = await request(`${url}/readyz`);
      await ready.body.text();
      expect(ready.statusCode, name).toBe(200);
    }
  }, 180_000);
});
