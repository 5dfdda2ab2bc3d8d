import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, defineEndpoint, type NatsConnection, serveService, serviceClient } from "@inferd/bus";
import {
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  make,
  PickOutcome,
  PickRequestSchema,
  PickResponseSchema,
  subjects,
} from "@inferd/protocol";
import { loadScorerConfig, runScorer } from "@inferd/scorer";
import { createLogger, envName, setupTracing } from "@inferd/service-kit";
import { startNats } from "@inferd/testkit";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startEmbeddedScorer } from "../../src/adapters/embedded-scorer.ts";
import { natsPicker } from "../../src/adapters/nats-picker.ts";
import type { PickFn } from "../../src/options.ts";
import { startFakeUpstream } from "../fake-upstream.ts";
import { build, chatBody, MODEL } from "../helper.ts";

// The real SDK with an in-memory exporter: the spans an OTLP collector would receive.
const exporter = new InMemorySpanExporter();
const tracing = setupTracing({
  service: "tracing-test",
  otlpEndpoint: "",
  processors: [new SimpleSpanProcessor({ exporter })],
});

let server: Awaited<ReturnType<typeof startNats>>;
let nc: NatsConnection;
beforeAll(async () => {
  // JetStream: a real scorer (last test) consumes the request-lifecycle stream.
  server = await startNats();
  nc = await connectNats({ servers: server.url, name: "tracing-test" });
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
  await tracing.shutdown();
});

describe("tracing", () => {
  it("tracing - one trace from the client's traceparent through gateway, scorer (NATS) and kv-index (NATS) to the model server", async () => {
    expect(tracing.enabled).toBe(true);
    const up = await startFakeUpstream("sim-a");
    onTestFinished(() => up.close());
    const lookupHeaders: (string | undefined)[] = [];
    const kvIndex = await serveService(nc, {
      name: "fake-kv-index",
      version: "0.0.1",
      description: "test",
      endpoints: [
        defineEndpoint({
          name: "lookup",
          subject: subjects().kvLookup(),
          request: KvLookupRequestSchema,
          response: KvLookupResponseSchema,
          handler: async (_req, { headers }) => {
            lookupHeaders.push(headers?.get("traceparent"));
            return make(KvLookupResponseSchema, {});
          },
        }),
      ],
    });
    // A scorer stand-in that, like the real one, asks kv-index while it picks.
    const lookup = serviceClient(nc, subjects().kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
    const scorer = await serveService(nc, {
      name: "fake-scorer",
      version: "0.0.1",
      description: "test",
      endpoints: [
        defineEndpoint({
          name: "pick",
          subject: subjects().schedPick(),
          request: PickRequestSchema,
          response: PickResponseSchema,
          handler: async () => {
            await lookup.call(make(KvLookupRequestSchema, { model: MODEL }));
            return make(PickResponseSchema, {
              outcome: PickOutcome.OK,
              endpoints: [{ pod: up.pod, address: up.address }],
            });
          },
        }),
      ],
    });
    onTestFinished(async () => {
      await scorer.stop();
      await kvIndex.stop();
    });
    const { app } = await build({ models: { [MODEL]: {} }, pick: natsPicker(nc), pickDeadlineMs: 2000 });
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(200);

    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const gateway = byName("POST /v1/chat/completions");
    const pickClient = byName(`request ${subjects().schedPick()}`);
    const pickServer = byName("fake-scorer pick");
    const lookupClient = byName(`request ${subjects().kvLookup()}`);
    const lookupServer = byName("fake-kv-index lookup");
    const chain = [gateway, pickClient, pickServer, lookupClient, lookupServer];
    for (const s of chain) expect(s.spanContext().traceId).toBe(traceId);
    expect(gateway.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    for (let i = 1; i < chain.length; i++)
      expect(chain[i]!.parentSpanContext?.spanId).toBe(chain[i - 1]!.spanContext().spanId);
    expect([gateway.kind, pickClient.kind, pickServer.kind]).toEqual([
      SpanKind.SERVER,
      SpanKind.CLIENT,
      SpanKind.SERVER,
    ]);
    expect(gateway.attributes["http.response.status_code"]).toBe(200);
    expect(lookupHeaders[0]).toContain(traceId);
    // The model server's request is a child of the gateway's span.
    expect(up.received[0]!.headers.traceparent).toBe(`00-${traceId}-${gateway.spanContext().spanId}-01`);
  });

  it("tracing - an embedded pick gets the span a pick over NATS gets, child of the gateway's request span", async () => {
    const up = await startFakeUpstream("sim-a");
    onTestFinished(() => up.close());
    const dir = mkdtempSync(join(tmpdir(), "gateway-tracing-"));
    const endpointsFile = join(dir, "endpoints.yaml");
    writeFileSync(
      endpointsFile,
      `endpoints:\n- {model: ${MODEL}, pod: ${up.pod}, address: "${up.address}", role: both, ready: true}\n`,
    );
    // The real scorer: no tokenizer download, no index replica, no scrape.
    const values = {
      natsUrl: server.url,
      opsPort: "0",
      tokenizer: "estimate",
      indexReplica: "false",
      scrapeIntervalMs: "0",
      endpointsFile,
      logLevel: "warn",
    };
    const config = loadScorerConfig(
      [],
      Object.fromEntries(Object.entries(values).map(([k, v]) => [envName("scorer", k), v])),
    );
    const quiet = createLogger({ service: "scorer", level: "silent" });

    /** The spans of one chat completion through a gateway picking with `pick`, by name. */
    async function traceOne(pick: PickFn, traceId: string) {
      exporter.reset();
      const { app } = await build({ models: { [MODEL]: {} }, pick, pickDeadlineMs: 5000 });
      const res = await app.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
        payload: chatBody(),
      });
      expect(res.statusCode).toBe(200);
      const spans = exporter.getFinishedSpans();
      for (const s of spans) expect(s.spanContext().traceId).toBe(traceId);
      return (name: string, kind: SpanKind): ReadableSpan => {
        const found = spans.filter((s) => s.name === name && s.kind === kind);
        expect(found, `${name} ${SpanKind[kind]}`).toHaveLength(1);
        return found[0]!;
      };
    }

    // The reference: the same scorer as its own service, picking over NATS.
    const served = await runScorer(config, { logger: quiet });
    let overNats: ReadableSpan;
    try {
      const span = await traceOne(natsPicker(nc), "1af7651916cd43dd8448eb211c80319c");
      overNats = span("inferd-scorer pick", SpanKind.SERVER);
    } finally {
      await served.stop();
    }

    const embedded = await startEmbeddedScorer(config, new Registry());
    onTestFinished(() => embedded.stop());
    const span = await traceOne(embedded.pick, "2af7651916cd43dd8448eb211c80319c");
    const gateway = span("POST /v1/chat/completions", SpanKind.SERVER);
    const pick = span("inferd-scorer pick", SpanKind.INTERNAL);
    expect(pick.attributes).toEqual(overNats.attributes);
    expect(pick.parentSpanContext?.spanId).toBe(gateway.spanContext().spanId);
    // No NATS hop: no CLIENT span for the pick.
    expect(exporter.getFinishedSpans().some((s) => s.name === `request ${subjects().schedPick()}`)).toBe(
      false,
    );
  }, 60_000);
});
