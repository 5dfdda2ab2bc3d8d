import {
  EndpointRole,
  EndpointSchema,
  make,
  PickOutcome,
  PickRequestSchema,
  RequestEventSchema,
  RequestPhase,
} from "@inferd/protocol";
import { describe, expect, it } from "vitest";
import {
  endpointInfoFromMsg,
  kvLookupRequestOf,
  lifecycleFromMsg,
  pickInputFromMsg,
  pickResponseToMsg,
} from "../../src/adapters/convert.ts";
import { parseStaticEndpoints } from "../../src/adapters/endpoint-source.ts";
import { validateConfigFile } from "../../src/validate.ts";
import { writeTemp } from "./helpers.ts";

describe("wire conversions", () => {
  it("convert - Endpoint message to inventory entry", () => {
    const info = endpointInfoFromMsg(
      make(EndpointSchema, {
        model: "m",
        pod: "p",
        address: "http://h:8000/",
        role: EndpointRole.PREFILL,
        ready: true,
      }),
    );
    expect(info).toMatchObject({ address: "http://h:8000", role: "prefill", publishesKvEvents: false });
  });

  it("convert - PickRequest chat prompt and SLO headers", () => {
    const input = pickInputFromMsg(
      make(PickRequestSchema, {
        requestId: "r",
        model: "m",
        prompt: { case: "chat", value: { messages: [{ role: "user", content: "hi" }] } },
        sloTtftMs: 500,
      }),
    );
    expect(input.prompt).toEqual({
      kind: "chat",
      messages: [{ role: "user", content: "hi" }],
      addGenerationPrompt: true,
      request: {
        messages: [{ role: "user", content: "hi" }],
        addGenerationPrompt: true,
        continueFinalMessage: false,
        tools: null,
        chatTemplateKwargs: null,
        documents: null,
      },
    });
    expect(input.sloTtftMs).toBe(500);
    expect(input.sloTpotMs).toBeUndefined();
  });

  it("convert - the whole chat request reaches the template: tools, kwargs, message extras", () => {
    const call = { id: "c1", type: "function", function: { name: "f", arguments: "{}" } };
    const chat = {
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: "", extraJson: JSON.stringify({ tool_calls: [call] }) },
      ],
      addGenerationPrompt: false,
      continueFinalMessage: true,
      toolsJson: JSON.stringify([{ type: "function", function: { name: "f" } }]),
      chatTemplateKwargsJson: JSON.stringify({ enable_thinking: false }),
    };
    const input = pickInputFromMsg(
      make(PickRequestSchema, { requestId: "r", model: "m", prompt: { case: "chat", value: chat } }),
    );
    const p = input.prompt;
    if (p.kind !== "chat") throw new Error("chat expected");
    expect(p.request?.messages[1]).toEqual({ role: "assistant", content: "", tool_calls: [call] });
    expect(p.request?.tools).toEqual([{ type: "function", function: { name: "f" } }]);
    expect(p.request?.chatTemplateKwargs).toEqual({ enable_thinking: false });
    expect(p.request?.continueFinalMessage).toBe(true);
    expect(p.request?.addGenerationPrompt).toBe(false);
    const bad = pickInputFromMsg(
      make(PickRequestSchema, {
        requestId: "r",
        model: "m",
        prompt: { case: "chat", value: { messages: [{ role: "user", content: "q" }], toolsJson: "{nope" } },
      }),
    );
    expect(bad.prompt.kind === "chat" && bad.prompt.requestError).toMatch(/tools_json: not JSON/);
  });

  it("convert - PickResult to PickResponse with prefill and scores", () => {
    const msg = pickResponseToMsg({
      outcome: "OK",
      message: "",
      endpoints: [{ pod: "d", address: "http://d", score: 0.9, cachedTokens: 64 }],
      prefill: { pod: "p", address: "http://p", score: 0.5, cachedTokens: 0 },
      candidates: [{ pod: "d", scores: new Map([["queue-scorer", 1]]), total: 0.9, filteredBy: "" }],
      profile: "decode,prefill",
      promptTokens: 100,
      seconds: 0.001,
      prefixHitRatio: 0,
    });
    expect(msg.outcome).toBe(PickOutcome.OK);
    expect(msg.prefill?.pod).toBe("p");
    expect(msg.candidates[0]?.scores).toEqual({ "queue-scorer": 1 });
  });

  it("convert - omitCandidates leaves the candidates out and keeps the rest", () => {
    const result = {
      outcome: "OK" as const,
      message: "",
      endpoints: [{ pod: "d", address: "http://d", score: 0.9, cachedTokens: 64 }],
      prefill: undefined,
      candidates: [{ pod: "d", scores: new Map([["queue-scorer", 1]]), total: 0.9, filteredBy: "" }],
      profile: "default",
      promptTokens: 100,
      seconds: 0.001,
      prefixHitRatio: 0,
    };
    const full = pickResponseToMsg(result);
    const lean = pickResponseToMsg(result, { omitCandidates: true });
    expect(full.candidates).toHaveLength(1);
    expect(lean.candidates).toEqual([]);
    expect({ ...lean, candidates: full.candidates }).toEqual(full);
  });

  it("convert - RequestEvent to lifecycle event; unknown phases dropped", () => {
    const ev = lifecycleFromMsg(
      make(RequestEventSchema, {
        requestId: "r",
        phase: RequestPhase.ROUTED,
        model: "lora",
        baseModel: "",
        endpoint: "e",
      }),
    );
    expect(ev).toMatchObject({ phase: "routed", baseModel: "lora", endpoint: "e" });
    expect(lifecycleFromMsg(make(RequestEventSchema, { requestId: "r" }))).toBeUndefined();
  });

  it("convert - kv lookup request carries token ids when the scorer tokenised", () => {
    const req = kvLookupRequestOf({
      model: "m",
      lora: "sql",
      tokens: new Uint32Array([1, 2]),
      prompt: { kind: "text", text: "x" },
      candidatePods: ["a"],
      cacheSalt: "s",
    });
    expect(req.prompt).toMatchObject({ case: "tokens", value: { ids: [1, 2] } });
    expect(req.loraName).toBe("sql");
    const text = kvLookupRequestOf({
      model: "m",
      lora: undefined,
      tokens: undefined,
      prompt: { kind: "text", text: "x" },
      candidatePods: [],
      cacheSalt: "",
    });
    expect(text.prompt).toEqual({ case: "text", value: "x" });
  });
});

describe("static endpoint list", () => {
  it("static endpoints - parses entries with defaults", () => {
    const list = parseStaticEndpoints(
      "endpoints:\n- {model: m, pod: a, address: 'http://10.0.0.1:8000/', role: decode, loraAdapters: [x], kvEvents: true}\n",
      "f.yaml",
    );
    expect(list[0]).toMatchObject({
      address: "http://10.0.0.1:8000",
      role: "decode",
      ready: true,
      publishesKvEvents: true,
    });
  });
  it("static endpoints - bad entries are errors naming the entry", () => {
    expect(() =>
      parseStaticEndpoints("endpoints:\n- {model: m, pod: a, address: '10.0.0.1'}\n", "f.yaml"),
    ).toThrow(/f.yaml: endpoints\[0\]: address must start with http/);
    expect(() =>
      parseStaticEndpoints("endpoints:\n- {model: m, pod: a, address: 'http://x', role: boss}\n", "f.yaml"),
    ).toThrow(/role/);
    expect(() => parseStaticEndpoints("nothing: here\n", "f.yaml")).toThrow(/expected a list/);
  });
});

describe("validateConfigFile", () => {
  it("validate - picker config file, service config file and missing file", async () => {
    const picker = writeTemp(
      "epp.yaml",
      "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n",
    );
    expect(await validateConfigFile(picker)).toMatchObject({ ok: true });
    const service = writeTemp("scorer.yaml", `profile: least-load\n`);
    const r = await validateConfigFile(service);
    expect(r.ok).toBe(true);
    expect(r.text).toContain('built-in profile "least-load"');
    const bad = writeTemp("scorer.yaml", `profile: fastest\n`);
    expect((await validateConfigFile(bad)).ok).toBe(false);
    expect((await validateConfigFile("/nonexistent.yaml")).text).toMatch(/cannot read/);
  });
});
