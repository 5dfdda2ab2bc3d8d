import { connect } from "node:net";
import {
  connectNats,
  createStreamIfMissing,
  type NatsConnection,
  requestsStreamConfig,
  serveService,
} from "@inferd/bus";
import {
  make,
  PickOutcome,
  type PickRequest,
  PickRequestSchema,
  PickResponseSchema,
  subjects,
} from "@inferd/protocol";
import { type NatsServerHandle, startNats } from "@inferd/testkit";
import fc from "fast-check";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { natsEventSink } from "../../src/adapters/nats-events.ts";
import { natsPicker } from "../../src/adapters/nats-picker.ts";
import { startFakeUpstream } from "../fake-upstream.ts";
import { build, endpointOf, MODEL } from "../helper.ts";

/**
 * Fuzzes the gateway's HTTP edge with fast-check: JSON bodies whose fields take arbitrary
 * values (huge and negative numbers, wrong types, lone surrogates, deep nesting), routing
 * headers with arbitrary values, raw bodies that are not JSON or not UTF-8, oversized bodies
 * and header blocks. The gateway listens on a real socket and talks to a real nats-server: the
 * scorer (a stand-in service) decodes every PickRequest with the real codec, and lifecycle
 * events go through the real NATS event sink. Every answer must be a 2xx, or a 4xx with the
 * OpenAI error JSON; never a 5xx, never an event that cannot be encoded, never a crash.
 *
 * INFERD_FUZZ_SCALE multiplies the run counts (the bench's long form: `inferd bench fuzz`).
 */
const SCALE = Number(process.env.INFERD_FUZZ_SCALE ?? "1");
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const seed = Number(process.env.INFERD_FUZZ_SEED ?? 42);

let server: NatsServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNats();
  nc = await connectNats({ servers: server.url, name: "gateway-fuzz" });
  // The stream the sink stores lifecycle events in (the gateway creates it at start).
  await createStreamIfMissing(nc, requestsStreamConfig());
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

interface Answer {
  status: number;
  body: string;
}

/** A 2xx, or a 4xx whose body is the OpenAI error object. */
function expectAcceptableAnswer(a: Answer, what: string): void {
  if (a.status >= 200 && a.status < 300) return;
  expect(a.status, `${what} -> ${a.status} ${a.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(a.status, `${what} -> ${a.status} ${a.body.slice(0, 300)}`).toBeLessThan(500);
  const json = JSON.parse(a.body) as { error?: Record<string, unknown> };
  expect(typeof json.error?.message, what).toBe("string");
  expect(typeof json.error?.type, what).toBe("string");
  expect(json.error && "code" in json.error && "param" in json.error, what).toBe(true);
}

async function fuzzGateway() {
  const up = await startFakeUpstream("fuzz-a");
  onTestFinished(() => up.close());
  const decoded: PickRequest[] = [];
  const svc = await serveService(nc, {
    name: "fuzz-scorer",
    version: "0.0.1",
    description: "stand-in scorer for the fuzz suite",
    endpoints: [
      {
        name: "pick",
        subject: subjects().schedPick(),
        request: PickRequestSchema,
        response: PickResponseSchema,
        handler: async (req: PickRequest) => {
          decoded.push(req);
          if (decoded.length > 100) decoded.shift();
          return make(PickResponseSchema, {
            outcome: PickOutcome.OK,
            endpoints: [{ pod: up.pod, address: up.address }],
          });
        },
      },
    ],
  });
  onTestFinished(async () => {
    await svc.stop();
  });
  const dropped: unknown[] = [];
  const h = await build({
    listen: true,
    endpoints: [endpointOf(up)],
    models: { [MODEL]: {} },
    pick: natsPicker(nc),
    pickDeadlineMs: 5_000,
    bodyLimitBytes: 64 * 1024,
    eventSink: natsEventSink(nc, "gw-fuzz", { onDropped: (err) => dropped.push(err) }),
  });
  const agent = new Agent({ connections: 8 });
  onTestFinished(() => agent.close());
  const send = async (
    path: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<Answer> => {
    const res = await request(`${h.url}${path}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
      dispatcher: agent,
    });
    return { status: res.statusCode, body: await res.body.text() };
  };
  return { ...h, send, dropped };
}

/** Values that break naive code: out of range numbers, wrong types, odd strings, nesting. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    1e300,
    -1e300,
    -1,
    0,
    -0,
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    "",
    "\ud800",
    "a\udfffb",
    "x".repeat(10_000),
    [],
    {},
    null,
    true,
  ),
  fc.string({ unit: "binary", maxLength: 64 }),
);
const chatFields = [
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "n",
  "stream",
  "stream_options",
  "temperature",
  "top_p",
  "seed",
  "stop",
  "logprobs",
  "top_logprobs",
  "user",
  "cache_salt",
  "tools",
  "extra_unknown",
];
const completionFields = [
  "model",
  "prompt",
  "max_tokens",
  "n",
  "stream",
  "echo",
  "logprobs",
  "best_of",
  "suffix",
];
const message = fc.record(
  { role: fc.oneof(fc.constantFrom("user", "system", "assistant"), nasty), content: nasty },
  { requiredKeys: [] },
);
const headerText = fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ""));
const routingHeaders = fc.dictionary(
  fc.constantFrom(
    "x-llm-d-inference-objective",
    "x-llm-d-inference-fairness-id",
    "x-llm-d-slo-ttft-ms",
    "x-llm-d-slo-tpot-ms",
    "x-request-id",
    "x-session-id",
    "authorization",
  ),
  fc.oneof(headerText, fc.constantFrom("99999999999", "-1", "NaN", "1e400", "Infinity", "0x10", " 5 ")),
  { maxKeys: 4 },
);

describe("gateway - fuzzed HTTP input", () => {
  it(`answers ${runs(600)} fuzzed chat bodies and headers with a 2xx or an OpenAI 4xx`, async () => {
    const g = await fuzzGateway();
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...chatFields), nasty, { maxKeys: 3 }),
        fc.array(message, { maxLength: 3 }),
        routingHeaders,
        async (overrides, messages, headers) => {
          const body = {
            model: MODEL,
            messages: messages.length ? messages : [{ role: "user", content: "hi" }],
            max_tokens: 3,
            ...overrides,
          };
          const a = await g.send("/v1/chat/completions", JSON.stringify(body), headers);
          expectAcceptableAnswer(a, JSON.stringify({ body, headers }).slice(0, 500));
        },
      ),
      { numRuns: runs(600), seed },
    );
    expect(g.dropped).toEqual([]);
  }, 300_000);

  it(`answers ${runs(300)} fuzzed completion bodies (token-id prompts included)`, async () => {
    const g = await fuzzGateway();
    const prompt = fc.oneof(
      nasty,
      fc.array(fc.oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 32, -1, 1e300)), { maxLength: 8 }),
      fc.array(fc.array(fc.integer({ min: -5, max: 2 ** 33 }), { maxLength: 4 }), { maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(
        prompt,
        fc.dictionary(fc.constantFrom(...completionFields), nasty, { maxKeys: 2 }),
        async (p, overrides) => {
          const body = { model: MODEL, prompt: p, max_tokens: 3, ...overrides };
          const a = await g.send("/v1/completions", JSON.stringify(body));
          expectAcceptableAnswer(a, JSON.stringify(body).slice(0, 500));
        },
      ),
      { numRuns: runs(300), seed },
    );
    expect(g.dropped).toEqual([]);
  }, 300_000);

  it(`answers ${runs(150)} raw bodies that are not JSON, not UTF-8, or not objects with a 4xx`, async () => {
    const g = await fuzzGateway();
    const raw = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 512 }),
      fc.string({ maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
      fc
        .tuple(fc.string({ maxLength: 20 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
        .map(([s, b]) => Uint8Array.from([...new TextEncoder().encode(`{"model":"${s}`), 0xff, 0xfe, ...b])),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
    );
    await fc.assert(
      fc.asyncProperty(raw, contentType, async (body, ct) => {
        const a = await g.send("/v1/chat/completions", body, { "content-type": ct });
        expectAcceptableAnswer(a, `${ct} ${Buffer.from(body).toString("hex").slice(0, 80)}`);
        // Anything that is not a valid request body never reaches a model server.
        if (a.status < 300) expect(() => JSON.parse(Buffer.from(body).toString())).not.toThrow();
      }),
      { numRuns: runs(150), seed },
    );
  }, 300_000);

  it("refuses oversized bodies (413) and header blocks (431), and cuts slow clients off (408)", async () => {
    const g = await fuzzGateway();
    for (const size of [64 * 1024 + 1, 200 * 1024, 2 * 1024 * 1024]) {
      const a = await g.send("/v1/chat/completions", `{"model":"${MODEL}","pad":"${"x".repeat(size)}"}`);
      expect(a.status).toBe(413);
      expectAcceptableAnswer(a, `body of ${size} bytes`);
    }
    const big = await g.send("/v1/chat/completions", "{}", { "x-pad": "y".repeat(32 * 1024) });
    expect(big.status).toBe(431);
    expectAcceptableAnswer(big, "32 KiB header");
    // Raw request lines the HTTP parser refuses.
    for (const garbage of [
      "GARBAGE\r\n\r\n",
      "POST / HTTP/1.1\r\nbad header\r\n\r\n",
      "\u0000\u0001\u0002\r\n\r\n",
    ]) {
      const port = Number(new URL(g.url).port);
      const text = await new Promise<string>((resolve) => {
        const s = connect(port, "127.0.0.1", () => s.write(garbage));
        let got = "";
        s.on("data", (d) => {
          got += d.toString("latin1");
        });
        s.on("close", () => resolve(got));
        s.on("error", () => resolve(got));
      });
      expect(text, JSON.stringify(garbage)).toMatch(/^HTTP\/1\.1 400/);
      expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error.code).toBe("bad_request");
    }
  }, 60_000);
});
