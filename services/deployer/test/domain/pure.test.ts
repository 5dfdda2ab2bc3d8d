import { EndpointState } from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import { actuate } from "../../src/domain/actuation.ts";
import { restartDelayMs } from "../../src/domain/backoff.ts";
import { replicaToEndpoint } from "../../src/domain/endpoint.ts";
import { planInventory } from "../../src/domain/inventory-plan.ts";
import { clampReplicas, parsePools } from "../../src/domain/pools.ts";
import type { Replica } from "../../src/domain/replica.ts";
import { pickForRemoval } from "../../src/domain/scale-down.ts";
import { poolFromInferencePool } from "../../src/drivers/kubernetes/inference-pool.ts";
import { leaseAction } from "../../src/drivers/kubernetes/lease.ts";
import { podState, podToReplica } from "../../src/drivers/kubernetes/pod-replica.ts";
import {
  DEFAULT_KV_EVENTS_TOPIC,
  expandCommand,
  kvEventsConfig,
  VLLM_COMMAND,
} from "../../src/drivers/local/command-template.ts";
import { probeDue } from "../../src/drivers/local/probe-schedule.ts";

const replica = (pod: string, state: Replica["state"] = "ready"): Replica => ({
  pool: "p",
  model: "m",
  pod,
  address: `http://127.0.0.1:1/${pod}`,
  state,
  role: "both",
  loraAdapters: [],
  kvEventsEndpoint: "",
  kvReplayEndpoint: "",
  blockSize: 16,
  labels: {},
});

describe("deployer domain", () => {
  it("pools - defaults, bounds and one line per mistake", () => {
    expect(parsePools([{ name: "a", model: "m" }])[0]).toMatchObject({
      replicas: 1,
      minReplicas: 0,
      maxReplicas: 16,
      kind: "Deployment",
    });
    expect(parsePools([{ name: "a", model: "m", replicas: 9, maxReplicas: 3 }])[0]!.replicas).toBe(3);
    expect(() => parsePools([{ name: "A_b", model: "m" }])).toThrow(/pools\[0\]\.name/);
    expect(() =>
      parsePools([
        { name: "a", model: "m" },
        { name: "a", model: "m" },
      ]),
    ).toThrow(/twice/);
    expect(() => parsePools([{ name: "a", model: "m", minReplicas: 3, maxReplicas: 1 }])).toThrow(
      /maxReplicas < minReplicas/,
    );
    expect(clampReplicas(-2, { minReplicas: 1, maxReplicas: 4 })).toBe(1);
  });

  it("actuation - names the pool, falls back to the model's only pool, clamps, ignores the unknown", () => {
    const pools = [
      { name: "a", model: "m", minReplicas: 1, maxReplicas: 4 },
      { name: "b", model: "n", minReplicas: 0, maxReplicas: 2 },
      { name: "c", model: "n", minReplicas: 0, maxReplicas: 2 },
    ];
    const cur = (p: string) => (p === "a" ? 2 : 0);
    expect(actuate({ model: "m", pool: "a", desiredReplicas: 9 }, pools, cur)).toEqual({
      kind: "scale",
      pool: "a",
      from: 2,
      to: 4,
      clamped: true,
    });
    expect(actuate({ model: "m", pool: "default", desiredReplicas: 3 }, pools, cur)).toMatchObject({
      kind: "scale",
      pool: "a",
      to: 3,
    });
    expect(actuate({ model: "m", pool: "a", desiredReplicas: 2 }, pools, cur)).toEqual({
      kind: "unchanged",
      pool: "a",
      replicas: 2,
    });
    expect(actuate({ model: "n", pool: "x", desiredReplicas: 1 }, pools, cur).kind).toBe("ignored");
    expect(actuate({ model: "z", pool: "a", desiredReplicas: 1 }, pools, cur).kind).toBe("ignored");
  });

  it("inventory - ready only in the ready state; writes only what changed; deletes only its own", () => {
    const ep = replicaToEndpoint(replica("x", "draining"), "t");
    expect(ep.ready).toBe(false);
    expect(ep.state).toBe(EndpointState.DRAINING);
    expect(replicaToEndpoint(replica("x"), "t").ready).toBe(true);
    const first = planInventory(new Map(), [replica("a"), replica("b")]);
    expect(first.puts.map((r) => r.pod)).toEqual(["a", "b"]);
    const written = new Map(
      first.puts.map((r) => [
        `m\u0000${r.pod}`,
        {
          model: "m",
          pod: r.pod,
          fingerprint: JSON.stringify([
            "p",
            r.address,
            r.state,
            r.role,
            r.loraAdapters,
            r.kvEventsEndpoint,
            r.kvReplayEndpoint,
            r.blockSize,
            r.labels,
          ]),
        },
      ]),
    );
    const next = planInventory(written, [replica("a", "draining")]);
    expect(next.puts.map((r) => r.pod)).toEqual(["a"]);
    expect(next.deletes).toEqual([{ model: "m", pod: "b" }]);
  });

  it("scale-down - starting and unhealthy first, then the newest ready; draining ones do not count", () => {
    const rs = [
      { id: 1, state: "ready" as const, startedAt: 1 },
      { id: 2, state: "ready" as const, startedAt: 3 },
      { id: 3, state: "starting" as const, startedAt: 2 },
      { id: 4, state: "draining" as const, startedAt: 4 },
    ];
    expect(pickForRemoval(rs, 1).map((r) => r.id)).toEqual([3, 2]);
    expect(pickForRemoval(rs, 3)).toEqual([]);
  });

  it("backoff - doubles and caps", () => {
    expect([1, 2, 3, 10].map((n) => restartDelayMs(n, 100, 1000))).toEqual([100, 200, 400, 1000]);
  });

  it("command template - fills placeholders, refuses unknown ones", () => {
    const v = {
      model: "m",
      pool: "p",
      pod: "p-1",
      port: 1,
      kvEventsPort: 2,
      kvReplayPort: 3,
      kvEventsConfig: "{}",
    };
    expect(expandCommand(VLLM_COMMAND, v)).toEqual([
      "vllm",
      "serve",
      "m",
      "--port",
      "1",
      "--kv-events-config",
      "{}",
    ]);
    expect(() => expandCommand(["--x", "{nope}"], v)).toThrow(/unknown placeholder \{nope\}/);
  });

  it("kv-events config - llm-d's topic by default, the configured one (vLLM's default \"\" included) otherwise", () => {
    expect(JSON.parse(kvEventsConfig(2, 3))).toEqual({
      enable_kv_cache_events: true,
      publisher: "zmq",
      endpoint: "tcp://*:2",
      replay_endpoint: "tcp://*:3",
      topic: "kv@{pod}@{model}",
    });
    expect(DEFAULT_KV_EVENTS_TOPIC).toBe("kv@{pod}@{model}");
    expect(JSON.parse(kvEventsConfig(2, 3, "")).topic).toBe("");
    expect(JSON.parse(kvEventsConfig(2, 3, "kv/x")).topic).toBe("kv/x");
  });

  it("lease - create, renew own, take expired or free, else wait", () => {
    const now = 100_000;
    expect(leaseAction(undefined, "me", now)).toBe("create");
    expect(leaseAction({ holderIdentity: "me" }, "me", now)).toBe("renew");
    expect(leaseAction({ holderIdentity: "" }, "me", now)).toBe("take");
    expect(
      leaseAction(
        { holderIdentity: "x", renewTime: new Date(now - 20_000), leaseDurationSeconds: 15 },
        "me",
        now,
      ),
    ).toBe("take");
    expect(
      leaseAction(
        { holderIdentity: "x", renewTime: new Date(now - 5_000), leaseDurationSeconds: 15 },
        "me",
        now,
      ),
    ).toBe("wait");
  });

  it("pods - state, role label, LoRA annotation, LWS leaders only", () => {
    const pool = {
      name: "p",
      model: "m",
      selector: { app: "x" },
      port: 8000,
      workload: undefined,
      minReplicas: 0,
      maxReplicas: 2,
      source: "config" as const,
    };
    const pod = {
      metadata: {
        name: "p-1",
        labels: { app: "x", "llm-d.ai/role": "decode" },
        annotations: { "inferd.io/lora-adapters": "a, b", "inferd.io/kv-events-port": "5557" },
      },
      status: { phase: "Running", podIP: "10.244.0.5", conditions: [{ type: "Ready", status: "True" }] },
    };
    expect(podToReplica(pod, pool)).toMatchObject({
      address: "http://10.244.0.5:8000",
      state: "ready",
      role: "decode",
      loraAdapters: ["a", "b"],
      kvEventsEndpoint: "tcp://10.244.0.5:5557",
    });
    expect(podState({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } })).toBe(
      "draining",
    );
    expect(podState({ status: { phase: "Pending" } })).toBe("starting");
    expect(
      podState({
        status: {
          phase: "Running",
          containerStatuses: [
            { name: "c", image: "i", imageID: "", containerID: "", ready: false, restartCount: 2 },
          ],
        },
      }),
    ).toBe("unhealthy");
    expect(
      podToReplica(
        {
          ...pod,
          metadata: {
            ...pod.metadata,
            labels: { ...pod.metadata.labels, "leaderworkerset.sigs.k8s.io/worker-index": "1" },
          },
        },
        pool,
      ),
    ).toBeUndefined();
  });

  it("InferencePool - selector, target port, model and scale-target annotations", () => {
    const bounds = { minReplicas: 0, maxReplicas: 4 };
    const p = poolFromInferencePool(
      {
        metadata: {
          name: "qwen",
          annotations: {
            "inferd.io/model": "Qwen/Qwen3-32B",
            "inferd.io/scale-target": "LeaderWorkerSet/qwen-lws",
          },
        },
        spec: { selector: { matchLabels: { app: "vllm" } }, targetPorts: [{ number: 8000 }] },
      },
      bounds,
    );
    expect(p).toMatchObject({
      name: "qwen",
      model: "Qwen/Qwen3-32B",
      port: 8000,
      workload: { kind: "LeaderWorkerSet", name: "qwen-lws" },
    });
    expect(
      poolFromInferencePool({ metadata: { name: "x" }, spec: { targetPorts: [{ number: 1 }] } }, bounds),
    ).toMatch(/empty selector/);
  });
});

describe("probeDue (local driver's /health schedule)", () => {
  const intervals = { intervalMs: 100, readyIntervalMs: 1_000 };
  it("probes a starting server every interval", () => {
    expect(probeDue({ state: "starting", failedProbes: 0, probedAt: 0 }, 1_000_000, intervals)).toBe(true);
    expect(probeDue({ state: "starting", failedProbes: 0, probedAt: 1_000 }, 1_095, intervals)).toBe(true);
    expect(probeDue({ state: "starting", failedProbes: 0, probedAt: 1_000 }, 1_020, intervals)).toBe(false);
  });
  it("probes a ready server that passed its last probe only at the ready interval", () => {
    const ready = { state: "ready", failedProbes: 0, probedAt: 1_000 };
    expect(probeDue(ready, 1_100, intervals)).toBe(false);
    expect(probeDue(ready, 1_900, intervals)).toBe(false);
    // Due on the round nearest its time, not one round late because of timer jitter.
    expect(probeDue(ready, 1_960, intervals)).toBe(true);
  });
  it("re-probes a ready server fast after a failed probe, and an unhealthy one every interval", () => {
    expect(probeDue({ state: "ready", failedProbes: 1, probedAt: 1_000 }, 1_100, intervals)).toBe(true);
    expect(probeDue({ state: "unhealthy", failedProbes: 2, probedAt: 1_000 }, 1_100, intervals)).toBe(true);
  });
  it("never probes a ready server more slowly than it probes a starting one", () => {
    const fast = { intervalMs: 500, readyIntervalMs: 100 };
    expect(probeDue({ state: "ready", failedProbes: 0, probedAt: 1_000 }, 1_260, fast)).toBe(true);
  });
});
