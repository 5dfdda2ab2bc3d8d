import { make, PickOutcome, PickResponseSchema, RequestPhase } from "@inferd/protocol";
import { request } from "undici";
import { describe, expect, it, onTestFinished } from "vitest";
import { PREFILL_KV_TRANSFER_PARAMS } from "../../src/domain/openai-body.ts";
import type { PickFn } from "../../src/options.ts";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream.ts";
import { build, chatBody, MODEL } from "../helper.ts";

async function fake(pod: string): Promise<FakeUpstream> {
  const f = await startFakeUpstream(pod);
  onTestFinished(() => f.close());
  return f;
}

function pdPick(prefill: FakeUpstream, decode: FakeUpstream): PickFn {
  return async () =>
    make(PickResponseSchema, {
      outcome: PickOutcome.OK,
      endpoints: [{ pod: decode.pod, address: decode.address }],
      prefill: { pod: prefill.pod, address: prefill.address },
      profile: "prefill,decode",
    });
}

describe("prefill-decode", () => {
  it("prefill-decode - NixlConnector two-leg protocol: prefill leg, then decode with the params verbatim", async () => {
    const p = await fake("prefill-0");
    const d = await fake("decode-0");
    const { url, events } = await build({ models: { [MODEL]: {} }, pick: pdPick(p, d), listen: true });
    const original = chatBody({ stream: true, max_tokens: 3, temperature: 0 });
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "pd-1" },
      body: JSON.stringify(original),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-inferd-endpoint"]).toBe("decode-0");
    const id = res.headers["x-inferd-request-id"];
    const text = await res.body.text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);

    // Prefill leg: same request id, one token, no stream, no stream_options, do_remote_decode.
    expect(p.received).toHaveLength(1);
    const leg1 = p.received[0]!;
    expect(leg1.headers["x-request-id"]).toBe(id);
    const { stream_options: _drop, ...withoutOptions } = original as Record<string, unknown>;
    expect(leg1.body).toEqual({
      ...withoutOptions,
      stream: false,
      max_tokens: 1,
      kv_transfer_params: { ...PREFILL_KV_TRANSFER_PARAMS },
    });

    // Decode leg: original stream and limits, plus the prefill's params verbatim (unknown keys kept).
    expect(d.received).toHaveLength(1);
    const leg2 = d.received[0]!;
    expect(leg2.headers["x-request-id"]).toBe(id);
    expect(leg2.headers["x-prefiller-host-port"]).toBeUndefined();
    expect(leg2.body.stream).toBe(true);
    expect(leg2.body.max_tokens).toBe(3);
    expect(leg2.body.kv_transfer_params).toEqual({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [[1, 2, 3]],
      remote_engine_id: "engine-prefill-0",
      remote_request_id: id,
      remote_host: "127.0.0.1",
      remote_port: 5600,
      tp_size: 1,
      extra_key_kept: { nested: true },
    });
    // ROUTED (decode and prefill pod) goes out before the prefill leg, not after it.
    const routed = events.of("pd-1").find((e) => e.phase === RequestPhase.ROUTED)!;
    expect(routed).toMatchObject({ endpoint: "decode-0", prefillEndpoint: "prefill-0" });
    expect(events.requests.indexOf(routed)).toBeLessThan(
      events.requests.findIndex((e) => e.phase === RequestPhase.FIRST_TOKEN),
    );
    expect(events.last("pd-1")).toMatchObject({
      phase: RequestPhase.COMPLETED,
      endpoint: "decode-0",
      prefillEndpoint: "prefill-0",
    });
  });

  it("prefill-decode - a failed prefill leg falls back to aggregated serving on the decode endpoint", async () => {
    const p = await fake("prefill-0");
    p.behaviour.status = 500;
    const d = await fake("decode-0");
    const { app, registry, events } = await build({ models: { [MODEL]: {} }, pick: pdPick(p, d) });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "pd-2" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(200);
    expect(d.received[0]!.body.kv_transfer_params).toBeUndefined();
    expect(events.last("pd-2")!.prefillEndpoint).toBe("");
    // Routed with its prefill pod at once, then moved to aggregated serving when that leg failed.
    const routed = events.of("pd-2").filter((e) => e.phase === RequestPhase.ROUTED);
    expect(routed.map((e) => [e.endpoint, e.prefillEndpoint])).toEqual([
      ["decode-0", "prefill-0"],
      ["decode-0", ""],
    ]);
    expect(await registry.getSingleMetricAsString("inferd_gateway_pd_prefill_failures_total")).toMatch(/} 1/);
  });

  it("prefill-decode - with llm-d's decode sidecar the gateway sends x-prefiller-host-port and runs no prefill leg", async () => {
    const p = await fake("prefill-0");
    const d = await fake("decode-0");
    const { app, events } = await build({ models: { [MODEL]: { pdLegs: "sidecar" } }, pick: pdPick(p, d) });
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "x-request-id": "pd-3" },
      payload: chatBody(),
    });
    expect(res.statusCode).toBe(200);
    expect(p.received).toHaveLength(0);
    expect(d.received[0]!.headers["x-prefiller-host-port"]).toBe(`127.0.0.1:${p.port}`);
    expect(d.received[0]!.body.kv_transfer_params).toBeUndefined();
    expect(events.last("pd-3")).toMatchObject({ endpoint: "decode-0", prefillEndpoint: "prefill-0" });
  });

  it("prefill-decode - the scorer's PD_UNAVAILABLE is a 503, never a silent aggregated run", async () => {
    const pick: PickFn = async () =>
      make(PickResponseSchema, { outcome: PickOutcome.PD_UNAVAILABLE, message: "no prefill pod ready" });
    const { app } = await build({ models: { [MODEL]: {} }, pick });
    const res = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody() });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("pd_unavailable");
  });
});
