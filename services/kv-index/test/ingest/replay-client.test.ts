import { describe, expect, it } from "vitest";
import { connectableEndpoint, offsetEndpointPort } from "../../src/ingest/replay-client.ts";

describe("kv-index - replay endpoints", () => {
  it("offsets data-parallel ranks as vLLM does", () => {
    expect(offsetEndpointPort("tcp://10.0.0.7:5558", 0)).toBe("tcp://10.0.0.7:5558");
    expect(offsetEndpointPort("tcp://10.0.0.7:5558", 3)).toBe("tcp://10.0.0.7:5561");
    expect(offsetEndpointPort("tcp://*:5557", 1)).toBe("tcp://*:5558");
    expect(offsetEndpointPort("inproc://kv", 2)).toBe("inproc://kv_dp2");
  });

  it("turns a wildcard bind address into the server's host", () => {
    expect(connectableEndpoint("tcp://*:5557", "http://10.0.0.7:8000")).toBe("tcp://10.0.0.7:5557");
    expect(connectableEndpoint("tcp://0.0.0.0:5557", "http://pod-a.svc:8000")).toBe("tcp://pod-a.svc:5557");
    expect(connectableEndpoint("tcp://10.1.1.1:5557", "http://10.0.0.7:8000")).toBe("tcp://10.1.1.1:5557");
    expect(connectableEndpoint("tcp://*:5557", "not a url")).toBe("tcp://127.0.0.1:5557");
  });
});
