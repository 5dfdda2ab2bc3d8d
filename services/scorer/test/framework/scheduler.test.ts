import { describe, expect, it } from "vitest";
import type { Filter, Scorer } from "../../src/framework/plugin.ts";
import { Scheduler, type SchedulerConfig } from "../../src/framework/scheduler.ts";
import type { Endpoint } from "../../src/framework/types.ts";
import { MaxScorePicker } from "../../src/plugins/max-score/picker.ts";
import { SingleProfileHandler } from "../../src/plugins/single-profile/handler.ts";
import { cycle, ep } from "../helpers.ts";

const fixed = (name: string, scores: Record<string, number>): Scorer => ({
  type: "fixed",
  name,
  score: (_c, eps) => new Map(eps.filter((e) => e.pod in scores).map((e) => [e.pod, scores[e.pod]!])),
});
const keep = (name: string, pods: string[], soft = false): Filter => ({
  type: "keep",
  name,
  soft,
  filter: (_c, eps) => eps.filter((e) => pods.includes(e.pod)),
});

function scheduler(filters: Filter[], scorers: { scorer: Scorer; weight: number }[]): Scheduler {
  const handler = new SingleProfileHandler();
  handler.validate(["default"]);
  const config: SchedulerConfig = {
    profiles: new Map([["default", { name: "default", filters, scorers, picker: new MaxScorePicker() }]]),
    handler,
    producers: [],
    observers: [],
    saturation: undefined,
    plugins: [...filters, ...scorers.map((s) => s.scorer)],
    warnings: [],
  };
  return new Scheduler(config);
}

const eps: Endpoint[] = ["a", "b", "c"].map((p) => ep(p));

describe("scheduler", () => {
  it("scheduler - weighted totals over the sum of weights; unscored contributes nothing; scores clamped", () => {
    const s = scheduler(
      [],
      [
        { scorer: fixed("x", { a: 1, b: 0.5, c: 7 }), weight: 3 },
        { scorer: fixed("y", { a: 0, b: 1 }), weight: 1 },
      ],
    );
    const r = s.schedule(cycle(), eps);
    const totals = Object.fromEntries(r.primary.picked.map((p) => [p.endpoint.pod, p.total]));
    expect(totals).toEqual({ a: 0.75, b: 0.625, c: 0.75 });
    expect(r.primary.candidates.find((c) => c.pod === "c")?.scores).toEqual(new Map([["x", 1]]));
  });

  it("scheduler - a hard filter removing everything empties the profile and is named", () => {
    const r = scheduler([keep("none", [])], []).schedule(cycle(), eps);
    expect(r.primary.picked).toEqual([]);
    expect(r.primary.emptiedBy).toBe("none");
    expect(r.primary.candidates.every((c) => c.filteredBy === "none")).toBe(true);
  });

  it("scheduler - endpoints a soft filter set aside follow the picked ones, unless a later hard filter drops them", () => {
    const s = scheduler(
      [keep("prefer-a", ["a"], true), keep("not-c", ["a", "b"])],
      [{ scorer: fixed("x", { a: 0.1, b: 1, c: 1 }), weight: 1 }],
    );
    const r = s.schedule(cycle(), eps);
    expect(r.primary.picked.map((p) => p.endpoint.pod)).toEqual(["a", "b"]);
    expect(r.primary.candidates.find((c) => c.pod === "b")?.filteredBy).toBe("prefer-a");
  });
});
