/**
 * CPU a scorer replica spends consuming request lifecycle events (issue 16, lean hot path): the
 * real consumer (`consumeRequestEvents`: ordered JetStream consumer on `<PREFIX>_REQUESTS`,
 * protobuf decode, conversion) applying into the real scorer core, against a real nats-server.
 * A request is 4 events (ADMITTED, ROUTED, FIRST_TOKEN, COMPLETED) shaped as the gateway sends
 * them. Reports this process's CPU per event and per request while it consumes a backlog (the
 * publishing happened before the measurement), and, apart, the decode + conversion alone.
 * Prints figures, asserts nothing.
 *
 *   node services/scorer/bench/lifecycle-consume.bench.ts [--requests 5000]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { connectNats, createStreamIfMissing, jetstream, requestsStreamConfig } from "@inferd/bus";
import {
  decode,
  encode,
  make,
  RequestEventSchema,
  RequestPhase,
  subjects,
  timestampNow,
} from "@inferd/protocol";
import { createLogger } from "@inferd/service-kit";
import { startNats, waitFor } from "@inferd/testkit";
import { lifecycleFromMsg } from "../src/adapters/convert.ts";
import { consumeRequestEvents } from "../src/adapters/requests-consumer.ts";
import { createScorerCore } from "../src/core.ts";

const { values: args } = parseArgs({ options: { requests: { type: "string", default: "5000" } } });
const REQUESTS = Number(args.requests);
const MODEL = "Qwen/Qwen3-32B";
const PHASES = [RequestPhase.ADMITTED, RequestPhase.ROUTED, RequestPhase.FIRST_TOKEN, RequestPhase.COMPLETED];

const event = (i: number, phase: RequestPhase) =>
  encode(
    RequestEventSchema,
    make(RequestEventSchema, {
      requestId: `0f8e3c2a-1b7d-4c1e-9a55-${String(i).padStart(12, "0")}`,
      phase,
      model: MODEL,
      baseModel: MODEL,
      time: timestampNow(),
      endpoint: phase === RequestPhase.ADMITTED ? "" : `sim-${i % 4}`,
      fairnessId: "default",
      stream: true,
      maxTokens: 256,
      promptTokens: 6200,
      cachedTokens: phase === RequestPhase.COMPLETED ? 6000 : 0,
      ttftSeconds: phase === RequestPhase.FIRST_TOKEN || phase === RequestPhase.COMPLETED ? 0.12 : 0,
      itlMeanSeconds: phase === RequestPhase.COMPLETED ? 0.02 : 0,
      e2eSeconds: phase === RequestPhase.COMPLETED ? 5.2 : 0,
      gatewayId: "gateway-host-1234",
    }),
  );
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

// Decode + conversion alone (what every consumer pays per event on top of the NATS client).
const sample = PHASES.map((p) => event(1, p));
let sink = 0;
for (let i = 0; i < 20_000; i++)
  sink += lifecycleFromMsg(decode(RequestEventSchema, sample[i % 4]!))!.promptTokens;
let c0 = cpuMs();
for (let i = 0; i < 100_000; i++)
  sink += lifecycleFromMsg(decode(RequestEventSchema, sample[i % 4]!))!.promptTokens;
const decodeUs = ((cpuMs() - c0) * 1000) / 100_000;

const nats = await startNats({ jetstream: true });
const nc = await connectNats({ servers: nats.url, name: "bench" });
try {
  await createStreamIfMissing(nc, requestsStreamConfig("inferd"));
  const js = jetstream(nc);
  const subject = subjects("inferd").requests(MODEL);
  for (let i = 0; i < REQUESTS; i++) {
    await Promise.all(PHASES.map((p) => js.publish(subject, event(i, p))));
  }
  const core = createScorerCore({ policy: { kind: "builtin", name: "default" } });
  let applied = 0;
  c0 = cpuMs();
  const t0 = performance.now();
  const consumer = await consumeRequestEvents(nc, {
    prefix: "inferd",
    replayMs: 3_600_000,
    logger: createLogger({ service: "bench", level: "warn" }),
    apply: (ev) => {
      core.applyEvent(ev);
      applied++;
    },
  });
  await waitFor(() => applied >= REQUESTS * 4, { timeoutMs: 300_000, intervalMs: 20, message: "consumed" });
  const cpu = cpuMs() - c0;
  const wall = performance.now() - t0;
  await consumer.stop();
  const events = REQUESTS * 4;
  process.stdout.write(
    `${events} lifecycle events (${REQUESTS} requests) consumed from ${"INFERD_REQUESTS"}: ` +
      `CPU ${((1000 * cpu) / events).toFixed(1)} us per event, ${((4 * cpu) / events).toFixed(3)} ms per request ` +
      `(wall ${(wall / 1000).toFixed(2)} s); decode + conversion alone ${decodeUs.toFixed(2)} us per event; ` +
      `load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")} (${sink > 0 ? "ok" : ""})\n`,
  );
} finally {
  await nc.drain();
  await nats.stop();
}
