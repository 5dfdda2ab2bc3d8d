import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createScorerCore, type ScorerCore } from "../../src/core.ts";
import type { KvLookupFn } from "../../src/framework/handle.ts";
import type { PickInput } from "../../src/pick/pick-service.ts";
import { info, metrics } from "../helpers.ts";

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

function input(over: Partial<PickInput> = {}): PickInput {
  return {
    requestId: `r${Math.random()}`,
    model: "m",
    prompt: { kind: "tokens", ids: range(4096) },
    sessionId: "",
    priority: 0,
    sloTtftMs: undefined,
    sloTpotMs: undefined,
    maxTokens: 0,
    excludePods: [],
    cacheSalt: "",
    ...over,
  };
}

/** A kv-index stand-in for unit tests: pods hold the whole prompt once they were sent it. */
function cacheModel(sharedTokens: number): { lookup: KvLookupFn; holds: Map<string, Set<number>> } {
  const holds = new Map<string, Set<number>>();
  const lookup: KvLookupFn = async (q) => {
    const tokens = Array.from(q.tokens ?? []);
    const key = tokens[0] ?? -1;
    const total = Math.floor(tokens.length / 16);
    const shared = Math.floor(sharedTokens / 16);
    return {
      totalBlocks: total,
      blockSize: 16,
      promptTokens: tokens.length,
      pods: q.candidatePods
        .filter((p) => holds.get(p)?.has(key))
        .map((pod) => ({ pod, gpuBlocks: shared, cpuBlocks: shared, matchedBlocks: shared })),
    };
  };
  return { lookup, holds };
}

function core(opts: Partial<Parameters<typeof createScorerCore>[0]> = {}): ScorerCore {
  let t = 1_000;
  return createScorerCore({
    policy: { kind: "builtin", name: "default" },
    ttftPrior: { overheadMs: 20, prefillTokensPerSecond: 10_000 },
    now: () => t++,
    random: () => 0.5,
    ...opts,
  });
}

describe("pick service", () => {
  it("pick - sticky until saturated: a shared long prefix stays on its holder, then spills to the next", async () => {
    // 4096 shared tokens (a system prompt / document) + 512 tokens unique to each request.
    const { lookup, holds } = cacheModel(4096);
    const c = core({ kvLookup: lookup });
    for (const p of ["a", "b", "c"]) c.endpoints.upsert(info(p));
    const chosen: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await c.picks.pick(
        input({ prompt: { kind: "tokens", ids: [...range(4096, 7), ...range(512, 100_000 * (i + 1))] } }),
      );
      expect(r.outcome).toBe("OK");
      const pod = r.endpoints[0]!.pod;
      chosen.push(pod);
      if (!holds.has(pod)) holds.set(pod, new Set());
      holds.get(pod)!.add(7);
    }
    // The first request lands somewhere; the next ones stick there while its prefill queue is short.
    // Prior: 20 ms + 0.1 ms per token (uncached or queued). A cold server: 20 + 460.8 = 480.8 ms.
    // The holder's queue is 4608 (first request) + 512 per later one, and request k adds 512 itself:
    // 20 + 0.1 * (512 + 4608 + 512 * (k - 2)) exceeds 480.8 + 250 first for k = 6 (index 5).
    const first = chosen[0]!;
    const spilled = chosen.findIndex((p) => p !== first);
    expect(spilled).toBe(5);
    expect(chosen.slice(0, 5)).toEqual(Array(5).fill(first));
    // After spilling, the new holder becomes sticky in turn.
    expect(chosen[8]).toBe(chosen[7]);
  });

  it("pick - answers the full fallback order with per-plugin scores for every candidate", async () => {
    const c = core();
    for (const p of ["a", "b", "c"]) c.endpoints.upsert(info(p));
    const r = await c.picks.pick(input());
    expect(r.endpoints.map((e) => e.pod).sort()).toEqual(["a", "b", "c"]);
    expect(r.endpoints[0]!.address).toMatch(/^http:\/\//);
    expect(r.candidates).toHaveLength(3);
    expect([...r.candidates[0]!.scores.keys()].sort()).toEqual([
      "predicted-ttft-scorer",
      "token-load-scorer",
    ]);
    expect(r.profile).toBe("default");
    expect(r.promptTokens).toBe(4096);
  });

  it("pick - NO_ENDPOINTS for an unknown model, unready servers or all excluded", async () => {
    const c = core();
    c.endpoints.upsert(info("a", { ready: false }));
    c.endpoints.upsert(info("b"));
    expect((await c.picks.pick(input({ model: "zzz" }))).outcome).toBe("NO_ENDPOINTS");
    const r = await c.picks.pick(input({ excludePods: ["b"] }));
    expect(r.outcome).toBe("NO_ENDPOINTS");
    expect(r.message).toMatch(/none of the 2 endpoints/);
  });

  it("pick - fail open: servers whose scrape fails are skipped unless all fail", async () => {
    const c = core();
    c.endpoints.upsert(info("a"));
    c.endpoints.upsert(info("b"));
    c.load.scrapeFailed("a");
    expect((await c.picks.pick(input())).endpoints.map((e) => e.pod)).toEqual(["b"]);
    c.load.scrapeFailed("b");
    const r = await c.picks.pick(input());
    expect(r.endpoints).toHaveLength(2);
    expect(r.outcome).toBe("OK");
    expect(r.message).toMatch(/metrics unreachable on every endpoint/);
  });

  it("pick - SATURATED when every endpoint is over the utilization thresholds, endpoints still listed", async () => {
    const c = core();
    for (const p of ["a", "b"]) {
      c.endpoints.upsert(info(p));
      c.load.scraped(p, metrics({ waiting: 9, scrapedAtMs: 1_000 }));
    }
    const r = await c.picks.pick(input());
    expect(r.outcome).toBe("SATURATED");
    expect(r.endpoints).toHaveLength(2);
    c.load.scraped("b", metrics({ waiting: 0, scrapedAtMs: 1_000 }));
    expect((await c.picks.pick(input())).outcome).toBe("OK");
  });

  it("pick - an unattainable x-llm-d-slo-ttft-ms: best-effort OK, SLO_UNATTAINABLE (nothing recorded) when sheddable", async () => {
    const decisions: string[] = [];
    const c = core({ onDecision: (d) => decisions.push(d.requestId) });
    c.endpoints.upsert(info("a"));
    const served = await c.picks.pick(input({ requestId: "served", sloTtftMs: 1 }));
    expect(served.outcome).toBe("OK");
    expect(served.endpoints.map((e) => e.pod)).toEqual(["a"]);
    expect(served.message).toMatch(/no endpoint can meet TTFT objective 1 ms.*best-effort/);
    const shed = await c.picks.pick(
      input({ requestId: "shed", sloTtftMs: 1, priority: -1, sessionId: "s-shed" }),
    );
    expect(shed.outcome).toBe("SLO_UNATTAINABLE");
    expect(shed.endpoints).toEqual([]);
    expect(decisions).toEqual(["served"]);
    expect(c.inflight.load("a").requests).toBe(1);
    expect((await c.picks.pick(input({ sloTtftMs: 10_000 }))).outcome).toBe("OK");
  });

  it("pick - a SATURATED answer is not recorded: no speculative load, session binding, approximate index or peer decision", async () => {
    const decisions: string[] = [];
    const c = core({ onDecision: (d) => decisions.push(d.requestId) });
    c.endpoints.upsert(info("a"));
    c.load.scraped("a", metrics({ waiting: 9, scrapedAtMs: 1_000 }));
    const r = await c.picks.pick(input({ requestId: "sat", sessionId: "s1" }));
    expect(r.outcome).toBe("SATURATED");
    expect(decisions).toEqual([]);
    expect(c.inflight.load("a")).toEqual({ requests: 0, tokens: 0, prefillTokens: 0 });
    expect(c.sessions.get("s1", 2_000, 60_000)).toBeUndefined();
  });

  it("pick - P/D: long prompts get a prefill endpoint; without prefill servers the pick fails loudly", async () => {
    const text = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefill-filter
- type: decode-filter
- type: queue-scorer
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 1024}
- type: disagg-profile-handler
  parameters: {deciders: {prefill: prefix-based-pd-decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: queue-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: queue-scorer}]
`;
    const c = core({ policy: { kind: "config", text, source: "pd.yaml" } });
    c.endpoints.upsert(info("d1", { role: "decode" }));
    c.endpoints.upsert(info("p1", { role: "prefill" }));
    const long = await c.picks.pick(input());
    expect(long.outcome).toBe("OK");
    expect(long.endpoints[0]?.pod).toBe("d1");
    expect(long.prefill?.pod).toBe("p1");
    expect(long.profile).toBe("decode,prefill");
    const short = await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(100) } }));
    expect(short.prefill).toBeUndefined();

    c.endpoints.remove("m", "p1");
    const refused = await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(4096, 50_000) } }));
    expect(refused.outcome).toBe("PD_UNAVAILABLE");
    expect(refused.endpoints).toEqual([]);
    expect(refused.message).toMatch(/no prefill endpoint is ready/);
  });

  it("pick - built-in pd profile: prefill server for long uncached prompts, PD_UNAVAILABLE without one", async () => {
    const c = core({ policy: { kind: "builtin", name: "pd" } });
    c.endpoints.upsert(info("d1", { role: "decode" }));
    c.endpoints.upsert(info("p1", { role: "prefill" }));
    const r = await c.picks.pick(input());
    expect([r.outcome, r.endpoints[0]?.pod, r.prefill?.pod]).toEqual(["OK", "d1", "p1"]);
    const short = await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(500, 9_000) } }));
    expect(short.prefill).toBeUndefined();
    c.endpoints.upsert(info("p1", { role: "prefill", ready: false }));
    const refused = await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(4096, 20_000) } }));
    expect(refused.outcome).toBe("PD_UNAVAILABLE");
  });

  it("pick - llm-d's own pd-epp-config routes P/D and refuses loudly without prefill servers", async () => {
    const text = readFileSync(
      new URL("../fixtures/llm-d/router-pd-epp-config.yaml", import.meta.url),
      "utf8",
    );
    const c = core({ policy: { kind: "config", text, source: "router-pd-epp-config.yaml" } });
    c.endpoints.upsert(info("d1", { role: "decode" }));
    c.endpoints.upsert(info("d2", { role: "decode" }));
    c.endpoints.upsert(info("p1", { role: "prefill" }));
    const r = await c.picks.pick(input());
    expect(r.outcome).toBe("OK");
    expect(r.prefill?.pod).toBe("p1");
    expect(["d1", "d2"]).toContain(r.endpoints[0]?.pod);
    // The approximate producer remembers where the prompt went: the repeat goes to the same decode server.
    const again = await c.picks.pick(input());
    expect(again.endpoints[0]?.pod).toBe(r.endpoints[0]?.pod);
    expect(
      again.candidates.find((x) => x.pod === r.endpoints[0]?.pod)?.scores.get("prefix-cache-scorer"),
    ).toBe(1);
    c.endpoints.remove("m", "p1");
    const refused = await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(2048, 70_000) } }));
    expect(refused.outcome).toBe("PD_UNAVAILABLE");
  });

  it("pick - lifecycle events from another replica's picks are counted (shared view)", async () => {
    const c = core();
    c.endpoints.upsert(info("a"));
    c.endpoints.upsert(info("b"));
    c.applyEvent({
      requestId: "elsewhere",
      phase: "routed",
      baseModel: "m",
      endpoint: "a",
      prefillEndpoint: "",
      sessionId: "s9",
      promptTokens: 100_000,
      cachedTokens: 0,
      ttftSeconds: 0,
      queueSeconds: 0,
    });
    expect(c.inflight.load("a").tokens).toBe(100_000);
    expect(c.sessions.get("s9", 1_100, 60_000)).toBe("a");
    const r = await c.picks.pick(input());
    expect(r.endpoints[0]?.pod).toBe("b");
  });

  it("pick - session affinity keeps a session on its server when load allows", async () => {
    const c = core();
    for (const p of ["a", "b", "c"]) c.endpoints.upsert(info(p));
    const first = await c.picks.pick(input({ sessionId: "s1", prompt: { kind: "tokens", ids: range(64) } }));
    for (let i = 0; i < 3; i++) {
      const r = await c.picks.pick(
        input({ sessionId: "s1", prompt: { kind: "tokens", ids: range(64, 1000 * i) } }),
      );
      expect(r.endpoints[0]?.pod).toBe(first.endpoints[0]?.pod);
    }
  });

  it("pick - LoRA adapter requests only go to servers that list the adapter", async () => {
    const c = core();
    c.endpoints.upsert(info("a", { loraAdapters: ["sql"] }));
    c.endpoints.upsert(info("b"));
    const r = await c.picks.pick(input({ model: "sql" }));
    expect(r.endpoints.map((e) => e.pod)).toEqual(["a"]);
  });

  it("pick - built-in random and round-robin policies spread requests", async () => {
    for (const name of ["random", "round-robin", "least-load", "approx-prefix"]) {
      const c = createScorerCore({ policy: { kind: "builtin", name } });
      for (const p of ["a", "b", "c"]) c.endpoints.upsert(info(p));
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++)
        seen.add(
          (await c.picks.pick(input({ prompt: { kind: "tokens", ids: range(64, i * 100) } }))).endpoints[0]!
            .pod,
        );
      expect(seen.size, name).toBeGreaterThan(1);
    }
  });
});
