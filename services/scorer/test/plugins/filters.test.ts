import { describe, expect, it } from "vitest";
import { AFFINITY_BROKEN, PrefixCacheAffinityFilter } from "../../src/plugins/prefix-affinity/filter.ts";
import { RoleFilter } from "../../src/plugins/role/filters.ts";
import { SloTtftFilter } from "../../src/plugins/slo-ttft/filter.ts";
import { cycle, ep, linearTtft } from "../helpers.ts";

const pods = (eps: readonly { pod: string }[]): string[] => eps.map((e) => e.pod);

describe("decode-filter / prefill-filter", () => {
  const eps = [
    ep("p", { info: { role: "prefill" } }),
    ep("d", { info: { role: "decode" } }),
    ep("b", { info: { role: "both" } }),
  ];
  it("decode-filter - keeps decode and both", () => {
    expect(pods(new RoleFilter("decode").filter(cycle(), eps))).toEqual(["d", "b"]);
  });
  it("prefill-filter - keeps prefill and both", () => {
    expect(pods(new RoleFilter("prefill").filter(cycle(), eps))).toEqual(["p", "b"]);
  });
});

describe("prefix-cache-affinity-filter", () => {
  const make = (over: Partial<ConstructorParameters<typeof PrefixCacheAffinityFilter>[0]> = {}) =>
    new PrefixCacheAffinityFilter(
      {
        affinityThreshold: 0.8,
        explorationProbability: 0,
        maxTTFTPenaltyMs: 100,
        ttftSource: "latencyPredictor",
        peakPrefillThroughput: 1000,
        ...over,
      },
      linearTtft,
    );
  // 1600-token prompt = 100 blocks; "hot" holds 90 of them.
  const opts = { promptTokens: 1600, matches: { hot: 90, warm: 50 } };

  it("prefix-cache-affinity-filter - keeps only sticky endpoints while they are not saturated", () => {
    const c = cycle(opts);
    expect(
      pods(make().filter(c, [ep("hot", { inflight: { prefillTokens: 2000 } }), ep("warm"), ep("cold")])),
    ).toEqual(["hot"]);
    expect(c.get(AFFINITY_BROKEN)).toBeUndefined();
  });

  it("prefix-cache-affinity-filter - breaks stickiness when the sticky TTFT exceeds the best other by the margin", () => {
    // hot: 10 + (160 + 20000)/100 = 211.6 ms; cold: 10 + 1600/100 = 26 ms -> 185 ms worse > 100 ms.
    const c = cycle(opts);
    const eps = [ep("hot", { inflight: { prefillTokens: 20_000 } }), ep("warm"), ep("cold")];
    expect(pods(make().filter(c, eps))).toEqual(["hot", "warm", "cold"]);
    expect(c.get(AFFINITY_BROKEN)).toBe(true);
  });

  it("prefix-cache-affinity-filter - maxTTFTPenaltyMs 0 always sticks; no sticky endpoint keeps all", () => {
    const eps = [ep("hot", { inflight: { prefillTokens: 1e9 } }), ep("cold")];
    expect(pods(make({ maxTTFTPenaltyMs: 0 }).filter(cycle(opts), eps))).toEqual(["hot"]);
    expect(pods(make().filter(cycle({ promptTokens: 1600, matches: {} }), eps))).toEqual(["hot", "cold"]);
  });

  it("prefix-cache-affinity-filter - prefillThroughput source uses in-flight tokens / peak throughput", () => {
    // peak 1000 tok/s: hot (160 + 2000) -> 2160 ms, cold 1600 -> 1600 ms: 560 ms worse.
    const eps = [ep("hot", { inflight: { prefillTokens: 2000 } }), ep("cold")];
    expect(
      pods(make({ ttftSource: "prefillThroughput", maxTTFTPenaltyMs: 600 }).filter(cycle(opts), eps)),
    ).toEqual(["hot"]);
    expect(
      pods(make({ ttftSource: "prefillThroughput", maxTTFTPenaltyMs: 500 }).filter(cycle(opts), eps)),
    ).toEqual(["hot", "cold"]);
  });

  it("prefix-cache-affinity-filter - exploration skips the gate", () => {
    const c = cycle({ ...opts, random: () => 0.01 });
    expect(pods(make({ explorationProbability: 0.05 }).filter(c, [ep("hot"), ep("cold")]))).toEqual([
      "hot",
      "cold",
    ]);
  });
});

describe("slo-ttft-filter", () => {
  const eps = [ep("fast"), ep("slow", { inflight: { prefillTokens: 10_000 } })];
  const slo = (ms: number | undefined) => cycle({ promptTokens: 1000, request: { sloTtftMs: ms } });

  it("slo-ttft-filter - keeps endpoints predicted within the objective", () => {
    // fast: 10 + 10 = 20 ms; slow: 10 + 110 = 120 ms.
    const f = new SloTtftFilter(linearTtft, { onUnattainable: "best-effort", headroom: 0 });
    expect(pods(f.filter(slo(50), eps))).toEqual(["fast"]);
    expect(pods(f.filter(slo(undefined), eps))).toEqual(["fast", "slow"]);
  });

  it("slo-ttft-filter - best-effort serves a request whose objective is unattainable, unless it is sheddable; reject keeps none", () => {
    const c = slo(5);
    const bestEffort = new SloTtftFilter(linearTtft, { onUnattainable: "best-effort", headroom: 0 });
    expect(pods(bestEffort.filter(c, eps))).toEqual(["fast", "slow"]);
    expect(c.flags).toEqual([]);
    expect(c.notes.join()).toMatch(/best predicted 20 ms.*served best-effort/);
    const sheddable = cycle({ promptTokens: 1000, request: { sloTtftMs: 5, priority: -1 } });
    expect(bestEffort.filter(sheddable, eps)).toEqual([]);
    expect(
      new SloTtftFilter(linearTtft, { onUnattainable: "reject", headroom: 0 }).filter(slo(5), eps),
    ).toEqual([]);
  });

  it("slo-ttft-filter - headroom keeps a reserve", () => {
    const f = new SloTtftFilter(linearTtft, { onUnattainable: "reject", headroom: 0.5 });
    expect(f.filter(slo(30), eps)).toEqual([]);
  });
});
