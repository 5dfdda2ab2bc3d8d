import { make, PickOutcome, type PickRequest, PickResponseSchema, RequestPhase } from "@inferd/protocol";
import { freePort, waitFor } from "@inferd/testkit";
import { request } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import type { PickFn } from "../../src/options.ts";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream.ts";
import { build, chatBody, endpointOf, MODEL } from "../helper.ts";

async function fake(pod: string): Promise<FakeUpstream> {
  const f = await startFakeUpstream(pod);
  onTestFinished(() => f.close());
  return f;
}

const scorerDown: PickFn = () =>
  Promise.reject(Object.assign(new Error("no responders"), { code: "no_responders" }));

function pickOk(
  endpoints: { pod: string; address: string }[],
  prefill?: { pod: string; address: string },
): PickFn {
  return async () => make(PickResponseSchema, { outcome: PickOutcome.OK, endpoints, prefill });
}

const post = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: "POST" as const,
  url: "/v1/chat/completions",
  payload: chatBody(extra),
  headers,
});

/** A Promise and its resolver, to hold a fake model server's answers. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

describe("faults", () => {
  it("faults - scorer down with FailClose answers 503", async () => {
    const up = await fake("a");
    const { app, events } = await build({
      endpoints: [endpointOf(up)],
      pick: scorerDown,
      modelDefaults: { failureMode: "FailClose" },
    });
    const res = await app.inject(post({}, { "x-request-id": "fc" }));
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("scorer_unavailable");
    expect(up.received).toHaveLength(0);
    expect(events.last("fc")).toMatchObject({ phase: RequestPhase.FAILED, httpStatus: 503 });
  });

  it("faults - ROUTED events carry the cached tokens the scorer expects on each endpoint tried", async () => {
    const a = await fake("a");
    const { app, events } = await build({
      endpoints: [endpointOf(a)],
      pick: async () =>
        make(PickResponseSchema, {
          outcome: PickOutcome.OK,
          endpoints: [
            { pod: "down", address: `http://127.0.0.1:${await freePort()}`, cachedTokens: 640 },
            { pod: "a", address: a.address, cachedTokens: 32 },
          ],
        }),
    });
    expect((await app.inject(post({}, { "x-request-id": "cached" }))).statusCode).toBe(200);
    const routed = events.of("cached").filter((e) => e.phase === RequestPhase.ROUTED);
    expect(routed.map((e) => [e.endpoint, e.cachedTokens])).toEqual([
      ["down", 640],
      ["a", 32],
    ]);
  });

  it("faults - scorer down with FailOpen picks the least-loaded endpoint locally", async () => {
    const a = await fake("a");
    const b = await fake("b");
    const { app } = await build({
      endpoints: [endpointOf(a), endpointOf(b)],
      pick: scorerDown,
      models: { [MODEL]: { failureMode: "FailOpen" } },
    });
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await app.inject(post());
      expect(res.statusCode).toBe(200);
      served.add(String(res.headers["x-inferd-endpoint"]));
    }
    // Equal load: ties rotate, both endpoints take traffic.
    expect(served).toEqual(new Set(["a", "b"]));
  });

  it("faults - a late pick never fails the request by default: local pick, counted", async () => {
    const a = await fake("a");
    const b = await fake("b");
    // The scorer answers, but only after the deadline, and names an endpoint that is down.
    const slow: PickFn = () =>
      new Promise((resolve) =>
        setTimeout(
          () =>
            resolve(
              make(PickResponseSchema, {
                outcome: PickOutcome.OK,
                endpoints: [{ pod: "late", address: "http://127.0.0.1:1" }],
              }),
            ),
          200,
        ),
      );
    const { app, registry } = await build({
      endpoints: [endpointOf(a), endpointOf(b)],
      pick: slow,
      pickDeadlineMs: 30,
      // Default pickDeadlineMode (LocalPick), even with FailClose for an unreachable scorer.
      modelDefaults: { failureMode: "FailClose" },
    });
    const served: string[] = [];
    const long = { messages: [{ role: "user", content: "a long shared prompt ".repeat(30) }] };
    for (let i = 0; i < 3; i++) {
      const res = await app.inject(post(long));
      expect(res.statusCode).toBe(200);
      served.push(String(res.headers["x-inferd-endpoint"]));
    }
    // Same prompt each time: the local view keeps it on the endpoint it first went to.
    expect(new Set(served).size).toBe(1);
    expect(await registry.getSingleMetricAsString("inferd_gateway_local_picks_total")).toMatch(
      /reason="deadline"} 3/,
    );
    expect(await registry.getSingleMetricAsString("inferd_gateway_scorer_failures_total")).toContain(
      'failure_mode="LocalPick"',
    );
    expect(await registry.getSingleMetricAsString("inferd_gateway_pick_duration_seconds")).toContain(
      'result="deadline"',
    );
  });

  it("faults - a late pick follows the prefix the scorer chose before", async () => {
    const a = await fake("a");
    const b = await fake("b");
    let late = false;
    const pick: PickFn = (_req, timeoutMs) =>
      late
        ? new Promise((_, reject) =>
            setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "timeout" })), timeoutMs),
          )
        : pickOk([{ pod: b.pod, address: b.address }])(_req, timeoutMs);
    const { app } = await build({ endpoints: [endpointOf(a), endpointOf(b)], pick, pickDeadlineMs: 30 });
    const long = "the same long system prompt ".repeat(40);
    const body = (q: string) => ({
      messages: [
        { role: "system", content: long },
        { role: "user", content: q },
      ],
    });
    expect((await app.inject(post(body("first")))).headers["x-inferd-endpoint"]).toBe("b");
    late = true;
    for (const q of ["second", "third", "fourth"]) {
      const res = await app.inject(post(body(q)));
      expect(res.statusCode).toBe(200);
      expect(res.headers["x-inferd-endpoint"]).toBe("b");
    }
  });

  it("faults - pickDeadlineMode FailClose answers 503 for a late pick", async () => {
    const up = await fake("a");
    const never: PickFn = () => new Promise(() => undefined);
    const { app } = await build({
      endpoints: [endpointOf(up)],
      pick: never,
      pickDeadlineMs: 30,
      models: { [MODEL]: { pickDeadlineMode: "FailClose" } },
    });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("scorer_unavailable");
    expect(up.received).toHaveLength(0);
  });

  it("faults - a refusing model server falls back to the next endpoint of the pick", async () => {
    const good = await fake("good");
    const dead = { pod: "dead", address: `http://127.0.0.1:${await freePort()}` };
    const { app, registry, events } = await build({
      endpoints: [endpointOf(good)],
      pick: pickOk([dead, { pod: good.pod, address: good.address }]),
    });
    const res = await app.inject(post({}, { "x-request-id": "fb" }));
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("good");
    expect(await registry.getSingleMetricAsString("inferd_gateway_upstream_attempts_total")).toMatch(
      /result="refused"} 1/,
    );
    // Routed twice (dead, then good), completed on good.
    expect(
      events.requests
        .filter((e) => e.clientRequestId === "fb" && e.phase === RequestPhase.ROUTED)
        .map((e) => e.endpoint),
    ).toEqual(["dead", "good"]);
    expect(events.last("fb")).toMatchObject({ phase: RequestPhase.COMPLETED, endpoint: "good" });
  });

  it("faults - a 503 before any byte moves to the next endpoint; the last endpoint's answer is final", async () => {
    const busy = await fake("busy");
    busy.behaviour.status = 503;
    const good = await fake("good");
    const known = { [MODEL]: {} };
    const { app } = await build({
      models: known,
      pick: pickOk([busy, good].map((f) => ({ pod: f.pod, address: f.address }))),
    });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("good");
    expect(busy.received).toHaveLength(1);

    const { app: onlyBusy } = await build({
      models: known,
      pick: pickOk([{ pod: busy.pod, address: busy.address }]),
    });
    const last = await onlyBusy.inject(post());
    expect(last.statusCode).toBe(503);
    expect(last.headers["x-inferd-endpoint"]).toBe("busy");
  });

  it("faults - every endpoint refusing is a 503 naming the last error", async () => {
    const dead = { pod: "dead", address: `http://127.0.0.1:${await freePort()}` };
    const { app } = await build({ models: { [MODEL]: {} }, pick: pickOk([dead]) });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("upstream_unavailable");
    expect(res.json().error.message).toContain("dead");
  });

  it("faults - a server dying mid-stream ends the client's stream with an error event and records a failure", async () => {
    const up = await fake("a");
    up.behaviour.tokens = 5;
    up.behaviour.dieAfterChunks = 2;
    const { url, events } = await build({ endpoints: [endpointOf(up)], listen: true });
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "die" },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 5 })),
    });
    const text = await res.body.text();
    expect(res.statusCode, text).toBe(200);
    const evs = text.split("\n\n").filter(Boolean);
    // role + 2 content chunks, then the gateway's error event; no [DONE].
    expect(evs).toHaveLength(4);
    const last = JSON.parse(evs[3]!.slice("data: ".length));
    expect(last.error.code).toBe("upstream_died");
    expect(events.last("die")).toMatchObject({
      phase: RequestPhase.FAILED,
      errorCode: "upstream_died",
      endpoint: "a",
    });
    expect(events.phases("die")).toContain(RequestPhase.FIRST_TOKEN);
  });

  it("faults - pool at zero holds the request, publishes Demand, and serves it when an endpoint appears", async () => {
    const up = await fake("late");
    const { app, inventory, events } = await build({
      endpoints: [],
      models: { [MODEL]: { noEndpointTtlMs: 10_000 } },
    });
    const pending = app.inject(post({}, { "x-request-id": "held" }));
    await waitFor(() => events.demands.some((d) => d.model === MODEL && d.held === 1), {
      message: "Demand for the held request",
    });
    expect(app.flowControl.size(MODEL)).toBe(1);
    inventory.upsert(endpointOf(up));
    app.flowControl.wakeAll();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("late");
    expect(events.last("held")!.queueSeconds).toBeGreaterThan(0);
  });

  it("faults - pool at zero answers 503 once the hold time passes", async () => {
    const { app, events } = await build({ endpoints: [], models: { [MODEL]: { noEndpointTtlMs: 150 } } });
    const res = await app.inject(post({}, { "x-request-id": "ttl" }));
    expect(res.statusCode).toBe(503);
    expect(res.headers["x-llm-d-request-dropped-reason"]).toBe("rejected-no-endpoints");
    expect(events.last("ttl")).toMatchObject({ phase: RequestPhase.FAILED, httpStatus: 503 });
    // With holding disabled the answer is immediate.
    const { app: noHold } = await build({ endpoints: [], models: { [MODEL]: { noEndpointTtlMs: 0 } } });
    expect((await noHold.inject(post())).statusCode).toBe(503);
  });

  it("faults - under saturation sheddable requests get 429 while critical ones queue and are served", async () => {
    const up = await fake("a");
    const hold = gate();
    up.behaviour.gate = hold.promise;
    const { app, registry } = await build({
      endpoints: [endpointOf(up)],
      models: { [MODEL]: { maxConcurrencyPerEndpoint: 1, queueTtlMs: 10_000 } },
    });
    const first = app.inject(post({}, { "x-llm-d-inference-objective": "critical" }));
    await waitFor(() => up.received.length === 1, { message: "first request at the model server" });
    const shed = await app.inject(post({}, { "x-llm-d-inference-objective": "batch" }));
    expect(shed.statusCode).toBe(429);
    expect(shed.headers["x-llm-d-request-dropped-reason"]).toBe("rejected-saturated");
    const second = app.inject(post({}, { "x-llm-d-inference-objective": "critical" }));
    await waitFor(() => app.flowControl.size(MODEL) === 1, { message: "critical request queued" });
    expect(up.received).toHaveLength(1);
    expect(await registry.getSingleMetricAsString("inferd_gateway_queue_size")).toMatch(/priority="100"} 1/);
    hold.open();
    expect((await first).statusCode).toBe(200);
    expect((await second).statusCode).toBe(200);
    expect(up.received).toHaveLength(2);
    expect(await registry.getSingleMetricAsString("inferd_gateway_queue_size")).toMatch(/priority="100"} 0/);
    expect(await registry.getSingleMetricAsString("inferd_gateway_queue_wait_seconds")).toMatch(
      /inferd_gateway_queue_wait_seconds_count\{model="[^"]+",outcome="dispatched"} 1/,
    );
  });

  it("faults - queued requests leave by priority, and expire with 429 rejected-ttl-expired", async () => {
    const up = await fake("a");
    const hold = gate();
    up.behaviour.gate = hold.promise;
    const { app } = await build({
      endpoints: [endpointOf(up)],
      models: { [MODEL]: { maxConcurrencyPerEndpoint: 1, queueTtlMs: 10_000 } },
    });
    const first = app.inject(post({}, { "x-tag": "first" }));
    await waitFor(() => up.received.length === 1);
    const low = app.inject(post({}, { "x-tag": "low", "x-llm-d-inference-objective": "standard" }));
    await waitFor(() => app.flowControl.size(MODEL) === 1);
    const high = app.inject(post({}, { "x-tag": "high", "x-llm-d-inference-objective": "critical" }));
    await waitFor(() => app.flowControl.size(MODEL) === 2);
    hold.open();
    await Promise.all([first, low, high]);
    // The client's own header reached the model server (end-to-end headers pass through).
    expect(up.received.map((r) => r.headers["x-tag"])).toEqual(["first", "high", "low"]);

    const block = gate();
    up.behaviour.gate = block.promise;
    const { app: short } = await build({
      endpoints: [endpointOf(up)],
      models: { [MODEL]: { maxConcurrencyPerEndpoint: 1, queueTtlMs: 100 } },
    });
    const busy = short.inject(post());
    await waitFor(() => up.received.length === 4);
    const expired = await short.inject(post());
    expect(expired.statusCode).toBe(429);
    expect(expired.headers["x-llm-d-request-dropped-reason"]).toBe("rejected-ttl-expired");
    block.open();
    expect((await busy).statusCode).toBe(200);
  });

  it("faults - the scorer's SATURATED outcome queues until a later pick succeeds", async () => {
    const up = await fake("a");
    let calls = 0;
    const pick: PickFn = async (_req: PickRequest) => {
      calls++;
      if (calls < 3) return make(PickResponseSchema, { outcome: PickOutcome.SATURATED, message: "all busy" });
      return make(PickResponseSchema, {
        outcome: PickOutcome.OK,
        endpoints: [{ pod: up.pod, address: up.address }],
      });
    };
    const { app } = await build({ endpoints: [endpointOf(up)], pick, queueRetryIntervalMs: 20 });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(200);
    expect(calls).toBe(3);
    // A sheddable request is dropped at once when the scorer says saturated.
    calls = 0;
    const shed = await app.inject(post({}, { "x-llm-d-inference-objective": "batch" }));
    expect(shed.statusCode).toBe(429);
  });

  it("faults - the scorer's SLO_UNATTAINABLE is a 429 at once with x-llm-d-request-dropped-reason, never queued", async () => {
    let calls = 0;
    const pick: PickFn = async () => {
      calls++;
      return make(PickResponseSchema, {
        outcome: PickOutcome.SLO_UNATTAINABLE,
        message: "no endpoint can meet TTFT objective 5 ms",
      });
    };
    const { app, events } = await build({ models: { [MODEL]: {} }, pick, queueRetryIntervalMs: 20 });
    const res = await app.inject(
      post({}, { "x-request-id": "slo", "x-llm-d-inference-objective": "batch", "x-llm-d-slo-ttft-ms": "5" }),
    );
    expect(res.statusCode).toBe(429);
    expect(res.headers["x-llm-d-request-dropped-reason"]).toBe("rejected-slo-unattainable");
    expect(res.json().error.message).toMatch(/TTFT objective 5 ms/);
    expect(calls).toBe(1);
    expect(app.flowControl.size(MODEL)).toBe(0);
    expect(events.phases("slo")).toEqual([RequestPhase.ADMITTED, RequestPhase.FAILED]);
  });

  it("faults - scorer reports no endpoints: 503 without holding when holding is off", async () => {
    const pick: PickFn = async () =>
      make(PickResponseSchema, { outcome: PickOutcome.NO_ENDPOINTS, message: "pool empty" });
    const { app } = await build({ endpoints: [], pick, models: { [MODEL]: { noEndpointTtlMs: 0 } } });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toContain("pool empty");
    // An OK answer without endpoints means the same.
    const { app: empty } = await build({ models: { [MODEL]: { noEndpointTtlMs: 0 } }, pick: pickOk([]) });
    const res2 = await empty.inject(post());
    expect(res2.statusCode).toBe(503);
    expect(res2.headers["x-llm-d-request-dropped-reason"]).toBe("rejected-no-endpoints");
  });

  it("faults - a request finishing on the base model wakes a queued request for one of its adapters", async () => {
    const up = await fake("a");
    const hold = gate();
    up.behaviour.gate = hold.promise;
    const { app } = await build({
      endpoints: [endpointOf(up, { loraAdapters: ["sql-lora"] })],
      models: { [MODEL]: { maxConcurrencyPerEndpoint: 1 } },
      // No retry tick within the test: only the release can wake the adapter's request.
      queueRetryIntervalMs: 60_000,
    });
    const base = app.inject(post());
    await waitFor(() => up.received.length === 1);
    const adapter = app.inject(post({ model: "sql-lora" }));
    await waitFor(() => app.flowControl.size("sql-lora") === 1, { message: "adapter request queued" });
    hold.open();
    expect((await base).statusCode).toBe(200);
    const res = await adapter;
    expect(res.statusCode).toBe(200);
    expect(up.received[1]!.body.model).toBe("sql-lora");
  });

  it("faults - when every picked endpoint fails, the scorer is asked once more without them", async () => {
    const good = await fake("good");
    const dead = { pod: "dead", address: `http://127.0.0.1:${await freePort()}` };
    const asked: string[][] = [];
    const pick: PickFn = async (req) => {
      asked.push([...req.excludePods]);
      const eps = req.excludePods.includes("dead") ? [{ pod: good.pod, address: good.address }] : [dead];
      return make(PickResponseSchema, { outcome: PickOutcome.OK, endpoints: eps });
    };
    const { app } = await build({ models: { [MODEL]: {} }, pick });
    const res = await app.inject(post());
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("good");
    expect(asked).toEqual([[], ["dead"]]);
  });

  it("faults - an endpoint that refused a connection is tried last for a while", async () => {
    const good = await fake("good");
    const dead = {
      model: MODEL,
      pod: "dead",
      address: `http://127.0.0.1:${await freePort()}`,
      role: "both" as const,
      loraAdapters: [],
      ready: true,
      pool: "",
    };
    const { app, registry } = await build({ endpoints: [dead, endpointOf(good)] });
    for (let i = 0; i < 6; i++) {
      const res = await app.inject(post());
      expect(res.statusCode).toBe(200);
      expect(res.headers["x-inferd-endpoint"]).toBe("good");
    }
    // Least-loaded ties rotate, so without the down mark "dead" would be first every other time.
    expect(await registry.getSingleMetricAsString("inferd_gateway_upstream_attempts_total")).toMatch(
      /result="refused"} 1\n/,
    );
  });

  it("faults - a client leaving while queued leaves the queue and is recorded", async () => {
    const up = await fake("a");
    const hold = gate();
    up.behaviour.gate = hold.promise;
    const { app, url, events } = await build({
      endpoints: [endpointOf(up)],
      models: { [MODEL]: { maxConcurrencyPerEndpoint: 1, queueTtlMs: 20_000 } },
      listen: true,
    });
    const first = app.inject(post());
    await waitFor(() => up.received.length === 1);
    const abort = new AbortController();
    const queued = request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "leaver" },
      body: JSON.stringify(chatBody()),
      signal: abort.signal,
    }).catch((err: Error) => err);
    await waitFor(() => app.flowControl.size(MODEL) === 1, { message: "request queued" });
    abort.abort();
    expect(await queued).toBeInstanceOf(Error);
    await waitFor(() => app.flowControl.size(MODEL) === 0, { message: "queue emptied" });
    await waitFor(() => events.last("leaver")?.phase === RequestPhase.FAILED, {
      message: "failure recorded",
    });
    expect(events.last("leaver")!.errorCode).toBe("client_closed");
    hold.open();
    expect((await first).statusCode).toBe(200);
    expect(up.received).toHaveLength(1);
  });
});
