import { describe, expect, it } from "vitest";
import { parseBenchArgs } from "../lib/args.ts";
import type { FleetObservation } from "../lib/fleet.ts";
import { makePolicy } from "../lib/policies.ts";
import { runOne } from "../lib/run.ts";
import { arrivals, makeTrace } from "../lib/traces.ts";

const ctx = {
  slo: { ttftSeconds: 2, itlSeconds: 0.1, percentile: 0.99 },
  maxReplicas: 10,
  startupSeconds: 60,
  staticReplicas: 3,
  scaleToZero: false,
};

const obs = (replicas: { kvUsage: number; waiting: number }[], nowMs = 600_000): FleetObservation => ({
  nowMs,
  ready: replicas.length,
  starting: 0,
  held: 0,
  replicas: replicas.map((r) => ({ ...r, running: 0 })),
});

describe("bench autoscale - traces", () => {
  it("bursts x4 within 30 s and is seeded", () => {
    const t = makeTrace("burst", 16, 1);
    expect(t.rate(t.burstAtS! - 1)).toBe(4);
    expect(t.rate(t.burstAtS! + 30)).toBe(16);
    expect(arrivals(t, 1)).toEqual(arrivals(t, 1));
    expect(arrivals(t, 1).length).not.toBe(arrivals(t, 2).length);
  });

  it("has an idle stretch with no arrival", () => {
    const t = makeTrace("idle", 16, 1);
    expect(t.rate(t.durationS / 2)).toBe(0);
    expect(t.scaleToZero).toBe(true);
  });
});

describe("bench autoscale - baselines", () => {
  it("hpa-kv: desired = ceil(total KV use / 0.8), no change inside the 10% tolerance", () => {
    const hpa = makePolicy("hpa-kv", ctx);
    expect(
      hpa.decide(
        obs([
          { kvUsage: 0.8, waiting: 0 },
          { kvUsage: 0.82, waiting: 0 },
        ]),
      ),
    ).toBeUndefined();
    expect(
      hpa.decide(
        obs([
          { kvUsage: 1, waiting: 0 },
          { kvUsage: 1, waiting: 0 },
        ]),
      ),
    ).toBe(3);
  });

  it("keda-queue: desired = ceil(waiting / 5)", () => {
    const keda = makePolicy("keda-queue", ctx);
    expect(
      keda.decide(
        obs([
          { kvUsage: 0.5, waiting: 12 },
          { kvUsage: 0.5, waiting: 11 },
        ]),
      ),
    ).toBe(5);
  });

  it("wva-saturation: +1 when spare KV runs out, nothing while a replica starts", () => {
    const wva = makePolicy("wva-saturation", ctx);
    expect(
      wva.decide(
        obs([
          { kvUsage: 0.75, waiting: 0 },
          { kvUsage: 0.75, waiting: 0 },
        ]),
      ),
    ).toBe(3);
    expect(wva.decide({ ...obs([{ kvUsage: 0.9, waiting: 9 }]), starting: 1 })).toBeUndefined();
  });
});

describe("bench autoscale - a run", () => {
  it("meets the SLO with enough static replicas and reports replica-hours", () => {
    const trace = { name: "flat", durationS: 120, peakRps: 2, rate: () => 2 };
    const r = runOne(
      trace,
      "static-peak",
      { ...ctx, staticReplicas: 2 },
      {
        profile: "qwen3-32b-h100-tp2",
        seed: 1,
        holdSeconds: 60,
        initialReplicas: 2,
      },
    );
    expect(r.requests).toBeGreaterThan(150);
    expect(r.sloAttainment).toBe(1);
    // Two replicas for 120 s plus the drain.
    expect(r.replicaHours).toBeGreaterThanOrEqual((2 * 120) / 3600);
    expect(r.scalingActions).toBe(0);
  });

  it("parses --quick and --json", () => {
    const a = parseBenchArgs(["--quick", "--json", "out.json", "--policies", "inferd,hpa-kv"]);
    expect(a).toMatchObject({
      quick: true,
      peak: 16,
      json: "out.json",
      policies: ["inferd", "hpa-kv"],
      sweep: [],
    });
    expect(() => parseBenchArgs(["--traces", "weekly"])).toThrow(/--traces: unknown weekly/);
  });
});
