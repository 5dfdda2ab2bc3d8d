import { describe, expect, it } from "vitest";
import { PoolController, type PoolSnapshot } from "../../src/policy/controller.ts";
import { POOL_DEFAULTS, type PoolPolicy } from "../../src/policy/pool-policy.ts";

const policy = (over: Partial<PoolPolicy> = {}): PoolPolicy => ({
  ...POOL_DEFAULTS,
  model: "m",
  pool: "p",
  ...over,
});

const snap = (nowMs: number, ready: number, over: Partial<PoolSnapshot> = {}): PoolSnapshot => ({
  nowMs,
  ready,
  starting: 0,
  heldRequests: 0,
  ...over,
});

const carry = new WeakMap<PoolController, number>();

/**
 * Feeds `rps` arrivals per second for [from, to) s (evenly spaced, the fraction carried to the
 * next call) and finished requests with the given latency.
 */
function traffic(c: PoolController, fromS: number, toS: number, rps: number, ttft: number, itl = 0.02): void {
  let due = (carry.get(c) ?? 0) + (toS - fromS) * rps;
  const n = Math.floor(due);
  due -= n;
  carry.set(c, due);
  for (let i = 0; i < n; i++) {
    const t = fromS * 1000 + ((i + 0.5) * (toS - fromS) * 1000) / n;
    c.arrival(t);
    c.finished({ atMs: t, ttftSeconds: ttft, itlSeconds: itl, failed: false });
  }
}

describe("autoscaler - pool controller", () => {
  it("answers held requests for a pool at zero with 0 -> N at once", () => {
    const c = new PoolController(policy({ minReplicas: 0, scaleToZero: true, fromZeroReplicas: 2 }));
    const r = c.tick(snap(1000, 0, { heldRequests: 3 }));
    expect(r.action?.desired).toBe(2);
    expect(r.action?.current).toBe(0);
    expect(r.action?.reason).toMatch(/scale from zero 0 -> 2: 3 request\(s\) held by gateways/);
  });

  it("does not repeat a scale from zero while the replicas asked for are not in the inventory yet", () => {
    const c = new PoolController(policy({ minReplicas: 0, scaleToZero: true }));
    expect(c.tick(snap(0, 0, { heldRequests: 1 })).action?.desired).toBe(1);
    const r = c.tick(snap(1000, 0, { heldRequests: 2 }));
    expect(r.action).toBeUndefined();
    expect(r.held).toMatch(/waiting for the last action \(1 replicas\) to show up/);
  });

  it("keeps one action in flight: no new decision until the replicas asked for are ready", () => {
    const c = new PoolController(policy({ minReplicas: 0, scaleToZero: true, fromZeroReplicas: 2 }));
    expect(c.tick(snap(0, 0, { heldRequests: 1 })).action?.desired).toBe(2);
    traffic(c, 0, 40, 20, 9); // far over the SLO
    const r = c.tick(snap(40_000, 1, { starting: 1 }));
    expect(r.action).toBeUndefined();
    expect(r.held).toMatch(/waiting for the last action \(2 replicas\)/);
  });

  it("scales up at once when the SLO percentile is breached, and says which target", () => {
    const c = new PoolController(policy({ minReplicas: 1 }));
    c.tick(snap(0, 2));
    traffic(c, 0, 40, 10, 3.1);
    const r = c.tick(snap(40_000, 2));
    expect(r.action?.desired).toBeGreaterThan(2);
    expect(r.action?.reason).toMatch(/^scale up 2 -> \d+: TTFT p90 3.1 s over the 2 s target/);
  });

  it("scales down only after the stabilisation window, one step at a time, with a cooldown", () => {
    const p = policy({
      minReplicas: 1,
      initialCapacityRps: 10,
      scaleDownStabilizationSeconds: 60,
      scaleDownMaxStep: 1,
      scaleDownCooldownSeconds: 30,
    });
    const c = new PoolController(p);
    // 1 req/s needs 1 replica at 10 req/s each, but 4 are running.
    let t = 0;
    const downs: { at: number; to: number }[] = [];
    for (; t <= 200; t++) {
      traffic(c, t, t + 1, 1, 0.2);
      const ready = downs.length ? downs[downs.length - 1]!.to : 4;
      const r = c.tick(snap(t * 1000 + 999, ready));
      if (r.action) downs.push({ at: t, to: r.action.desired });
    }
    expect(downs[0]!.at).toBeGreaterThanOrEqual(59);
    expect(downs.map((d) => d.to)).toEqual([3, 2, 1]);
    expect(downs[1]!.at - downs[0]!.at).toBeGreaterThanOrEqual(30);
  });

  it("limits a scale-up to the step size and caps at maxReplicas", () => {
    const c = new PoolController(policy({ initialCapacityRps: 1, scaleUpMaxStep: 2, maxReplicas: 5 }));
    traffic(c, 0, 10, 20, 0.1);
    const r = c.tick(snap(10_000, 1));
    expect(r.action?.desired).toBe(3);
    expect(r.action?.reason).toMatch(/step limited to \+2/);
  });

  it("plans for the forecast: a ramp gets replicas before the SLO breaks", () => {
    const c = new PoolController(policy({ initialCapacityRps: 2, startupSeconds: 60 }));
    let first: number | undefined;
    let ready = 1;
    for (let t = 0; t < 300; t++) {
      const rps = 0.5 + t * 0.01; // +0.6 req/s per minute
      traffic(c, t, t + 1, rps, 0.3);
      const r = c.tick(snap(t * 1000 + 999, ready));
      if (r.action) {
        first ??= t;
        ready = r.action.desired;
        expect(r.action.reason).toMatch(/forecast/);
      }
    }
    // 1 replica holds 1.6 req/s (2 x 0.8); the rate gets there at t = 110 s; the forecast acts first.
    expect(first).toBeDefined();
    expect(first!).toBeLessThan(110);
  });

  it("sizes a scale-up during a surge by the arrival slope, not by the lagging average", () => {
    const c = new PoolController(
      policy({ initialCapacityRps: 2, startupSeconds: 60, maxReplicas: 20, scaleUpMaxStep: 20 }),
    );
    for (let t = 0; t < 60; t++) {
      traffic(c, t, t + 1, 2, 0.3);
      expect(c.tick(snap(t * 1000 + 999, 2)).action).toBeUndefined();
    }
    // x4 within 30 s: 15 s into it the rate is 5 req/s and rising 0.2 req/s per second.
    for (let t = 60; t < 75; t++) traffic(c, t, t + 1, 2 + ((t - 60) * 6) / 30, 0.3);
    const r = c.tick(snap(75_000, 2));
    expect(r.action?.reason, r.held).toMatch(/surging from/);
    // The 10 s average (~4.5 req/s) asks for 3 replicas at 1.6 req/s each; the projection for more.
    expect(r.action!.desired).toBeGreaterThanOrEqual(5);
  });

  it("scales to zero after the idle time only when enabled", () => {
    const on = new PoolController(policy({ minReplicas: 0, scaleToZero: true, idleSeconds: 60 }));
    const off = new PoolController(policy({ idleSeconds: 60 }));
    for (const c of [on, off]) traffic(c, 0, 5, 2, 0.2);
    expect(on.tick(snap(30_000, 1)).action).toBeUndefined();
    const r = on.tick(snap(66_000, 1));
    expect(r.action?.desired).toBe(0);
    expect(r.action?.reason).toMatch(/no request for \d+ s \(idle limit 60 s\)/);
    expect(off.tick(snap(30_000, 1)).action).toBeUndefined();
    expect(off.tick(snap(66_000, 1)).action).toBeUndefined();
    expect(off.tick(snap(600_000, 1)).action).toBeUndefined();
  });

  it("raises a pool below minReplicas", () => {
    const c = new PoolController(policy({ minReplicas: 2 }));
    const r = c.tick(snap(0, 1));
    expect(r.action?.desired).toBe(2);
    expect(r.action?.reason).toMatch(/minReplicas is 2/);
  });
});
