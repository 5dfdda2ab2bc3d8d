import { describe, expect, it } from "vitest";
import { LoraAffinityScorer } from "../../src/plugins/lora-affinity/scorer.ts";
import {
  podOfToken,
  SessionAffinityScorer,
  sessionAffinityScorerFactory,
} from "../../src/plugins/session-affinity/scorer.ts";
import { SessionStore } from "../../src/state/sessions.ts";
import { cycle, ep, handle, params } from "../helpers.ts";

describe("lora-affinity-scorer", () => {
  const lora = { request: { model: "sql", lora: "sql" } };
  it("lora-affinity-scorer - running 1, free slot 0.8, waiting 0.6, full 0", () => {
    const s = new LoraAffinityScorer().score(cycle(lora), [
      ep("running", { metrics: { runningLoras: ["sql"], maxLora: 2 } }),
      ep("slot", { metrics: { runningLoras: ["x"], maxLora: 2 } }),
      ep("waiting", { metrics: { runningLoras: ["x"], waitingLoras: ["sql"], maxLora: 2 } }),
      ep("full", { metrics: { runningLoras: ["x", "y"], maxLora: 2 } }),
    ]);
    expect(Object.fromEntries(s)).toEqual({ running: 1, slot: 0.8, waiting: 0.6, full: 0 });
  });
  it("lora-affinity-scorer - without LoRA metrics, listed adapters score 0.8, others unscored", () => {
    const s = new LoraAffinityScorer().score(cycle(lora), [
      ep("listed", { info: { loraAdapters: ["sql"] } }),
      ep("other"),
    ]);
    expect(Object.fromEntries(s)).toEqual({ listed: 0.8 });
  });
  it("lora-affinity-scorer - base-model requests get no preference", () => {
    expect(
      new LoraAffinityScorer().score(cycle(), [ep("a", { metrics: { runningLoras: ["sql"] } })]).size,
    ).toBe(0);
  });
});

describe("session-affinity-scorer", () => {
  it("session-affinity-scorer - bound pod scores 1, others 0; unbound no preference", () => {
    const sessions = new SessionStore();
    sessions.bind("s1", "b", 900);
    const scorer = new SessionAffinityScorer(sessions, 60_000);
    const eps = [ep("a"), ep("b")];
    expect(Object.fromEntries(scorer.score(cycle({ request: { sessionId: "s1" } }), eps))).toEqual({
      a: 0,
      b: 1,
    });
    expect(scorer.score(cycle({ request: { sessionId: "s2" } }), eps).size).toBe(0);
    expect(scorer.score(cycle(), eps).size).toBe(0);
  });
  it("session-affinity-scorer - expired binding and absent pod give no preference", () => {
    const sessions = new SessionStore();
    sessions.bind("old", "a", 0);
    sessions.bind("gone", "z", 900);
    const scorer = sessionAffinityScorerFactory(
      "sa",
      params("session-affinity-scorer", { evictionTtlSeconds: 0.5 }, "sa"),
      handle({ sessions }),
    );
    expect(scorer.score(cycle({ request: { sessionId: "old" } }), [ep("a")]).size).toBe(0);
    expect(scorer.score(cycle({ request: { sessionId: "gone" } }), [ep("a")]).size).toBe(0);
  });
  it("session-affinity-scorer - an llm-d x-session-token (base64 of pod or namespace/pod) names its pod", () => {
    const scorer = new SessionAffinityScorer(new SessionStore(), 60_000);
    const eps = [ep("a"), ep("b")];
    const token = (s: string) => Buffer.from(s).toString("base64");
    for (const t of [token("b"), token("default/b")])
      expect(Object.fromEntries(scorer.score(cycle({ request: { sessionId: t } }), eps))).toEqual({
        a: 0,
        b: 1,
      });
    expect(scorer.score(cycle({ request: { sessionId: token("zz") } }), eps).size).toBe(0);
    expect(podOfToken("not base64!", eps)).toBeUndefined();
  });
});
