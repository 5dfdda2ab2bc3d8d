import { describe, expect, it } from "vitest";
import { hostPort, upstreamHeaders } from "../../src/domain/upstream-headers.ts";

describe("upstream-headers", () => {
  it("upstream-headers - end-to-end headers pass, hop-by-hop and rewritten ones do not", () => {
    const h = upstreamHeaders(
      {
        authorization: "Bearer user-key",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "vendor=1",
        "x-custom": "kept",
        "openai-organization": "org",
        connection: "keep-alive, x-private",
        "x-private": "only for this hop",
        "keep-alive": "timeout=5",
        "transfer-encoding": "chunked",
        upgrade: "h2c",
        te: "trailers",
        "proxy-authorization": "Basic x",
        host: "gateway:8080",
        "content-length": "42",
        "content-type": "application/json; charset=utf-8",
        "accept-encoding": "gzip",
        "x-request-id": "client-id",
        "x-prefiller-host-port": "evil:1",
      },
      { requestId: "internal", upstreamApiKey: "" },
    );
    expect(h).toEqual({
      authorization: "Bearer user-key",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "vendor=1",
      "x-custom": "kept",
      "openai-organization": "org",
      "content-type": "application/json",
      "x-request-id": "internal",
    });
  });

  it("upstream-headers - a pool's upstream key replaces the client's Authorization", () => {
    const h = upstreamHeaders(
      { authorization: "Bearer gateway-key" },
      { requestId: "r", upstreamApiKey: "vllm" },
    );
    expect(h.authorization).toBe("Bearer vllm");
  });

  it("upstream-headers - repeated headers are joined; x-prefiller-host-port only when asked", () => {
    const h = upstreamHeaders(
      { "x-list": ["a", "b"] },
      { requestId: "r", upstreamApiKey: "", prefillerHostPort: "10.0.0.7:8000" },
    );
    expect(h["x-list"]).toBe("a, b");
    expect(h["x-prefiller-host-port"]).toBe("10.0.0.7:8000");
  });

  it("upstream-headers - hostPort gives llm-d's host:port form", () => {
    expect(hostPort("http://10.0.0.7:8000/v1")).toBe("10.0.0.7:8000");
    expect(hostPort("https://pod.example")).toBe("pod.example:443");
    expect(hostPort("http://[::1]:9000")).toBe("[::1]:9000");
  });
});
