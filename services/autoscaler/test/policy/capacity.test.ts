import { describe, expect, it } from "vitest";
import { CapacityModel } from "../../src/policy/capacity.ts";
import { RateForecast } from "../../src/policy/forecast.ts";

describe("autoscaler - capacity model", () => {
  it("knows nothing without a prior or observations", () => {
    expect(new CapacityModel({ priorRps: 0 }).estimate()).toBeUndefined();
    expect(new CapacityModel({ priorRps: 2 }).estimate()).toBe(2);
  });

  it("finds where the SLO ratio crosses 1 between the loads that met and missed it", () => {
    const m = new CapacityModel({ priorRps: 0 });
    // A replica that holds the SLO up to ~3 req/s: ratio = load / 3.
    for (const load of [0.5, 1, 1.5, 2, 2.5, 2.8, 3.4, 4]) m.observe(load, load / 3);
    const est = m.estimate()!;
    expect(est).toBeGreaterThan(2.6);
    expect(est).toBeLessThan(3.4);
  });

  it("explores upwards while no load has missed the SLO", () => {
    const m = new CapacityModel({ priorRps: 0 });
    m.observe(1, 0.3);
    expect(m.estimate()!).toBeGreaterThan(1);
  });

  it("lets the latest evidence win over a stale miss", () => {
    const m = new CapacityModel({ priorRps: 0 });
    m.observe(1, 1.5); // a transient: missed at low load
    expect(m.estimate()!).toBeLessThan(1);
    m.observe(2, 0.6); // later met at twice the load
    expect(m.estimate()!).toBeGreaterThan(2);
  });
});

describe("autoscaler - rate forecast", () => {
  it("follows a ramp and projects it ahead", () => {
    const f = new RateForecast();
    for (let t = 0; t <= 600; t++) f.observe(t * 1000, 1 + t * 0.01); // +0.01 req/s per second
    expect(f.trend).toBeGreaterThan(0.008);
    expect(f.at(60)).toBeGreaterThan(7 + 0.4);
  });

  it("is flat on a flat rate", () => {
    const f = new RateForecast();
    for (let t = 0; t <= 300; t++) f.observe(t * 1000, 4);
    expect(f.at(60)).toBeCloseTo(4, 1);
  });
});
