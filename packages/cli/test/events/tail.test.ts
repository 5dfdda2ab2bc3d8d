import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import {
  connectNats,
  createStreamIfMissing,
  encodeMessage,
  jetStreamClient,
  messageHeaders,
  openKv,
  publishMessage,
  putEndpoint,
  requestsStreamConfig,
} from "@inferd/bus";
import {
  BUCKETS,
  EndpointLoadSchema,
  EndpointRole,
  EndpointSchema,
  make,
  RequestEventSchema,
  RequestPhase,
  subjects,
} from "@inferd/protocol";
import { startNats, waitFor } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const main = join(import.meta.dirname, "../../src/main.ts");

/** Runs `inferd events tail ...` and collects its stdout lines. */
function tail(args: string[]): { child: ChildProcess; lines: () => string[]; done: Promise<number | null> } {
  const child = spawn(process.execPath, [main, "events", "tail", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (c) => {
    out += c;
  });
  const done = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, lines: () => out.split("\n").filter(Boolean), done };
}

describe("cli events - tail against a real nats-server", () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.dispose();
  });
  const s = subjects();

  it("replays one model's request events from the start of INFERD_REQUESTS as JSON", async () => {
    const nc = await connectNats({ servers: nats.url, name: "events-test" });
    await createStreamIfMissing(nc, requestsStreamConfig());
    const js = jetStreamClient(nc);
    for (const model of ["other", "Qwen/Qwen3-32B"]) {
      await publishMessage(
        js,
        s.requests(model),
        RequestEventSchema,
        make(RequestEventSchema, {
          requestId: `r-${model}`,
          model,
          phase: RequestPhase.FIRST_TOKEN,
          ttftSeconds: 0.2,
        }),
      );
    }
    const t = tail([
      "--nats",
      nats.url,
      "--model",
      "Qwen/Qwen3-32B",
      "--from-start",
      "--json",
      "--count",
      "1",
    ]);
    expect(await t.done).toBe(0);
    const event = JSON.parse(t.lines()[0]!);
    expect(event).toMatchObject({
      subject: "inferd.v1.requests.Qwen=2FQwen3-32B",
      type: "inferd.v1.RequestEvent",
      streamSeq: 2,
      message: { requestId: "r-Qwen/Qwen3-32B", phase: "REQUEST_PHASE_FIRST_TOKEN", ttftSeconds: 0.2 },
    });
    await nc.close();
  });

  it("prints the current inventory, then its changes", async () => {
    const nc = await connectNats({ servers: nats.url, name: "events-test" });
    const kv = await openKv(nc, BUCKETS.endpoints);
    const endpoint = (pod: string) =>
      make(EndpointSchema, {
        model: "m",
        pod,
        address: `http://127.0.0.1:1/${pod}`,
        ready: true,
        role: EndpointRole.BOTH,
      });
    await putEndpoint(kv, endpoint("sim-0"));
    const t = tail(["--nats", nats.url, "--stream", "endpoints", "--count", "2"]);
    await waitFor(() => t.lines().length >= 1, { timeoutMs: 15_000 });
    await putEndpoint(kv, endpoint("sim-1"));
    expect(await t.done).toBe(0);
    expect(t.lines()[0]).toMatch(/Endpoint m sim-0 http:\/\/127\.0\.0\.1:1\/sim-0 ready role=BOTH$/);
    expect(t.lines()[1]).toMatch(/Endpoint m sim-1 .* ready/);
    await nc.close();
  });

  it("follows a live core subject (endpoint load)", async () => {
    const nc = await connectNats({ servers: nats.url, name: "events-test" });
    const t = tail(["--nats", nats.url, "--stream", "load", "--count", "1"]);
    const load = make(EndpointLoadSchema, {
      model: "m",
      pod: "p",
      reachable: true,
      requestsWaiting: 2,
      kvCacheUsage: 0.5,
    });
    await waitFor(
      () => {
        nc.publish(s.load("m", "p"), encodeMessage(EndpointLoadSchema, load), {
          headers: messageHeaders(EndpointLoadSchema),
        });
        return t.lines().length > 0;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(await t.done).toBe(0);
    expect(t.lines()[0]).toMatch(/EndpointLoad m p waiting=2 running=- kv=50\.0%$/);
    await nc.close();
  });
});
