import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS, planSims, serviceEnv } from "../../src/up/stack-plan.ts";

describe("cli up - stack plan", () => {
  it("numbers simulators from the base ports", () => {
    expect(planSims({ sims: 2 }, DEFAULT_PORTS)).toEqual([
      {
        pod: "sim-8000",
        httpPort: 8000,
        eventsPort: 5557,
        address: "http://127.0.0.1:8000",
        kvEventsEndpoint: "tcp://127.0.0.1:5557",
      },
      {
        pod: "sim-8001",
        httpPort: 8001,
        eventsPort: 5558,
        address: "http://127.0.0.1:8001",
        kvEventsEndpoint: "tcp://127.0.0.1:5558",
      },
    ]);
  });

  it("points each service at the stack's NATS through its own variables", () => {
    expect(serviceEnv("kv-index", DEFAULT_PORTS, { INFERD_KV_INDEX_PORT: "9102" })).toEqual({
      INFERD_KV_INDEX_NATS_URL: "nats://127.0.0.1:4222",
      INFERD_KV_INDEX_PORT: "9102",
    });
  });
});
