import {
  connectNats,
  encodeMessage,
  messageHeaders,
  type NatsConnection,
  openKv,
  putEndpoint,
  serviceClient,
} from "@inferd/bus";
import {
  BUCKETS,
  EndpointRole,
  EndpointSchema,
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  make,
  PickOutcome,
  PickRequestSchema,
  PickResponseSchema,
  RequestEventSchema,
  RequestPhase,
  subjects,
} from "@inferd/protocol";
import {
  freePortRange,
  type ManagedProcess,
  type NatsServerHandle,
  startNats,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningScorer, runScorer } from "../../src/run.ts";
import { quietLogger, startKvIndexProcess, testConfig } from "../adapters/helpers.ts";

/**
 * The scorer's default policy against real model servers (model-sim fleet, KV events over ZeroMQ) and
 * a real kv-index (in-memory index): the test plays the gateway (pick, send, publish lifecycle events).
 */
const MODEL = "Qwen/Qwen3-32B";
const SIMS = 3;
const REPO = new URL("../../../../", import.meta.url).pathname;

function words(seed: number, n: number): string {
  const vocab =
    "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river stone cloud maple cedar".split(
      " ",
    );
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return vocab[x % vocab.length];
  }).join(" ");
}

describe("scorer e2e - sticky until saturated (model-sim + kv-index)", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let sims: ManagedProcess;
  let kvIndex: ManagedProcess;
  let scorer: RunningScorer;
  const addresses: string[] = [];
  const pods: string[] = [];
  const s = subjects();

  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "e2e" });
    const httpPorts = await freePortRange(SIMS);
    const zmqPorts = await freePortRange(SIMS);
    sims = startProcess({
      command: process.execPath,
      args: [
        "services/model-sim/src/main.ts",
        "--port",
        String(httpPorts),
        "--fleet",
        String(SIMS),
        "--pod-name",
        "sim-{i}",
        "--profile",
        "qwen3-32b-h100-tp2",
        "--kv-events-config",
        JSON.stringify({
          enable_kv_cache_events: true,
          publisher: "zmq",
          endpoint: `tcp://*:${zmqPorts}`,
          topic: "kv@{pod}@{model}",
        }),
        "--prefix-caching-hash-algo",
        "sha256_cbor",
      ],
      env: { ...process.env, PYTHONHASHSEED: "0", INFERD_LOG_LEVEL: "warn" },
      cwd: REPO,
    });
    for (let i = 0; i < SIMS; i++) {
      pods.push(`sim-${i}`);
      addresses.push(`http://127.0.0.1:${httpPorts + i}`);
    }
    await waitFor(
      async () =>
        (await Promise.all(addresses.map((a) => fetch(`${a}/health`).then((r) => r.ok)))).every(Boolean),
      {
        timeoutMs: 60_000, // start-up only: 30 s ran out once under full-suite load (load average 18)
        message: `model-sim fleet up (${sims.output().slice(-300)})`,
      },
    ).catch((err) => Promise.reject(err));
    const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
    for (let i = 0; i < SIMS; i++) {
      await putEndpoint(
        kv,
        make(EndpointSchema, {
          model: MODEL,
          pod: pods[i]!,
          address: addresses[i]!,
          role: EndpointRole.BOTH,
          ready: true,
          kvEventsEndpoint: `tcp://127.0.0.1:${zmqPorts + i}`,
          blockSize: 16,
        }),
      );
    }
    kvIndex = await startKvIndexProcess(nats.url, { INDEX_BACKEND: "memory", ZMQ_MODE: "connect" });
    scorer = await runScorer(
      testConfig(nats.url, {
        kvLookup: "true",
        tokenizer: "qwen3",
        scrapeIntervalMs: "100",
        kvLookupTimeoutMs: "500",
      }),
      { logger: quietLogger() },
    );
    await waitFor(() => scorer.core.endpoints.all().length === SIMS, { message: "scorer sees the fleet" });
    const lookup = serviceClient(nc, s.kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
    await waitFor(
      () =>
        lookup.call(
          make(KvLookupRequestSchema, { model: MODEL, prompt: { case: "tokens", value: { ids: [1] } } }),
        ),
      {
        timeoutMs: 30_000,
        message: `kv-index answers lookups (${kvIndex.output().slice(-300)})`,
      },
    );
  }, 120_000);

  afterAll(async () => {
    await scorer?.stop();
    await kvIndex?.stop();
    await sims?.stop();
    await nc?.drain();
    await nats?.stop();
  });

  const picker = () => serviceClient(nc, s.schedPick(), PickRequestSchema, PickResponseSchema);
  const event = (
    requestId: string,
    phase: RequestPhase,
    endpoint: string,
    extra: Record<string, number> = {},
  ) => {
    const ev = make(RequestEventSchema, {
      requestId,
      phase,
      model: MODEL,
      baseModel: MODEL,
      endpoint,
      ...extra,
    });
    nc.publish(s.requests(MODEL), encodeMessage(RequestEventSchema, ev), {
      headers: messageHeaders(RequestEventSchema),
    });
  };

  /** What a gateway does: pick, then (`run`) send to the first endpoint and report the lifecycle. */
  async function route(id: string, prompt: string): Promise<{ pod: string; run: () => Promise<void> }> {
    const res = await picker().call(
      make(PickRequestSchema, { requestId: id, model: MODEL, prompt: { case: "text", value: prompt } }),
      // Generous: a pick waits for a core under a full parallel suite on 2 cores.
      { timeoutMs: 20_000 },
    );
    expect(res.outcome).toBe(PickOutcome.OK);
    const choice = res.endpoints[0]!;
    event(id, RequestPhase.ROUTED, choice.pod, {
      promptTokens: res.promptTokens,
      cachedTokens: choice.cachedTokens,
    });
    const run = async () => {
      const t0 = performance.now();
      const r = await fetch(`${choice.address}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt, max_tokens: 4, stream: true }),
      });
      const reader = r.body!.getReader();
      let first = true;
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        if (first && value && new TextDecoder().decode(value).includes("data:")) {
          first = false;
          event(id, RequestPhase.FIRST_TOKEN, choice.pod, { ttftSeconds: (performance.now() - t0) / 1000 });
        }
      }
      event(id, RequestPhase.COMPLETED, choice.pod);
    };
    return { pod: choice.pod, run };
  }

  it("scorer e2e - repeated long shared prefix sticks to its holder, then spills when it saturates", async () => {
    const document = words(42, 3000);
    const prompt = (i: number) => `${document}\nQuestion ${i}: ${words(1000 + i, 300)}`;

    // Sequential requests: the first warms a server; once kv-index has its KV events, the rest stick.
    const first = await route("warm-0", prompt(0));
    await first.run();
    const lookup = serviceClient(nc, s.kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
    await waitFor(
      async () => {
        const r = await lookup.call(
          make(KvLookupRequestSchema, { model: MODEL, prompt: { case: "text", value: prompt(1) } }),
        );
        return (r.pods.find((p) => p.pod === first.pod)?.matchedBlocks ?? 0) > 100;
      },
      { timeoutMs: 15_000, message: "kv-index learned the holder's blocks" },
    );
    for (let i = 1; i <= 4; i++) {
      const r = await route(`seq-${i}`, prompt(i));
      expect(r.pod, `sequential request ${i}`).toBe(first.pod);
      await r.run();
    }

    // A burst (60 requests arriving together, routed before any completes, so the outcome does not
    // depend on how fast this machine is): they pile up on the holder until its predicted TTFT is
    // 250 ms worse than a cold server's, then spill to the others.
    const burst: { pod: string; run: () => Promise<void> }[] = [];
    for (let i = 0; i < 60; i++) burst.push(await route(`burst-${i}`, prompt(100 + i)));
    await Promise.all(burst.map((b) => b.run()));
    const order = burst.map((b) => b.pod);
    const firstSpill = order.findIndex((p) => p !== first.pod);
    expect(order.slice(0, 5)).toEqual(Array(5).fill(first.pod));
    expect(firstSpill, `burst order: ${order.join(",")}`).toBeGreaterThanOrEqual(5);
    const counts = new Map<string, number>();
    for (const p of order) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect(counts.size).toBeGreaterThan(1);
    expect(Math.max(...counts.values())).toBe(counts.get(first.pod));
  }, 120_000);
});
