import { describe, expect, it } from "vitest";
import {
  DEFAULT_PORTS,
  deployerEnv,
  gatewayScorerEnv,
  planSims,
  serviceEnv,
  serviceProcesses,
} from "../../src/up/stack-plan.ts";

describe("cli up - stack plan", () => {
  it("numbers simulators from the base ports", () => {
    const sims = planSims({ sims: 2 }, DEFAULT_PORTS);
    expect(sims[1]).toEqual({
      pod: "sim-8001",
      httpPort: 8001,
      eventsPort: 5558,
      replayPort: 6558,
      address: "http://127.0.0.1:8001",
      kvEventsEndpoint: "tcp://127.0.0.1:5558",
      kvReplayEndpoint: "tcp://127.0.0.1:6558",
    });
    expect(sims.map((s) => s.pod)).toEqual(["sim-8000", "sim-8001"]);
  });

  it("points each service at the stack's NATS through its own variables", () => {
    expect(serviceEnv("kv-index", DEFAULT_PORTS, { INFERD_KV_INDEX_HTTP_PORT: "9102" })).toEqual({
      INFERD_KV_INDEX_NATS_URL: "nats://127.0.0.1:4222",
      INFERD_KV_INDEX_HTTP_PORT: "9102",
    });
  });

  it("gives the deployer a record of its servers in the stack's state directory (adopted after a restart)", () => {
    const env = deployerEnv(
      { sims: 2, model: "m", profile: "tiny-fast", kvEventsEncoding: "map", stateDir: "/tmp/stack" },
      DEFAULT_PORTS,
    );
    expect(env.INFERD_DEPLOYER_STATE_DIR).toBe("/tmp/stack/deployer");
    expect(JSON.parse(env.INFERD_DEPLOYER_POOLS!)[0]).toMatchObject({ name: "default", replicas: 2 });
    expect(env.INFERD_DEPLOYER_KV_EVENTS_TOPIC).toBe("kv@{pod}@{model}");
  });

  it('passes the KV-event topic to the deployer, vLLM\'s default "" included', () => {
    const env = deployerEnv(
      { sims: 1, model: "m", profile: "p", kvEventsEncoding: "map", kvEventsTopic: "", stateDir: "/tmp/s" },
      DEFAULT_PORTS,
    );
    expect(env.INFERD_DEPLOYER_KV_EVENTS_TOPIC).toBe("");
  });

  it("with the scorer embedded starts no scorer process and gives the gateway the scorer's keys", () => {
    const services = ["kv-index", "scorer", "gateway", "autoscaler"];
    expect(serviceProcesses({ services, scorerMode: "embedded" })).toEqual([
      "kv-index",
      "gateway",
      "autoscaler",
    ]);
    expect(serviceProcesses({ services, scorerMode: "nats" })).toEqual(services);
    expect(serviceProcesses({ services })).toEqual(services);
    const scorerEnv = { INFERD_SCORER_OPS_PORT: "9101", INFERD_SCORER_REDIS_URL: "redis://127.0.0.1:6379" };
    expect(gatewayScorerEnv({ scorerMode: "embedded" }, scorerEnv)).toEqual({
      INFERD_GATEWAY_SCORER_MODE: "embedded",
      INFERD_SCORER_REDIS_URL: "redis://127.0.0.1:6379",
    });
    expect(gatewayScorerEnv({ scorerMode: "nats" }, scorerEnv)).toEqual({});
  });
});
