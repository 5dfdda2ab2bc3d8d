import { describe, expect, it } from "vitest";
import type { PdDecider, ProfileRunner } from "../../src/framework/plugin.ts";
import type { Endpoint } from "../../src/framework/types.ts";
import { AlwaysDisaggPdDecider, PrefixBasedPdDecider } from "../../src/plugins/pd/deciders.ts";
import { DisaggProfileHandler, disaggProfileHandlerFactory } from "../../src/plugins/pd/handler.ts";
import { cycle, ep, handle, params } from "../helpers.ts";

const runner: ProfileRunner = (profile, eps: readonly Endpoint[]) => {
  const role = profile === "prefill" ? "prefill" : "decode";
  const kept = eps.filter((e) => e.info.role === role || e.info.role === "both");
  return {
    profile,
    picked: kept.map((endpoint) => ({ endpoint, total: 1, scores: new Map() })),
    candidates: [],
    emptiedBy: kept.length === 0 ? `${role}-filter` : undefined,
  };
};

describe("prefix-based-pd-decider", () => {
  const d = new PrefixBasedPdDecider({ nonCachedTokens: 256, promptTokens: 0 });
  it("prefix-based-pd-decider - disaggregates only when the uncached part is long enough", () => {
    expect(d.disaggregate(cycle({ promptTokens: 1024, matches: { d: 0 } }), ep("d"))).toBe(true);
    // 960 of 1024 tokens cached on d -> 64 uncached < 256.
    expect(d.disaggregate(cycle({ promptTokens: 1024, matches: { d: 60 } }), ep("d"))).toBe(false);
  });
  it("prefix-based-pd-decider - nonCachedTokens 0 never disaggregates; promptTokens is a floor", () => {
    expect(
      new PrefixBasedPdDecider({ nonCachedTokens: 0, promptTokens: 0 }).disaggregate(
        cycle({ promptTokens: 9999 }),
        ep("d"),
      ),
    ).toBe(false);
    expect(
      new PrefixBasedPdDecider({ nonCachedTokens: 1, promptTokens: 2000 }).disaggregate(
        cycle({ promptTokens: 1999 }),
        ep("d"),
      ),
    ).toBe(false);
  });
});

describe("disagg-profile-handler", () => {
  const handler = (
    requirePrefill = true,
    decider: PdDecider = new PrefixBasedPdDecider({ nonCachedTokens: 256, promptTokens: 0 }),
  ) => {
    const h = new DisaggProfileHandler(
      { decodeProfile: "decode", prefillProfile: "prefill", decider, requirePrefill },
      handle(),
    );
    h.validate(["decode", "prefill"]);
    return h;
  };
  const eps = [ep("p1", { info: { role: "prefill" } }), ep("d1", { info: { role: "decode" } })];

  it("disagg-profile-handler - long uncached prompt gets a prefill endpoint", () => {
    const r = handler().run(cycle({ promptTokens: 4096 }), eps, runner);
    expect(r.primary.picked[0]?.endpoint.pod).toBe("d1");
    expect(r.prefill?.picked[0]?.endpoint.pod).toBe("p1");
    expect(r.refusal).toBeUndefined();
  });

  it("disagg-profile-handler - never prefills on the decode server itself", () => {
    const both = [ep("b1", { info: { role: "both" } }), ep("p1", { info: { role: "prefill" } })];
    const r = handler().run(cycle({ promptTokens: 4096 }), both, runner);
    expect(r.primary.picked[0]?.endpoint.pod).toBe("b1");
    expect(r.prefill?.picked.map((p) => p.endpoint.pod)).toEqual(["p1"]);
    const alone = handler().run(cycle({ promptTokens: 4096 }), [both[0]!], runner);
    expect(alone.prefill).toBeUndefined();
    expect(alone.refusal).toBeUndefined();
  });

  it("disagg-profile-handler - short prompt stays on decode only", () => {
    const r = handler().run(cycle({ promptTokens: 100 }), eps, runner);
    expect(r.prefill).toBeUndefined();
    expect(r.profiles.map((p) => p.profile)).toEqual(["decode"]);
  });

  it("disagg-profile-handler - P/D required but no prefill endpoint: refuses loudly", () => {
    const r = handler(true, new AlwaysDisaggPdDecider()).run(
      cycle({ promptTokens: 4096 }),
      [eps[1]!],
      runner,
    );
    expect(r.refusal?.outcome).toBe("PD_UNAVAILABLE");
    expect(r.refusal?.message).toMatch(/no prefill endpoint is ready \(all removed by prefill-filter\)/);
  });

  it("disagg-profile-handler - requirePrefill false serves decode-only with a note", () => {
    const c = cycle({ promptTokens: 4096 });
    const r = handler(false).run(c, [eps[1]!], runner);
    expect(r.refusal).toBeUndefined();
    expect(r.primary.picked[0]?.endpoint.pod).toBe("d1");
    expect(c.notes.join()).toMatch(/serving decode-only/);
  });

  it("disagg-profile-handler - factory requires a prefill decider and checks it exists", () => {
    expect(() =>
      disaggProfileHandlerFactory("h", params("disagg-profile-handler", {}, "h"), handle()),
    ).toThrow(/deciders: \{prefill/);
    const h = disaggProfileHandlerFactory(
      "h",
      params("disagg-profile-handler", { deciders: { prefill: "nope" } }, "h"),
      handle(),
    );
    expect(() => h.validate(["decode", "prefill"])).toThrow(/decider "nope" names no plugin/);
  });
});
