import { describe, expect, it, onTestFinished } from "vitest";
import { startFakeUpstream } from "../../fake-upstream.ts";
import { build, chatBody, endpointOf, MODEL } from "../../helper.ts";

describe("ops", () => {
  it("ops - healthz, readyz and metrics under inferd and llm-d names", async () => {
    const up = await startFakeUpstream("a");
    onTestFinished(() => up.close());
    const { app } = await build({ endpoints: [endpointOf(up)] });
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody() });
    await app.inject({ method: "POST", url: "/v1/chat/completions", payload: chatBody({ model: "nope" }) });
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    const m = MODEL.replace("/", "\\/");
    expect(text).toMatch(new RegExp(`inferd_gateway_requests_total\\{model="${m}",outcome="ok"\\} 1`));
    expect(text).toMatch(/inferd_gateway_requests_total\{model="",outcome="model_not_found"\} 1/);
    expect(text).toMatch(
      new RegExp(`llm_d_epp_request_total\\{model_name="${m}",target_model_name="${m}"\\} 1`),
    );
    expect(text).toMatch(/inferd_gateway_added_latency_seconds_count\{model="[^"]+"\} 1/);
    expect(text).toMatch(/llm_d_epp_request_input_tokens_sum\{[^}]*\} 7/);
    expect(text).toMatch(/inferd_gateway_ttft_seconds_count\{model="[^"]+",streaming="false"\} 1/);
    expect(text).toContain("inferd_gateway_in_flight_requests");
  });
});
